import type { JetStreamClient } from '@nats-io/jetstream';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  type Dataset,
  ErrorCodes,
  HarbourError,
  SCHEMA_VERSION,
  type ScrapeJob,
} from '../../contracts/index.ts';
import { subjects } from '../../streams/index.ts';
import { addDays, localDate, type TradingCalendar } from '../calendar/index.ts';
import { type SourcesConfig, sourceSetting } from './config.ts';
import type { HttpClient } from './http/index.ts';
import { recordRun } from './run-history.ts';
import { fetchCcassStockList } from './sources.ts';

export interface PlannerContext {
  js: JetStreamClient;
  pool: pg.Pool;
  http: HttpClient;
  sources: SourcesConfig;
  calendar: TradingCalendar;
  /** Watch list restricting per-stock datasets; empty = the whole CCASS stock list. */
  codes: readonly string[];
  logger: Logger;
  signal?: AbortSignal;
  /** Today's date in Hong Kong (`yyyy-mm-dd`); injectable for tests. Default: the clock's. */
  today?: () => string;
}

export interface PlanRequest {
  runId: string;
  dataset: Dataset;
  date: string;
  trigger: string;
  /** Overrides the context's watch list for this run. */
  codes?: readonly string[];
}

const PER_STOCK: ReadonlySet<Dataset> = new Set(['ccass', 'fundamentals']);
const TEMPORARY_COUNTER_RE = /-\s*TEMPORARY COUNTER\b/i;

/** Today's date in Hong Kong, `yyyy-mm-dd`. */
export function hongKongToday(now = new Date()): string {
  return localDate(now, 'Asia/Hong_Kong');
}

/**
 * The oldest date a source serves, or undefined when it has no limit. CCASS serves only the last
 * `ccassHistoryDays` (12 months on the real site); older dates answer "out of range".
 */
export function oldestServedDate(
  sources: SourcesConfig,
  dataset: Dataset,
  today: string,
): string | undefined {
  const days = sourceSetting(sources, 'ccassHistoryDays');
  return dataset === 'ccass' && days > 0 ? addDays(today, -days) : undefined;
}
const PUBLISH_BATCH = 256;

export const jobId = (runId: string, dataset: Dataset, date: string, code?: string) =>
  `${runId}/${dataset}:${date}:${code ?? 'all'}`;

/** Datasets that are snapshots of the moment fetched: the source serves no past date. */
const SNAPSHOT_ONLY: ReadonlySet<Dataset> = new Set(['fundamentals']);

/**
 * Throws `HARBOUR_ERR_SNAPSHOT_ONLY` for a fundamentals date before the last trading day on or before
 * today (Hong Kong): the quote widget answers only its latest quote, so such a run would store today's
 * figures under a past date. Today (or, on a non-trading day, the last trading day) is accepted: the
 * scheduled daily run snapshots "now".
 */
export function refusePastSnapshot(
  dataset: Dataset,
  date: string,
  calendar: TradingCalendar,
  now: Date = new Date(),
): void {
  if (!SNAPSHOT_ONLY.has(dataset)) return;
  const latest = calendar.previousTradingDay(addDays(localDate(now, 'Asia/Hong_Kong'), 1));
  if (date < latest) {
    throw new HarbourError(
      ErrorCodes.SnapshotOnly,
      `${dataset} are snapshots of the moment they are fetched (the HKEX quote widget serves only its latest quote): ${date} is past, the earliest date that can be collected now is ${latest}`,
      { detail: { dataset, date, earliest: latest } },
    );
  }
}

/**
 * Turns one (dataset, date) into jobs on the JOBS work queue and records the run. Deterministic:
 * the same run id gives the same job ids, published as `Nats-Msg-Id`, so planning a run twice
 * (a redelivered tick, a re-run command) adds no job twice. A non-trading day is recorded as
 * skipped, with no job. A past fundamentals date is refused ({@link refusePastSnapshot}).
 */
export async function planRun(
  ctx: PlannerContext,
  req: PlanRequest,
): Promise<{ status: string; jobs: ScrapeJob[] }> {
  const run = { runId: req.runId, dataset: req.dataset, date: req.date, trigger: req.trigger };
  try {
    refusePastSnapshot(req.dataset, req.date, ctx.calendar);
  } catch (err) {
    await recordRun(ctx.pool, { ...run, status: 'failed', note: (err as Error).message }, []);
    ctx.logger.warn({ ...run, code: ErrorCodes.SnapshotOnly }, (err as Error).message);
    throw err;
  }
  const oldest = oldestServedDate(ctx.sources, req.dataset, (ctx.today ?? hongKongToday)());
  if (oldest !== undefined && req.date < oldest) {
    // Refused before any request: the site would answer every job with "out of range".
    const note = `${req.dataset} serves only dates from ${oldest} (sources.ccassHistoryDays = ${sourceSetting(ctx.sources, 'ccassHistoryDays')}); ${req.date} is older`;
    await recordRun(ctx.pool, { ...run, status: 'failed', note }, []);
    ctx.logger.warn({ ...run, oldest }, 'run refused: date outside what the source serves');
    throw new HarbourError(ErrorCodes.SourceWindow, note, {
      detail: { dataset: req.dataset, date: req.date, oldest },
    });
  }
  if (!ctx.calendar.isTradingDay(req.date)) {
    await recordRun(ctx.pool, { ...run, status: 'skipped_holiday', note: 'not a trading day' }, []);
    ctx.logger.info(run, 'run skipped: not a trading day');
    return { status: 'skipped_holiday', jobs: [] };
  }
  let codes: (string | undefined)[] = [undefined];
  if (PER_STOCK.has(req.dataset)) {
    const wanted = req.codes?.length ? req.codes : ctx.codes;
    if (wanted.length) codes = [...wanted];
    else {
      const list = await fetchCcassStockList(
        { http: ctx.http, sources: ctx.sources, ...(ctx.signal ? { signal: ctx.signal } : {}) },
        req.date,
      );
      // Temporary counters (`…-TEMPORARY COUNTER`, parallel trading) are left out: their codes are
      // reused later by other stocks, so their holdings would sit in another company's history.
      const kept = list.filter((s) => !TEMPORARY_COUNTER_RE.test(s.name));
      if (kept.length < list.length)
        ctx.logger.info(
          { ...run, temporaryCounters: list.length - kept.length },
          'temporary counters not planned',
        );
      codes = kept.map((s) => s.code);
    }
  }
  const jobs: ScrapeJob[] = codes.map((code) => ({
    schema_version: SCHEMA_VERSION,
    job_id: jobId(req.runId, req.dataset, req.date, code),
    run_id: req.runId,
    dataset: req.dataset,
    date: req.date,
    ...(code ? { code } : {}),
  }));
  await recordRun(ctx.pool, { ...run, status: 'planned' }, jobs);
  for (let i = 0; i < jobs.length; i += PUBLISH_BATCH) {
    await Promise.all(
      jobs
        .slice(i, i + PUBLISH_BATCH)
        .map((job) => ctx.js.publish(subjects.job(job.dataset), JSON.stringify(job), { msgID: job.job_id })),
    );
  }
  ctx.logger.info({ ...run, jobs: jobs.length }, 'run planned');
  return { status: 'planned', jobs };
}
