import type pg from 'pg';
import { LAKE_FILES_TABLE } from '../../contracts/index.ts';
import { loadModels } from './models.ts';

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
  const m = loadModels().find((x) => x.name === model);
  if (!m) throw new Error(`unknown model ${model}`);
  const { rows: src } = await pool.query<LineageSource>(
    `select l.dataset, l.file_key, l.first_seq::float8 as first_seq, l.last_seq::float8 as last_seq, l.rows::float8 as rows,
       f.status, f.replaced_by
     from (${m.lineageSql}) l left join ${LAKE_FILES_TABLE} f on f.file_key = l.file_key
     order by l.dataset, l.first_seq`,
    [key, date],
  );
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
