import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type NatsServerHandle, startNatsServer } from './nats.ts';
import { type PostgresHandle, startPostgres } from './postgres.ts';
import { type S3ServerHandle, startS3Server } from './s3-server.ts';
import { type Supervisor, type SupervisorOptions, superviseHandles } from './supervisor.ts';

export interface StackOptions {
  /** Everything the stack keeps (JetStream store, Postgres cluster, lake, S3 data) lives here. */
  dataDir: string;
  /** Adopt this Postgres instead of starting the embedded one. */
  externalPgUrl?: string;
  /** Which object store backs the lake: a local directory (default) or a local S3 server. */
  objectStore?: 'fs' | 's3';
  s3Bucket?: string;
  log?: (msg: string) => void;
  /**
   * Restart nats-server and the embedded Postgres when they die (same port and data, back-off,
   * logged through `log`); `npm run stack` turns it on. The S3 server runs inside this process.
   */
  supervise?: boolean | SupervisorOptions;
}

export type StackObjectStore =
  | { backend: 'fs'; root: string }
  | {
      backend: 's3';
      endpoint: string;
      bucket: string;
      region: string;
      accessKeyId: string;
      secretAccessKey: string;
    };

export interface Stack {
  readonly dataDir: string;
  readonly nats: NatsServerHandle;
  readonly postgres: PostgresHandle;
  readonly s3: S3ServerHandle | undefined;
  /** Object-store settings for the services, matching the chosen backend. */
  readonly objectStore: StackObjectStore;
  /** Set when `supervise` is on: restart counts of `nats-server` and `postgres`. */
  readonly supervisor: Supervisor | undefined;
  /** Human-readable list of what runs where. */
  describe(): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the local infrastructure in parallel; on a failure stops whatever had started. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  const track = <T extends { stop(): Promise<void> }>(p: Promise<T>) =>
    p.then((h) => {
      started.push(h);
      return h;
    });
  try {
    const [startedNats, startedPostgres, s3] = await Promise.all([
      track(startNatsServer({ dataDir: join(dataDir, 'nats'), ...(opts.log ? { log: opts.log } : {}) })),
      track(
        startPostgres({
          dataDir: join(dataDir, 'postgres'),
          ...(opts.externalPgUrl ? { externalUrl: opts.externalPgUrl } : {}),
          ...(opts.log ? { log: opts.log } : {}),
        }),
      ),
      opts.objectStore === 's3'
        ? track(startS3Server({ dataDir: join(dataDir, 's3'), bucket: opts.s3Bucket ?? 'harbour-lake' }))
        : Promise.resolve(undefined),
    ]);
    const supervised = opts.supervise
      ? superviseHandles(
          {
            'nats-server': startedNats,
            ...(startedPostgres.embedded ? { postgres: startedPostgres } : {}),
          },
          { ...(opts.log ? { log: opts.log } : {}), ...(opts.supervise === true ? {} : opts.supervise) },
        )
      : undefined;
    const nats = (supervised?.handles['nats-server'] as NatsServerHandle | undefined) ?? startedNats;
    const postgres = (supervised?.handles.postgres as PostgresHandle | undefined) ?? startedPostgres;
    const objectStore: StackObjectStore = s3
      ? {
          backend: 's3',
          endpoint: s3.endpoint,
          bucket: s3.bucket,
          region: s3.region,
          accessKeyId: s3.accessKeyId,
          secretAccessKey: s3.secretAccessKey,
        }
      : { backend: 'fs', root: join(dataDir, 'lake') };
    return {
      dataDir,
      nats,
      postgres,
      s3,
      objectStore,
      describe: () => ({
        'nats-server': `${nats.url} (monitor ${nats.monitorUrl})`,
        postgres: `${postgres.url.replace(/:[^:@/]+@/, ':***@')}${postgres.embedded ? ' (embedded)' : ' (external)'}`,
        lake: s3
          ? `${s3.endpoint}/${s3.bucket} (local S3 server)`
          : `${join(dataDir, 'lake')} (local directory)`,
      }),
      supervisor: supervised?.supervisor,
      // The supervisor first (waiting for a restart in progress), then every child: the handles
      // stop whichever process runs now, restarted ones included.
      stop: async () => {
        await supervised?.supervisor.stop();
        await stopAll(started);
      },
    };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

async function stopAll(handles: { stop(): Promise<void> }[]): Promise<void> {
  await Promise.allSettled(handles.reverse().map((h) => h.stop()));
}
