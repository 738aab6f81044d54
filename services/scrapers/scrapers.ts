import { ErrorCodes, isHarbourError, tickValidator } from '../../contracts/index.ts';
import { consumerNames, dropFinishedWorkQueueMessages, streamNames } from '../../streams/index.ts';
import { createCalendar } from '../calendar/index.ts';
import {
  consumeLoop,
  counter,
  createLifecycle,
  dispositionFor,
  gauge,
  type Service,
  type ServiceDeps,
} from '../runtime/index.ts';
import type { ScrapersConfig } from './config.ts';
import { createHttpClient } from './http/index.ts';
import { planRun } from './planner.ts';
import { finishedJobMessages, migrateRunHistory } from './run-history.ts';
import { handleJob } from './worker.ts';

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
  const calendar = deps.calendar ?? createCalendar();
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

  // Acked jobs a nats-server crash left in the work queue (see dropFinishedWorkQueueMessages).
  const jobsRemoved = counter(
    r,
    'harbour_scraper_acked_jobs_removed_total',
    'acked jobs removed from the JOBS work queue (left behind the ack floor by a nats-server crash)',
    [],
  );
  const cleanJobs = async () => {
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
  let cleanTimer: NodeJS.Timeout | undefined;

  const lifecycle = createLifecycle({
    name: 'scrapers',
    logger: log,
    drainTimeoutMs: deps.drainTimeoutMs,
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
  const jobsConsumer = await deps.jsm.consumers.info(streamNames.jobs, consumerNames.scrapers);
  const workerCtx = {
    js: deps.js,
    pool: deps.pool,
    http,
    sources: config.sources,
    maxAttempts: config.maxAttempts,
    retryBaseDelayMs: config.retryBaseDelayMs,
    maxRowsPerEnvelope: config.maxRowsPerEnvelope,
    keepAliveMs: Math.max(100, Number(jobsConsumer.config.ack_wait ?? 30e9) / 1e6 / 3),
    logger: log,
    signal,
    onOutcome: (dataset: string, outcome: string) => jobsTotal.inc({ dataset, outcome }),
    onPublished: (dataset: string, envelopes: number, rows: number) => {
      envelopesTotal.inc({ dataset }, envelopes);
      recordsTotal.inc({ dataset }, rows);
    },
  };
  const loops = [
    consumeLoop({
      js: deps.js,
      stream: streamNames.jobs,
      consumer: consumerNames.scrapers,
      concurrency: config.concurrency,
      stage: 'scrapers',
      logger: log,
      signal,
      handle: (msg) => handleJob(workerCtx, msg),
      onDlq: (code) => dlqTotal.inc({ stage: 'scrapers', code }),
    }),
  ];
  if (config.planner) {
    const plannerCtx = {
      js: deps.js,
      pool: deps.pool,
      http,
      sources: config.sources,
      calendar,
      codes: config.codes,
      logger: log,
      signal,
    };
    loops.push(
      consumeLoop({
        js: deps.js,
        stream: streamNames.ticks,
        consumer: consumerNames.planner,
        concurrency: 1,
        stage: 'planner',
        logger: log,
        signal,
        onDlq: (code) => dlqTotal.inc({ stage: 'planner', code }),
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
      }),
    );
  }
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
