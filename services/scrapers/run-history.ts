import type pg from 'pg';
import type { ScrapeJob } from '../../contracts/index.ts';
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
}

/** Records a job's latest outcome; a job once `done` stays done (a redelivery after a lost ack may fail later). */
export async function recordJobOutcome(pool: pg.Pool, jobId: string, outcome: JobOutcome): Promise<void> {
  await pool.query(
    `update scrape_jobs set status = $2, attempts = $3, rows = coalesce($4, rows), envelopes = coalesce($5, envelopes),
       outcome_code = $6, error = $7, source_url = coalesce($8, source_url), updated_at = now()
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
    ],
  );
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
