import type { StoredMsg } from '@nats-io/jetstream';
import type pg from 'pg';
import { type Dataset, type RunCompleted, SCHEMA_VERSION, type ScrapeJob } from '../../contracts/index.ts';
import { type Migration, migrate, withTransaction } from '../runtime/index.ts';

/**
 * The run history a person inspects (like Airflow's): one row per planned run (a tick, a backfill
 * day, a one-off scrape) and one per job with its latest outcome.
 */
export const runHistoryMigrations: Migration[] = [
  {
    id: '001-scrape-runs',
    sql: `
      create table scrape_runs (
        run_id text primary key,
        dataset text not null,
        business_date date not null,
        trigger text not null,
        status text not null check (status in ('planned', 'skipped_holiday', 'failed')),
        planned_jobs integer not null default 0,
        note text,
        created_at timestamptz not null default now()
      );
      create table scrape_jobs (
        job_id text primary key,
        run_id text not null references scrape_runs(run_id),
        dataset text not null,
        business_date date not null,
        code text,
        status text not null check (status in ('pending', 'done', 'no_data', 'unknown_stock', 'retrying', 'dlq')),
        attempts integer not null default 0,
        rows integer,
        envelopes integer,
        outcome_code text,
        error text,
        source_url text,
        updated_at timestamptz not null default now()
      );
      create index scrape_jobs_run on scrape_jobs (run_id, status);
      create view scrape_run_status as
        select r.run_id, r.dataset, r.business_date, r.trigger, r.status as run_status, r.planned_jobs,
               count(j.*) filter (where j.status = 'done') as done,
               count(j.*) filter (where j.status = 'no_data') as no_data,
               count(j.*) filter (where j.status = 'unknown_stock') as unknown_stock,
               count(j.*) filter (where j.status = 'dlq') as dlq,
               count(j.*) filter (where j.status in ('pending', 'retrying')) as open,
               coalesce(sum(j.rows), 0) as rows, r.created_at, max(j.updated_at) as last_update
        from scrape_runs r left join scrape_jobs j using (run_id)
        group by r.run_id;`,
  },
  {
    // Run completion (issue #20): what each job published, and when the run's last job ended.
    id: '002-run-completion',
    sql: `
      alter table scrape_jobs add column partition_date date, add column raw_last_seq bigint;
      alter table scrape_runs add column completed_at timestamptz, add column raw_last_seq bigint,
        add column partitions date[];
      create or replace view scrape_run_status as
        select r.run_id, r.dataset, r.business_date, r.trigger, r.status as run_status, r.planned_jobs,
               count(j.*) filter (where j.status = 'done') as done,
               count(j.*) filter (where j.status = 'no_data') as no_data,
               count(j.*) filter (where j.status = 'unknown_stock') as unknown_stock,
               count(j.*) filter (where j.status = 'dlq') as dlq,
               count(j.*) filter (where j.status in ('pending', 'retrying')) as open,
               coalesce(sum(j.rows), 0) as rows, r.created_at, max(j.updated_at) as last_update,
               r.completed_at
        from scrape_runs r left join scrape_jobs j using (run_id)
        group by r.run_id;`,
  },
];

export type JobStatus = 'pending' | 'done' | 'no_data' | 'unknown_stock' | 'retrying' | 'dlq';
export const TERMINAL_STATUSES: readonly JobStatus[] = ['done', 'no_data', 'unknown_stock', 'dlq'];

export function migrateRunHistory(pool: pg.Pool) {
  return migrate(pool, 'scrapers', runHistoryMigrations);
}

export async function recordRun(
  pool: pg.Pool,
  run: {
    runId: string;
    dataset: string;
    date: string;
    trigger: string;
    status: 'planned' | 'skipped_holiday' | 'failed';
    note?: string;
  },
  jobs: ScrapeJob[],
): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query(
      `insert into scrape_runs (run_id, dataset, business_date, trigger, status, planned_jobs, note)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (run_id) do update set status = excluded.status, planned_jobs = excluded.planned_jobs, note = excluded.note`,
      [run.runId, run.dataset, run.date, run.trigger, run.status, jobs.length, run.note ?? null],
    );
    if (jobs.length) {
      await client.query(
        `insert into scrape_jobs (job_id, run_id, dataset, business_date, code, status)
         select j.job_id, $1, j.dataset, j.date::date, j.code, 'pending'
         from jsonb_to_recordset($2::jsonb) as j(job_id text, dataset text, date text, code text)
         on conflict (job_id) do nothing`,
        [run.runId, JSON.stringify(jobs)],
      );
    }
  });
}

export interface JobOutcome {
  status: JobStatus;
  attempts: number;
  rows?: number;
  envelopes?: number;
  code?: string | undefined;
  error?: string;
  sourceUrl?: string;
  /** Partition date (envelope as_of) and highest RAW sequence of what the job published. */
  partitionDate?: string;
  rawLastSeq?: number;
}

/** Records a job's latest outcome; a job once `done` stays done (a redelivery after a lost ack may fail later). */
export async function recordJobOutcome(pool: pg.Pool, jobId: string, outcome: JobOutcome): Promise<void> {
  await pool.query(
    `update scrape_jobs set status = $2, attempts = $3, rows = coalesce($4, rows), envelopes = coalesce($5, envelopes),
       outcome_code = $6, error = $7, source_url = coalesce($8, source_url),
       partition_date = coalesce($9::date, partition_date), raw_last_seq = coalesce($10, raw_last_seq), updated_at = now()
     where job_id = $1 and (status <> 'done' or $2 = 'done')`,
    [
      jobId,
      outcome.status,
      outcome.attempts,
      outcome.rows ?? null,
      outcome.envelopes ?? null,
      outcome.code ?? null,
      outcome.error?.slice(0, 2000) ?? null,
      outcome.sourceUrl ?? null,
      outcome.partitionDate ?? null,
      outcome.rawLastSeq ?? null,
    ],
  );
}

/**
 * The stream sequences of those JOBS messages whose job has a terminal outcome in the run history
 * (a message that cannot be read as a job is not claimed: it stays for a person to see).
 */
export async function finishedJobMessages(pool: pg.Pool, msgs: StoredMsg[]): Promise<Set<number>> {
  const seqOf = new Map<string, number>();
  for (const m of msgs) {
    try {
      const id = (m.json() as { job_id?: unknown }).job_id;
      if (typeof id === 'string') seqOf.set(id, m.seq);
    } catch {
      // not a job: leave it
    }
  }
  if (!seqOf.size) return new Set();
  const { rows } = await pool.query<{ job_id: string }>(
    'select job_id from scrape_jobs where job_id = any($1) and status = any($2)',
    [[...seqOf.keys()], TERMINAL_STATUSES],
  );
  return new Set(rows.map((r) => seqOf.get(r.job_id)!));
}

/** Job statuses that leave a run open; every other status (done, no data, dead-lettered, skipped…) ends the job. */
const OPEN_STATUSES = ['pending', 'retrying'];

/**
 * If no job of the run is open any more, marks the run completed (the first caller's time stays)
 * and returns its completion: the partitions it published to and its highest RAW sequence.
 * Called after every terminal job outcome, after that outcome committed: of the workers that
 * finish a run's last jobs at the same time, the one committing last always sees the run complete
 * (several may, and publish the same event, deduplicated by its msg id).
 */
export async function completeRunIfFinished(pool: pg.Pool, runId: string): Promise<RunCompleted | null> {
  // The common case (other jobs still open) in one indexed probe, before aggregating the run.
  const { rowCount: open } = await pool.query(
    'select 1 from scrape_jobs where run_id = $1 and status = any($2) limit 1',
    [runId, OPEN_STATUSES],
  );
  if (open) return null;
  const { rows } = await pool.query<{
    dataset: Dataset;
    partitions: string[];
    last_seq: string | null;
    completed_at: Date;
  }>(
    `with agg as (
       select max(raw_last_seq) as last_seq,
         coalesce(array_agg(distinct partition_date order by partition_date) filter (where partition_date is not null), '{}') as partitions
       from scrape_jobs where run_id = $1
     )
     update scrape_runs r set completed_at = coalesce(r.completed_at, now()), raw_last_seq = agg.last_seq,
       partitions = agg.partitions
     from agg
     where r.run_id = $1 and not exists (select 1 from scrape_jobs j where j.run_id = $1 and j.status = any($2))
     returning r.dataset, to_json(agg.partitions) as partitions, agg.last_seq, r.completed_at`,
    [runId, OPEN_STATUSES],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    schema_version: SCHEMA_VERSION,
    run_id: runId,
    dataset: r.dataset,
    partitions: r.partitions,
    last_raw_seq: Number(r.last_seq ?? 0),
    completed_at: r.completed_at.toISOString(),
  };
}

export interface RunProgress {
  total: number;
  finished: number;
  byStatus: Record<string, number>;
}

export async function runProgress(pool: pg.Pool, runIds: string[]): Promise<RunProgress> {
  const { rows } = await pool.query<{ status: string; n: string }>(
    'select status, count(*) as n from scrape_jobs where run_id = any($1) group by status',
    [runIds],
  );
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  const total = rows.reduce((a, r) => a + Number(r.n), 0);
  const finished = TERMINAL_STATUSES.reduce((a, s) => a + (byStatus[s] ?? 0), 0);
  return { total, finished, byStatus };
}
