/**
 * Test and benchmark support: writes lake files the way the compactor does (Parquet with the
 * dataset's columns + envelope meta columns, `bronze/<dataset>/date=<d>/part-<first>-<last>-<writer>.parquet`),
 * registers them in `lake_files` and returns the `LakeCommitted` event. Not used by the service.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import {
  type Dataset,
  type GoldTable,
  goldTables,
  type LakeCommitted,
  partitionPrefix,
  type RowsByDataset,
  SCHEMA_VERSION,
} from '../../contracts/index.ts';
import type { ObjectStore } from '../../services/object-store/index.ts';
import {
  createParquetWriter,
  datasetColumns,
  type ParquetRow,
  readParquetRows,
} from '../../services/parquet/index.ts';
import { GOLD_DATE_COLUMNS, GOLD_KEYS, type GoldRows, referenceGold } from './reference-transform.ts';

export interface EnvelopeSpec<D extends Dataset = Dataset> {
  seq: number;
  key: string;
  as_of: string;
  fetched_at: string;
  run_id?: string;
  source_url?: string;
  rows: RowsByDataset[D][];
}

export interface WrittenFile {
  event: LakeCommitted;
  bytes: Uint8Array;
}

function lakeRows(envelopes: EnvelopeSpec[]): ParquetRow[] {
  const out: ParquetRow[] = [];
  for (const env of [...envelopes].sort((a, b) => a.seq - b.seq)) {
    for (const row of env.rows) {
      out.push({
        ...(row as unknown as ParquetRow),
        _seq: env.seq,
        _key: env.key,
        _as_of: env.as_of,
        _fetched_at: env.fetched_at,
        _run_id: env.run_id ?? `run-${env.as_of}`,
        _source_url: env.source_url ?? `https://example.test/${env.key}`,
      });
    }
  }
  return out;
}

export async function encodeLakeFile(
  dataset: Dataset,
  rows: ParquetRow[],
  rowGroupRows = 100_000,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const w = createParquetWriter(datasetColumns(dataset), (c) => void chunks.push(c), {
    rowGroupRows,
    kvMetadata: { dataset, schema_version: String(SCHEMA_VERSION) },
  });
  await w.appendBatch(rows);
  await w.finish();
  return Buffer.concat(chunks);
}

async function putAndRegister(
  store: ObjectStore,
  pool: pg.Pool,
  dataset: Dataset,
  partitionDate: string,
  rows: ParquetRow[],
  opts: { writer?: string; committedAt?: Date; replaces?: string[] },
): Promise<WrittenFile> {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    const s = r['_seq'] as number;
    if (s < first) first = s;
    if (s > last) last = s;
  }
  const writer = opts.writer ?? 'test';
  const fileKey = `${partitionPrefix(dataset, partitionDate)}part-${first}-${last}-${writer}.parquet`;
  const bytes = await encodeLakeFile(dataset, rows);
  await store.put(fileKey, bytes);
  const checksum = createHash('sha256').update(bytes).digest('hex');
  const committedAt = opts.committedAt ?? new Date();
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(
      `insert into lake_files (file_key, dataset, partition_date, first_seq, last_seq, rows, bytes, checksum, schema_version, writer, committed_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        fileKey,
        dataset,
        partitionDate,
        first,
        last,
        rows.length,
        bytes.byteLength,
        checksum,
        SCHEMA_VERSION,
        writer,
        committedAt,
      ],
    );
    if (opts.replaces?.length) {
      await client.query(
        `update lake_files set status = 'replaced', replaced_by = $1, replaced_at = now() where file_key = any($2)`,
        [fileKey, opts.replaces],
      );
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback');
    throw err;
  } finally {
    client.release();
  }
  return {
    bytes,
    event: {
      schema_version: SCHEMA_VERSION,
      dataset,
      file_key: fileKey,
      partition_date: partitionDate,
      first_seq: first,
      last_seq: last,
      rows: rows.length,
      bytes: bytes.byteLength,
      checksum,
      replaces: opts.replaces ?? [],
      committed_at: committedAt.toISOString(),
    },
  };
}

/** Writes one lake file holding the given envelopes and registers it as active. */
export function writeLakeFile<D extends Dataset>(
  store: ObjectStore,
  pool: pg.Pool,
  dataset: D,
  envelopes: EnvelopeSpec<D>[],
  opts: { writer?: string; partitionDate?: string; committedAt?: Date } = {},
): Promise<WrittenFile> {
  if (!envelopes.length) throw new Error('writeLakeFile: no envelopes');
  const partitionDate = opts.partitionDate ?? envelopes[0]!.as_of;
  return putAndRegister(store, pool, dataset, partitionDate, lakeRows(envelopes as EnvelopeSpec[]), opts);
}

/** Merges files of one partition into one (rows as they were), swapping them in the catalog like the compactor's merge. */
export async function mergeLakeFiles(
  store: ObjectStore,
  pool: pg.Pool,
  dataset: Dataset,
  partitionDate: string,
  fileKeys: string[],
  opts: { writer?: string } = {},
): Promise<WrittenFile> {
  const rows: ParquetRow[] = [];
  for (const key of fileKeys) rows.push(...(await readParquetRows(await store.getBytes(key))));
  rows.sort((a, b) => (a['_seq'] as number) - (b['_seq'] as number));
  return putAndRegister(store, pool, dataset, partitionDate, rows, {
    writer: opts.writer ?? 'merge',
    replaces: fileKeys,
  });
}

// ------------------------------------------------------------------ comparing gold tables

/** A gold table's rows from Postgres in key order: dates as yyyy-mm-dd, instants as ISO strings. */
export async function readGoldTable(pool: pg.Pool, table: GoldTable): Promise<Record<string, unknown>[]> {
  const cols = Object.keys(goldTables[table].properties);
  const select = cols.map((c) => {
    if (GOLD_DATE_COLUMNS.has(c)) return `to_char(${c}, 'YYYY-MM-DD') as ${c}`;
    if (c === 'loaded_at') return `to_char(${c} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ${c}`;
    return c;
  });
  const { rows } = await pool.query(
    `select ${select.join(', ')} from gold.${table} order by ${GOLD_KEYS[table].join(', ')}`,
  );
  return rows;
}

/** Every gold table from Postgres, as {@link readGoldTable} reads it. */
export async function readAllGold(pool: pg.Pool): Promise<GoldRows> {
  const out = {} as GoldRows;
  for (const t of Object.keys(goldTables) as GoldTable[]) out[t] = await readGoldTable(pool, t);
  return out;
}

function sameValue(a: unknown, b: unknown, relTol: number): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a === 'number' && typeof b === 'number') {
    if (relTol === 0) return Object.is(a === 0 ? 0 : a, b === 0 ? 0 : b);
    return Math.abs(a - b) <= relTol * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return a === b;
}

/**
 * Differences between two sets of gold rows (by key), at most `limit` per table. `relTol` 0 = exact
 * (incremental vs rebuild), else a relative tolerance (Postgres vs DuckDB sum floating point in
 * different orders).
 */
export function diffGold(a: GoldRows, b: GoldRows, opts: { relTol?: number; limit?: number } = {}): string[] {
  const out: string[] = [];
  const relTol = opts.relTol ?? 0;
  for (const table of Object.keys(goldTables) as GoldTable[]) {
    const keys = GOLD_KEYS[table];
    const keyOf = (r: Record<string, unknown>) => keys.map((k) => String(r[k])).join('|');
    const left = new Map((a[table] ?? []).map((r) => [keyOf(r), r]));
    const right = new Map((b[table] ?? []).map((r) => [keyOf(r), r]));
    const found: string[] = [];
    for (const [k, r] of left) {
      const s = right.get(k);
      if (!s) {
        found.push(`${table} ${k}: only in first`);
        continue;
      }
      for (const c of Object.keys(r)) {
        if (!sameValue(r[c], s[c], relTol))
          found.push(`${table} ${k}: ${c} ${JSON.stringify(r[c])} ≠ ${JSON.stringify(s[c])}`);
      }
    }
    for (const k of right.keys()) if (!left.has(k)) found.push(`${table} ${k}: only in second`);
    out.push(...found.slice(0, opts.limit ?? 20));
  }
  return out;
}

/** DuckDB's reference gold (`referenceGold`) over the lake files the catalog lists as active, in the local lake `root`. */
export async function referenceGoldOfLake(pool: pg.Pool, root: string): Promise<GoldRows> {
  const { rows: files } = await pool.query<{ dataset: Dataset; file_key: string }>(
    `select dataset, file_key from lake_files where status = 'active'`,
  );
  const paths: Record<Dataset, string[]> = { securities: [], quotes: [], fundamentals: [], ccass: [] };
  for (const f of files) paths[f.dataset].push(join(root, ...f.file_key.split('/')));
  // Loaded on use, as in `queryLake`: benchmark children import this module and must not carry DuckDB.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  try {
    return await referenceGold(conn, paths);
  } finally {
    conn.closeSync();
    duck.closeSync();
  }
}
