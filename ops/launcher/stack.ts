import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { preferredPort } from './free-port.ts';
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
  /**
   * Listen on the servers' usual ports (NATS 4222, Postgres 5432) when they are free, else on free
   * ones. Off by default: tests and the demo run beside other stacks and want any free port.
   */
  defaultPorts?: boolean;
  log?: (msg: string) => void;
  /**
   * Restart nats-server and the embedded Postgres when they die (same port and data, back-off,
   * logged through `log`); `npm run stack` turns it on. The S3 server runs inside this process.
   */
  supervise?: boolean | SupervisorOptions;
}

/** Default ports `defaultPorts` asks for first. */
export const DEFAULT_PORTS = { nats: 4222, postgres: 5432, prometheus: 9090 } as const;

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
  const started: Named[] = [];
  const track = <T extends { stop(): Promise<void> }>(name: string, p: Promise<T>) =>
    p.then((h) => {
      started.push({ name, stop: () => h.stop() });
      return h;
    });
  // The fs and s3 variants keep apart everything that describes a lake: the s3 stack has its own
  // JetStream store (consumer ack floors) and its own Postgres database (catalog, silver, gold), so
  // switching between `npm run stack` and `npm run stack -- --s3` never pairs a catalog with the
  // other variant's lake.
  const s3Variant = opts.objectStore === 's3';
  try {
    const [startedNats, startedPostgres, s3] = await Promise.all([
      track(
        'nats-server',
        startNatsServer({
          dataDir: join(dataDir, s3Variant ? 'nats-s3' : 'nats'),
          ...(opts.defaultPorts ? { port: await preferredPort(DEFAULT_PORTS.nats) } : {}),
          ...(opts.log ? { log: opts.log } : {}),
        }),
      ),
      track(
        'postgres',
        startPostgres({
          dataDir: join(dataDir, 'postgres'),
          ...(s3Variant ? { database: 'harbour_s3' } : {}),
          ...(opts.defaultPorts ? { port: await preferredPort(DEFAULT_PORTS.postgres) } : {}),
          ...(opts.externalPgUrl ? { externalUrl: opts.externalPgUrl } : {}),
          ...(opts.log ? { log: opts.log } : {}),
        }),
      ),
      s3Variant
        ? track(
            's3 server',
            startS3Server({ dataDir: join(dataDir, 's3'), bucket: opts.s3Bucket ?? 'harbour-lake' }),
          )
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
        await stopAll(started, opts.log);
      },
    };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

interface Named {
  name: string;
  stop(): Promise<void>;
}

/** Stops everything, one line per server (`<name> stopped` or why not). */
async function stopAll(handles: Named[], log?: (msg: string) => void): Promise<void> {
  await Promise.allSettled(
    handles.reverse().map((h) =>
      h.stop().then(
        () => log?.(`${h.name} stopped`),
        (err: unknown) => log?.(`${h.name} did not stop cleanly: ${(err as Error).message}`),
      ),
    ),
  );
}
