import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import type { TransformerConfig } from './config.ts';
import { fetchLakeFile } from './lake.ts';

/**
 * The transformer's embedded DuckDB: one in-memory database with the configured memory limit,
 * threads and spill directory, a connection whose statements run one at a time, and a local
 * working directory holding copies of the lake objects DuckDB reads (it reads local files only:
 * no httpfs offline) and the files it writes before they are uploaded.
 */
export interface Duck {
  /** Runs statements (no result). */
  run(sql: string): Promise<void>;
  /** Runs a query and returns its rows as plain JS values (dates as Date, big integers as bigint). */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /**
   * (Re)creates temp table `name` with `columns` (name → DuckDB type) holding `rows` (objects with
   * those keys; dates as 'YYYY-MM-DD'). Loaded as one JSON-lines file: parsing SQL literals row by
   * row costs ~30 µs a row, this a fraction of it.
   */
  table(name: string, columns: Readonly<Record<string, string>>, rows: readonly object[]): Promise<void>;
  /**
   * Local path of a lake object, downloaded once and checked against its sha256 (objects are
   * immutable). `hold`: the copy stays until `release`d (as often as held), beyond the copies a
   * Duck keeps: a view over it is read later, and fetching more copies meanwhile would otherwise
   * evict the oldest.
   */
  local(
    store: ObjectStore,
    key: string,
    checksum: string,
    opts?: { signal?: AbortSignal | undefined; hold?: boolean },
  ): Promise<string>;
  release(paths: readonly string[]): void;
  /** A fresh local path for a file DuckDB writes (removed with `forget`). */
  scratch(name: string): string;
  /** Removes local files and folders: scratch output, and copies of objects no longer wanted. */
  forget(paths: readonly string[]): Promise<void>;
  /** The directory lake copies live under: `<root>/lake/<object key>`. */
  readonly lakeRoot: string;
  /**
   * Another Duck on the same database: its own connection (temp tables, statements run beside
   * this one's) and working directory, the instance's memory and threads shared. Closed on its
   * own, before this one.
   */
  fork(): Promise<Duck>;
  close(): Promise<void>;
}

export interface DuckOptions {
  memoryLimit: string;
  threads: number;
  /** Where the Duck makes its own working directory ("" = the OS temp directory). */
  tempDir: string;
}

/** The transformer config's DuckDB settings (a partial config takes the schema's defaults). */
export const duckOptionsOf = (c: Partial<TransformerConfig>): DuckOptions => ({
  memoryLimit: c.duckdbMemoryLimit ?? '1GB',
  threads: c.duckdbThreads ?? 2,
  tempDir: c.duckdbTempDir ?? '',
});

/**
 * Copies of lake objects a Duck keeps for reuse (the latest silver partitions are read again by
 * the next day), least recently used dropped first.
 */
const KEEP_COPIES = 48;

/**
 * Most lake objects one statement should read: fewer than the copies a Duck keeps, or fetching
 * them would evict some of the statement's own inputs.
 */
export const OBJECTS_AT_ONCE = 32;

export const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * A DuckDB relation over local Parquet files, with their columns only: lake paths contain
 * `date=…/`, which DuckDB would otherwise add as a hive partition column. `filename` adds the
 * path a row comes from.
 */
export const parquetFiles = (paths: readonly string[], opts: { filename?: boolean } = {}): string =>
  `read_parquet([${paths.map(sqlString).join(', ')}], hive_partitioning = false${opts.filename ? ', filename = true' : ''})`;

let opened = 0;

export async function openDuck(opts: DuckOptions): Promise<Duck> {
  // Its own directory, removed whole on close: never the configured one, which may hold other things.
  const root = join(opts.tempDir || tmpdir(), `harbour-transformer-${process.pid}-${++opened}`);
  await mkdir(join(root, 'spill'), { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: opts.memoryLimit,
    threads: String(opts.threads),
    temp_directory: join(root, 'spill'),
    preserve_insertion_order: 'false',
  });
  return session(instance, root, async () => {
    instance.closeSync();
    await rm(root, { recursive: true, force: true });
  });
}

/** A Duck on a new connection of `instance`, working under `root`; `closed` runs after its connection closes. */
async function session(instance: DuckDBInstance, root: string, closed: () => Promise<void>): Promise<Duck> {
  const lakeRoot = join(root, 'lake');
  const outRoot = join(root, 'out');
  await mkdir(lakeRoot, { recursive: true });
  await mkdir(outRoot, { recursive: true });
  const conn = await instance.connect();
  // DuckDB runs one statement at a time on a connection; callers queue here.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => {});
    return next;
  };
  const copies = new Map<string, string>(); // key → local path, least recently used first
  const held = new Map<string, number>(); // local path → holds
  let seq = 0;
  let forks = 0;

  const scratch = (name: string) => join(outRoot, `${++seq}-${name.replace(/[^A-Za-z0-9_.=-]/g, '_')}`);

  // Held copies stay, even beyond KEEP_COPIES, until released; so does the copy just fetched (the
  // newest), whose path the caller is about to read.
  const evict = async () => {
    while (copies.size > KEEP_COPIES) {
      const victim = [...copies].slice(0, -1).find(([, path]) => !held.has(path));
      if (!victim) return;
      copies.delete(victim[0]);
      await rm(victim[1], { force: true });
    }
  };

  return {
    lakeRoot,
    run: (sql) =>
      serial(async () => {
        await conn.run(sql);
      }),
    rows: (sql) => serial(async () => (await conn.runAndReadAll(sql)).getRowObjectsJS()),
    async table(name, columns, rows) {
      const path = scratch(`${name}.jsonl`);
      await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n'));
      const cols = Object.entries(columns)
        .map(([c, t]) => `${sqlString(c)}: ${sqlString(t)}`)
        .join(', ');
      try {
        await serial(() =>
          conn.run(
            `create or replace temp table ${name} as select * from read_json(${sqlString(path)}, format = 'newline_delimited', columns = {${cols}})`,
          ),
        );
      } finally {
        await rm(path, { force: true });
      }
    },
    async local(store, key, checksum, opts = {}) {
      const hold = (path: string) => {
        if (opts.hold) held.set(path, (held.get(path) ?? 0) + 1);
        return path;
      };
      const have = copies.get(key);
      if (have) {
        copies.delete(key);
        copies.set(key, have);
        return hold(have);
      }
      const bytes = await fetchLakeFile(store, { fileKey: key, checksum }, opts.signal);
      const path = join(lakeRoot, ...key.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
      copies.set(key, hold(path));
      await evict();
      return path;
    },
    release(paths) {
      for (const p of paths) {
        const n = (held.get(p) ?? 0) - 1;
        if (n > 0) held.set(p, n);
        else held.delete(p);
      }
    },
    scratch,
    fork() {
      const dir = join(root, `fork-${++forks}`);
      return session(instance, dir, () => rm(dir, { recursive: true, force: true }));
    },
    async forget(paths) {
      for (const p of paths) {
        for (const [k, v] of copies) if (v === p) copies.delete(k);
        await rm(p, { force: true, recursive: true });
      }
    },
    async close() {
      await queue;
      conn.closeSync();
      await closed();
    },
  };
}

/** Writes the rows of a DuckDB query as a CSV file for `copyCsv` (DuckDB writes NULL empty and '' quoted). */
export async function duckCsv(duck: Duck, select: string): Promise<string> {
  const csv = duck.scratch('copy.csv');
  await duck.run(`copy (${select}) to ${sqlString(csv)} (format csv, header false)`);
  return csv;
}

/** COPYs a `duckCsv` file into a Postgres table, then removes it; returns the rows. */
export async function copyCsv(
  client: pg.PoolClient,
  duck: Duck,
  csv: string,
  target: string,
  columns: readonly string[],
): Promise<number> {
  try {
    const sink = client.query(
      copyFrom(`copy ${target} (${columns.join(', ')}) from stdin with (format csv)`),
    );
    await pipeline(createReadStream(csv), sink);
    return sink.rowCount;
  } finally {
    await duck.forget([csv]);
  }
}

/** COPYs the rows of a DuckDB query into a Postgres table. */
export async function copyFromDuck(
  client: pg.PoolClient,
  duck: Duck,
  select: string,
  target: string,
  columns: readonly string[],
): Promise<number> {
  return copyCsv(client, duck, await duckCsv(duck, select), target, columns);
}

/** DuckDB types of the Postgres column types silver and gold tables use. */
const DUCK_TYPES: Readonly<Record<string, string>> = {
  text: 'VARCHAR',
  'double precision': 'DOUBLE',
  bigint: 'BIGINT',
  integer: 'INTEGER',
  smallint: 'SMALLINT',
  boolean: 'BOOLEAN',
  date: 'DATE',
  'timestamp with time zone': 'TIMESTAMPTZ',
};

/**
 * (Re)creates the empty DuckDB table `table` (`schema.name`, the schema created if missing) with the
 * columns and types of the Postgres table of that name, so that the same SQL over either reads
 * values of the same types.
 */
export async function mirrorTable(client: pg.PoolClient, duck: Duck, table: string): Promise<void> {
  const { rows } = await client.query<{ name: string; type: string }>(
    `select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
     where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`,
    [table],
  );
  const columns = rows.map((r) => {
    const type = DUCK_TYPES[r.type];
    if (!type)
      throw new HarbourError(ErrorCodes.Internal, `no DuckDB type for ${table}.${r.name} (${r.type})`);
    return `"${r.name.replaceAll('"', '""')}" ${type}`;
  });
  await duck.run(
    `create schema if not exists ${table.split('.')[0]}; create or replace table ${table} (${columns.join(', ')})`,
  );
}
