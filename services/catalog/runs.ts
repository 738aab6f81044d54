import type pg from 'pg';
import type { Dataset, RunCompleted } from '../../contracts/index.ts';

/**
 * Records that every record of a completed run is committed to the lake (`lake_runs`). Returns
 * the seconds from the run's completion to now (Postgres clock), or null if it was recorded
 * before (a redelivered run event): each run is observed once, whichever compactor confirms it.
 */
export async function recordRunInLake(pool: pg.Pool, run: RunCompleted): Promise<number | null> {
  const { rows } = await pool.query<{ seconds: number }>(
    `insert into lake_runs (run_id, dataset, partitions, last_raw_seq, completed_at)
     values ($1, $2, $3::date[], $4, $5)
     on conflict (run_id) do nothing
     returning extract(epoch from in_lake_at - completed_at)::float8 as seconds`,
    [run.run_id, run.dataset, run.partitions, run.last_raw_seq, run.completed_at],
  );
  return rows[0] ? Math.max(0, rows[0].seconds) : null;
}

/**
 * Marks runs in gold once the transformer has loaded every lake file of their partitions that was
 * committed by the time the run was confirmed in the lake (a file replaced by a merge counts through
 * the file that replaced it). `in_gold_at` is the transformer's own `loaded_at` of the last of those
 * files, so the figure does not depend on which process notices it or when. Returns the runs that
 * just reached gold, each once (the update flips `in_gold_at` from null).
 */
export async function markRunsInGold(
  pool: pg.Pool,
  datasets: readonly Dataset[],
): Promise<{ runId: string; dataset: Dataset; seconds: number }[]> {
  const { rows } = await pool.query<{ run_id: string; dataset: Dataset; seconds: number }>(
    `with files as (
       select r.run_id, coalesce(t.loaded_at, tr.loaded_at) as loaded_at
       from lake_runs r
       join lake_files f on f.dataset = r.dataset and f.partition_date = any(r.partitions)
         and f.committed_at <= r.in_lake_at
       left join transform_files t on t.file_key = f.file_key and t.outcome = 'loaded'
       left join transform_files tr on tr.file_key = any(string_to_array(f.replaced_by, ',')) and tr.outcome = 'loaded'
       where r.in_gold_at is null and r.dataset = any($1)
     ), done as (
       select run_id, max(loaded_at) as at from files group by run_id having bool_and(loaded_at is not null)
     )
     update lake_runs r set in_gold_at = greatest(done.at, r.in_lake_at)
     from done where r.run_id = done.run_id and r.in_gold_at is null
     returning r.run_id, r.dataset, extract(epoch from r.in_gold_at - r.completed_at)::float8 as seconds`,
    [datasets],
  );
  return rows.map((r) => ({ runId: r.run_id, dataset: r.dataset, seconds: Math.max(0, r.seconds) }));
}

export interface RunsPending {
  dataset: string;
  /** Completed runs (with data) not yet in gold. */
  pending: number;
  /** Epoch seconds of the oldest of them completing; null when none is pending. */
  oldestCompletedAt: number | null;
}

/** Completed runs older than this are history, not a freshness problem the alert should keep raising. */
const RUNS_LOOKBACK = '7 days';

/**
 * Scrape runs that published data and completed (the run history, `scrape_runs`) but are not in
 * gold yet (the compactor's `lake_runs.in_gold_at`), per dataset. Before the compactor created
 * `lake_runs` (`lakeRunsPresent` false) every completed run counts as pending.
 */
export async function runsNotInGold(pool: pg.Pool, lakeRunsPresent: boolean): Promise<RunsPending[]> {
  const inGold = lakeRunsPresent
    ? 'exists (select 1 from lake_runs l where l.run_id = s.run_id and l.in_gold_at is not null)'
    : 'false';
  const { rows } = await pool.query<RunsPending>(
    `select dataset, count(*) filter (where not ${inGold})::float8 as pending,
       extract(epoch from min(completed_at) filter (where not ${inGold}))::float8 as "oldestCompletedAt"
     from scrape_runs s
     where completed_at > now() - interval '${RUNS_LOOKBACK}' and cardinality(partitions) > 0
     group by dataset`,
  );
  return rows;
}
