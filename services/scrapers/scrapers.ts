import { ErrorCodes, isHarbourError, tickValidator } from '../../contracts/index.ts';
import { consumerNames, dropFinishedWorkQueueMessages, streamNames } from '../../streams/index.ts';
import { createCalendar } from '../calendar/index.ts';
import {
  type ConsumeLoopOptions,
  type Counter,
  consumeLoop,
  counter,
  dispositionFor,
  gauge,
  type Logger,
  type Service,
  type ServiceDeps,
  stageLifecycle,
} from '../runtime/index.ts';
import type { ScrapersConfig } from './config.ts';
import { createHttpClient } from './http/index.ts';
import { type PlannerContext, planRun } from './planner.ts';
import { finishedJobMessages, migrateRunHistory } from './run-history.ts';
import { handleJob, type WorkerContext } from './worker.ts';

export const tickRunId = (job: string, scheduledAt: string) => `tick:${job}:${scheduledAt}`;

/**
 * Scraper workers pull jobs from the JOBS work queue, fetch and parse, publish envelopes to
 * `harbour.raw.<dataset>`; with `planner` on, the same process turns ticks into jobs. Add
 * processes to scale: they share the durable consumers.
 */
export async function startScrapers(config: ScrapersConfig, deps: ServiceDeps): Promise<Service> {
  const log = deps.logger.child({ component: 'scrapers' });
  await migrateRunHistory(deps.pool);
  const http = createHttpClient(config.http, { logger: log, metrics: { registry: deps.registry } });
  const metrics = scraperMetrics(deps);
  const cleanJobs = jobsCleaner(deps, metrics.jobsRemoved, log);
  let cleanTimer: NodeJS.Timeout | undefined;

  const lifecycle = stageLifecycle('scrapers', log, deps, {
    drain: async () => {
      clearInterval(cleanTimer);
      await Promise.allSettled(loops);
      await http.close();
    },
    force: () => {
      clearInterval(cleanTimer);
      return http.close();
    },
  });
  const { signal } = lifecycle;
  // A job's message is kept alive at a third of the JOBS consumer's ack wait.
  const { config: jobsConsumer } = await deps.jsm.consumers.info(streamNames.jobs, consumerNames.scrapers);
  const keepAliveMs = Math.max(100, Number(jobsConsumer.ack_wait ?? 30e9) / 1e6 / 3);
  const common = { js: deps.js, pool: deps.pool, http, sources: config.sources, logger: log, signal };
  const loops = [workerLoop(config, { common, metrics }, keepAliveMs)];
  if (config.planner) loops.push(plannerLoop(config, deps, { common, metrics }));
  if (config.jobsCleanEveryMs > 0) {
    cleanTimer = setInterval(() => void cleanJobs(), config.jobsCleanEveryMs);
    void cleanJobs();
  }
  deps.health.add('scrapers', () => ({
    ok: !signal.aborted,
    detail: `http budget left ${http.budgetRemaining()}`,
  }));
  return lifecycle;
}

/** The scrapers' own metrics (the HTTP client registers its own). */
function scraperMetrics(deps: ServiceDeps) {
  const r = deps.registry;
  const jobsTotal = counter(r, 'harbour_scraper_jobs_total', 'job outcomes', ['dataset', 'outcome']);
  const recordsTotal = counter(r, 'harbour_scraper_records_published_total', 'rows published to RAW', [
    'dataset',
  ]);
  const envelopesTotal = counter(
    r,
    'harbour_scraper_envelopes_published_total',
    'envelopes published to RAW',
    ['dataset'],
  );
  const dlqTotal = counter(r, 'harbour_dlq_messages_total', 'messages sent to the DLQ', ['stage', 'code']);
  gauge(
    r,
    'harbour_scraper_jobs_pending',
    'jobs waiting in the JOBS queue (not yet delivered) plus delivered and unacked',
    [],
    async function () {
      try {
        const info = await deps.jsm.consumers.info(streamNames.jobs, consumerNames.scrapers);
        this.set(info.num_pending + info.num_ack_pending);
      } catch {
        // NATS unreachable: leave the last value.
      }
    },
  );
  const jobsRemoved = counter(
    r,
    'harbour_scraper_acked_jobs_removed_total',
    'acked jobs removed from the JOBS work queue (left behind the ack floor by a nats-server crash)',
    [],
  );
  return { jobsTotal, recordsTotal, envelopesTotal, dlqTotal, jobsRemoved };
}

/** What both consume loops are given: what their handlers share, and the service's metrics. */
interface LoopContext {
  common: Pick<WorkerContext & PlannerContext, 'js' | 'pool' | 'http' | 'sources' | 'logger' | 'signal'>;
  metrics: ReturnType<typeof scraperMetrics>;
}

/**
 * Removes acked jobs a nats-server crash left in the work queue (see
 * dropFinishedWorkQueueMessages); a failed clean-up is skipped until the next one.
 */
function jobsCleaner(deps: ServiceDeps, jobsRemoved: Counter<never>, log: Logger): () => Promise<void> {
  return async () => {
    try {
      const dropped = await dropFinishedWorkQueueMessages(
        deps.jsm,
        streamNames.jobs,
        consumerNames.scrapers,
        (msgs) => finishedJobMessages(deps.pool, msgs),
      );
      jobsRemoved.inc(dropped);
      if (dropped) log.info({ dropped }, 'removed acked jobs left in the JOBS work queue');
    } catch (err) {
      log.debug({ err }, 'JOBS clean-up skipped');
    }
  };
}

/** The job workers: `concurrency` jobs at once from JOBS. */
function workerLoop(config: ScrapersConfig, ctx: LoopContext, keepAliveMs: number): Promise<void> {
  const { metrics } = ctx;
  const workerCtx: WorkerContext = {
    ...ctx.common,
    maxAttempts: config.maxAttempts,
    retryBaseDelayMs: config.retryBaseDelayMs,
    maxRowsPerEnvelope: config.maxRowsPerEnvelope,
    keepAliveMs,
    onOutcome: (dataset: string, outcome: string) => metrics.jobsTotal.inc({ dataset, outcome }),
    onPublished: (dataset: string, envelopes: number, rows: number) => {
      metrics.envelopesTotal.inc({ dataset }, envelopes);
      metrics.recordsTotal.inc({ dataset }, rows);
    },
  };
  return serviceLoop(ctx, {
    stream: streamNames.jobs,
    consumer: consumerNames.scrapers,
    concurrency: config.concurrency,
    stage: 'scrapers',
    handle: (msg) => handleJob(workerCtx, msg),
  });
}

/** The planner: one tick at a time from TICKS, each planned into a run of jobs. */
function plannerLoop(config: ScrapersConfig, deps: ServiceDeps, ctx: LoopContext): Promise<void> {
  const { signal } = ctx.common;
  const plannerCtx: PlannerContext = {
    ...ctx.common,
    calendar: deps.calendar ?? createCalendar(),
    codes: config.codes,
  };
  return serviceLoop(ctx, {
    stream: streamNames.ticks,
    consumer: consumerNames.planner,
    concurrency: 1,
    stage: 'planner',
    handle: async (msg) => {
      try {
        const tick = tickValidator.parse(msg.json());
        if (!tick.dataset) return { kind: 'ack' };
        await planRun(plannerCtx, {
          runId: tickRunId(tick.job, tick.scheduled_at),
          dataset: tick.dataset,
          date: tick.date,
          trigger: tick.catch_up ? 'schedule (catch-up)' : 'schedule',
        });
        return { kind: 'ack' };
      } catch (err) {
        if (signal.aborted) return 'aborted';
        // A catch-up tick of a past fundamentals date: refused and recorded as failed by the planner; retrying cannot help.
        if (isHarbourError(err, ErrorCodes.SnapshotOnly)) return { kind: 'ack' };
        return dispositionFor(err, msg.info.deliveryCount, config.maxAttempts, config.retryBaseDelayMs);
      }
    },
  });
}

/** A consume loop of this service; what it sends to the DLQ is counted by its stage. */
function serviceLoop(
  { common, metrics }: LoopContext,
  opts: Pick<ConsumeLoopOptions, 'stream' | 'consumer' | 'concurrency' | 'stage' | 'handle'>,
): Promise<void> {
  return consumeLoop({
    ...opts,
    js: common.js,
    logger: common.logger,
    signal: common.signal,
    onDlq: (code) => metrics.dlqTotal.inc({ stage: opts.stage, code }),
  });
}
