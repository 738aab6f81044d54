import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JetStreamClient } from '@nats-io/jetstream';
import type pg from 'pg';
import { type CcassRow, type Envelope, SCHEMA_VERSION } from '../../contracts/index.ts';
import type { ObjectStore } from '../../services/object-store/index.ts';
import { subjects } from '../../streams/subjects.ts';

/** A CCASS envelope whose rows carry unique participant ids `P<tag>-<i>`, so duplicates are countable. */
export function ccassEnvelope(tag: string, date: string, rows: number, code = '00700'): Envelope<'ccass'> {
  return {
    schema_version: SCHEMA_VERSION,
    dataset: 'ccass',
    key: `${code}:${tag}`,
    as_of: date,
    source_url: 'http://127.0.0.1/sdw/search/searchsdw.aspx',
    fetched_at: '2026-10-03T01:00:00.000Z',
    run_id: 'test-run',
    rows: Array.from(
      { length: rows },
      (_, i): CcassRow => ({
        code,
        holding_date: date,
        row_type: 'participant',
        participant_id: `P${tag}-${i}`,
        participant_name: `PARTICIPANT ${tag} ${i} LIMITED`,
        address: `${i} QUEEN'S ROAD CENTRAL, HONG KONG`,
        shareholding: 1000 * (i + 1),
        pct_issued: (i % 100) / 100,
        participants: null,
      }),
    ),
  };
}

/**
 * Publishes `n` CCASS envelopes (`ccassEnvelope(<tag><i>, date, rows)`) to RAW one after another;
 * returns how many rows they carry.
 */
export async function publishCcassEnvelopes(
  js: JetStreamClient,
  n: number,
  tag: string,
  date: string,
  rows: number,
): Promise<number> {
  for (let i = 0; i < n; i++)
    await js.publish(subjects.raw('ccass'), JSON.stringify(ccassEnvelope(`${tag}${i}`, date, rows)));
  return n * rows;
}

/**
 * Reads the lake as an outside reader would: the files the catalog lists as active, downloaded from
 * the object store, queried with DuckDB. Returns what `sql` selects from the view `lake`.
 */
export async function queryLake<T = Record<string, unknown>>(
  pool: pg.Pool,
  store: ObjectStore,
  dataset: string,
  sql: string,
): Promise<T[]> {
  const { rows } = await pool.query<{ file_key: string }>(
    "select file_key from lake_files where dataset = $1 and status = 'active' order by file_key",
    [dataset],
  );
  if (!rows.length) return [];
  const dir = await mkdtemp(join('/tmp', 'lake-read-'));
  try {
    const paths: string[] = [];
    for (const [i, r] of rows.entries()) {
      const p = join(dir, `${i}.parquet`);
      await writeFile(p, await store.getBytes(r.file_key));
      paths.push(p);
    }
    // Loaded on use: benchmark children import this module for `ccassEnvelope` and must not carry DuckDB.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      await conn.run(
        `create view lake as select * from read_parquet([${paths.map((p) => `'${p}'`).join(', ')}])`,
      );
      const reader = await conn.runAndReadAll(sql);
      // Counts come back as bigint; the tests compare with plain numbers.
      return reader
        .getRowObjectsJS()
        .map((row) =>
          Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
        ) as T[];
    } finally {
      conn.closeSync();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An envelope as a test reads it back from RAW: its stream sequence and content. */
export interface RawEnvelope {
  seq: number;
  env: Envelope;
}

/**
 * The lake by envelope: one `{ seq, key, n }` per RAW sequence its files hold (`n` rows), in
 * sequence order. `envelopesIn(raw, dataset)` is what it must equal when every record is there once.
 */
export function lakeEnvelopes(
  pool: pg.Pool,
  store: ObjectStore,
  dataset: string,
): Promise<{ seq: number; key: string; n: number }[]> {
  return queryLake(
    pool,
    store,
    dataset,
    'select _seq as seq, _key as key, count(*) as n from lake group by _seq, _key order by _seq',
  );
}

/** `{ seq, key, n }` of each RAW envelope of `dataset`, in the order given (RAW's). */
export function envelopesIn(
  raw: readonly RawEnvelope[],
  dataset: string,
): { seq: number; key: string; n: number }[] {
  return raw
    .filter((r) => r.env.dataset === dataset)
    .map((r) => ({ seq: r.seq, key: r.env.key, n: r.env.rows.length }));
}

/**
 * The CCASS silver rows in force, read with DuckDB from the Parquet files `lakehouse_files` names
 * (fs lake under `root`), ordered by their key; dates as yyyy-mm-dd.
 */
export async function readCcassSilver(pool: pg.Pool, root: string): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query<{ file_key: string }>(
    `select file_key from lakehouse_files where layer = 'silver' and name = 'ccass' order by partition_date`,
  );
  if (!rows.length) return [];
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  try {
    const files = rows.map((r) => `'${join(root, ...r.file_key.split('/')).replace(/'/g, "''")}'`);
    const reader = await conn.runAndReadAll(
      `select * replace (strftime(holding_date, '%Y-%m-%d') as holding_date, _seq::double as _seq,
         participants::double as participants, strftime(_fetched_at, '%Y-%m-%dT%H:%M:%S.%gZ') as _fetched_at)
       from read_parquet([${files.join(', ')}], hive_partitioning = false)
       order by code, holding_date, row_type, participant_key`,
    );
    return reader.getRowObjectsJS();
  } finally {
    conn.closeSync();
    duck.closeSync();
  }
}
