import type pg from 'pg';
import { ErrorCodes, HarbourError, isHarbourError } from '../../contracts/index.ts';
import { fileStatuses } from '../catalog/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import { readParquetRows } from '../parquet/index.ts';
import { loadModels, type Model } from './models.ts';

export interface LineageSource {
  dataset: string;
  file_key: string;
  /** RAW stream sequences of the silver rows behind the gold row that came from this file. */
  first_seq: number;
  last_seq: number;
  rows: number;
  /** The file's catalog status now (`replaced` files name the file that holds their rows). */
  status: string | null;
  replaced_by: string | null;
}

export interface LineageRun {
  run_id: string;
  batch_id: string;
  trigger: string;
  finished_at: string;
  /** The lake files the run's batch consumed, with their RAW sequence ranges. */
  inputs: { file_key: string; dataset: string; first_seq: number; last_seq: number; rows: number }[];
}

export interface GoldLineage {
  model: string;
  key: string;
  date: string | null;
  /** The lake files (and RAW sequence ranges) of the silver rows the model reads for this row. */
  sources: LineageSource[];
  /** The last successful run that wrote this row's key and date, and its input files. */
  run: LineageRun | null;
}

/**
 * Lineage of one gold row: `key` = the model's scope key (a stock code; the dataset for the dq
 * models), `date` = its scope date (trade_date, month, holding_date, as_of; null for dq_freshness).
 */
export async function traceGoldRow(
  pool: pg.Pool,
  model: string,
  key: string,
  date: string | null,
): Promise<GoldLineage> {
  const m = findModel(model);
  const { rows: read } = await pool.query<Omit<LineageSource, 'status' | 'replaced_by'>>(
    `select l.dataset, l.file_key, l.first_seq::float8 as first_seq, l.last_seq::float8 as last_seq, l.rows::float8 as rows
     from (${m.lineageSql}) l
     order by l.dataset, l.first_seq`,
    [key, date],
  );
  // Each file's catalog status now (null for a file the catalog does not name).
  const statuses = await fileStatuses(pool, [...new Set(read.map((s) => s.file_key))]);
  const src: LineageSource[] = read.map((s) => {
    const f = statuses.get(s.file_key);
    return { ...s, status: f?.status ?? null, replaced_by: f?.replacedBy ?? null };
  });
  const { rows: runs } = await pool.query<Omit<LineageRun, 'inputs'>>(
    `select run_id, batch_id, trigger, to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as finished_at
     from transform_runs
     where model = $1 and status = 'succeeded' and rows_written > 0
       and (cardinality(codes) = 0 or $2 = any(codes))
       and ($3::date is null or $3::date between date_from and date_to)
     order by finished_at desc, run_id desc limit 1`,
    [model, key, date],
  );
  let run: LineageRun | null = null;
  if (runs[0]) {
    const { rows: inputs } = await pool.query<LineageRun['inputs'][number]>(
      `select file_key, dataset, first_seq::float8 as first_seq, last_seq::float8 as last_seq, rows::float8 as rows
       from transform_run_inputs where run_id = $1 order by first_seq, file_key`,
      [runs[0].run_id],
    );
    run = { ...runs[0], inputs };
  }
  return { model, key, date, sources: src, run };
}

/** The model by name; `HARBOUR_ERR_CONFIG` naming the known models otherwise. */
export function findModel(model: string): Model {
  const models = loadModels();
  const m = models.find((x) => x.name === model);
  if (!m)
    throw new HarbourError(
      ErrorCodes.Config,
      `unknown model "${model}"; known: ${models.map((x) => x.name).join(', ')}`,
      { detail: { parameter: 'model' } },
    );
  return m;
}

/** One envelope behind a gold row: when and where it was fetched. None listed when the file is gone from the store. */
export interface LineageFetch {
  seq: number;
  fetched_at: string;
  source_url: string;
  run_id: string;
}

export interface GoldRowLineage extends Omit<GoldLineage, 'sources'> {
  /** Rows of the gold table with this key and date (0 → there is nothing to trace). */
  gold_rows: number;
  sources: (LineageSource & { fetches: LineageFetch[] })[];
}

/**
 * Lineage of one gold row for people (`harbour trace`, the exporter's `GET /lineage`): the lake
 * files and RAW sequence ranges behind it (`traceGoldRow`), and for each file the envelopes of
 * those rows, read from the lake file itself: RAW sequence, fetch time, source URL, scrape run.
 * Rows of a file are matched by sequence range, and by `code` when the file has one and the key is
 * a stock code. Throws `HARBOUR_ERR_CONFIG` for an unknown model or a malformed date,
 * `HARBOUR_ERR_NOT_FOUND` when the gold table holds no such row.
 */
export async function traceGold(
  deps: { pool: pg.Pool; store: ObjectStore },
  req: { model: string; key: string; date: string | null },
): Promise<GoldRowLineage> {
  const m = findModel(req.model);
  if (req.date !== null && (!/^\d{4}-\d{2}-\d{2}$/.test(req.date) || Number.isNaN(Date.parse(req.date))))
    throw new HarbourError(ErrorCodes.Config, `date must be yyyy-mm-dd (got "${req.date}")`, {
      detail: { parameter: 'date' },
    });
  if (m.scopeDate && req.date === null)
    throw new HarbourError(ErrorCodes.Config, `model ${m.name} needs a date (its ${m.scopeDate})`, {
      detail: { parameter: 'date' },
    });
  const { rows: counted } = await deps.pool.query<{ n: number }>(
    `select count(*)::int as n from ${m.table} where ${m.scopeKey}::text = $1${m.scopeDate ? ` and ${m.scopeDate} = $2::date` : ''}`,
    m.scopeDate ? [req.key, req.date] : [req.key],
  );
  const goldRows = counted[0]?.n ?? 0;
  if (!goldRows)
    throw new HarbourError(
      ErrorCodes.NotFound,
      `gold.${m.name} has no row for ${m.scopeKey} ${req.key}${m.scopeDate ? ` and ${m.scopeDate} ${req.date}` : ''}`,
    );
  const lineage = await traceGoldRow(deps.pool, m.name, req.key, m.scopeDate ? req.date : null);
  const sources = [];
  for (const s of lineage.sources) sources.push({ ...s, fetches: await fileFetches(deps.store, s, req.key) });
  return { ...lineage, gold_rows: goldRows, sources };
}

async function fileFetches(store: ObjectStore, source: LineageSource, key: string): Promise<LineageFetch[]> {
  let bytes: Uint8Array;
  try {
    bytes = await store.getBytes(source.file_key);
  } catch (err) {
    // A replaced file swept from the store after its grace period: its rows live on in the file
    // that replaced it (`replaced_by`), which a later merge event points silver at.
    if (isHarbourError(err, ErrorCodes.ObjectNotFound)) return [];
    throw err;
  }
  // Every dataset's rows carry `code` (contracts/datasets.ts); only the columns needed are decoded.
  const rows = await readParquetRows(bytes, {
    columns: ['code', '_seq', '_fetched_at', '_source_url', '_run_id'],
  });
  const byCode = /^\d{5}$/.test(key);
  const seen = new Map<number, LineageFetch>();
  for (const r of rows) {
    const seq = Number(r._seq);
    if (seq < source.first_seq || seq > source.last_seq || seen.has(seq)) continue;
    if (byCode && r.code !== key) continue;
    seen.set(seq, {
      seq,
      fetched_at: String(r._fetched_at),
      source_url: String(r._source_url),
      run_id: String(r._run_id),
    });
  }
  return [...seen.values()].sort((a, b) => a.seq - b.seq);
}
