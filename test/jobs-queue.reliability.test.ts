/**
 * The JOBS work queue after a nats-server crash, on real nats-server, Postgres and the fixture HKEX
 * site: a kill -9 mid-backfill can leave acked jobs in the work-queue stream behind the consumer's
 * ack floor (never delivered again, never deleted), and right after the restart it reports an ack
 * floor past jobs it still redelivers. Every job is done (none is lost to the clean-up), then the
 * monitor's work-queue depth is 0 and the scrapers have removed the finished leftovers, so no false
 * backlog stays.
 */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { MonitorConfig, startMonitor } from '../services/monitor/index.ts';
import type { Service, ServiceDeps } from '../services/runtime/index.ts';
import { runProgress, ScrapersConfig, startScrapers } from '../services/scrapers/index.ts';
import { consumerNames, streamNames } from '../streams/index.ts';
import { serviceDeps, until } from './support/infra.ts';
import { publishTick, useSuiteInfra } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';

/** One sample of a metric (no labels or the given label set) from the registry's exposition. */
async function sample(deps: ServiceDeps, name: string, labels = ''): Promise<number | undefined> {
  for (const line of (await deps.registry.metrics()).split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '') === labels) return Number(m[3]);
  }
  return undefined;
}

describe('JOBS depth after a nats-server kill mid-backfill', () => {
  const stocks = CHAOS ? 120 : 40;
  const kills = CHAOS ? 3 : 1;
  const dates = ['2026-10-05', '2026-10-06', '2026-10-07', '2026-10-08', '2026-10-09'];
  const running: Service[] = [];
  const infra = useSuiteInfra({
    topology: { jobsAckWaitMs: 2000 },
    site: { seed: 11, stocks, today: '2026-10-16' },
    beforeStop: () => Promise.allSettled(running.map((s) => s.close())),
  });

  it(`jobs waiting returns to 0 and the queue holds nothing once ${stocks * dates.length} jobs are done`, {
    timeout: CHAOS ? 600_000 : 180_000,
  }, async () => {
    const defaults = Value.Default(ScrapersConfig, {}) as ScrapersConfig;
    const scraperDeps = await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool });
    running.push(
      await startScrapers(
        {
          ...defaults,
          sources: {
            ccassBaseUrl: infra.site.url,
            hkexBaseUrl: infra.site.url,
            quoteBaseUrl: infra.site.url,
          },
          http: {
            ...defaults.http,
            requestsPerSecond: 200,
            burst: 40,
            perHostConcurrency: 8,
            timeoutMs: 3000,
          },
          concurrency: 8,
          retryBaseDelayMs: 100,
          jobsCleanEveryMs: 1000,
        },
        scraperDeps,
      ),
    );
    const monitorDeps = await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool });
    running.push(
      await startMonitor(
        { ...(Value.Default(MonitorConfig, {}) as MonitorConfig), refreshEveryMs: 200 },
        monitorDeps,
      ),
    );

    const runIds: string[] = [];
    for (const date of dates)
      runIds.push(
        (
          await publishTick(infra.nats, {
            job: 'ccass-daily',
            date,
            scheduledAt: `${date}T01:00:00.000Z`,
            dataset: 'ccass',
          })
        ).runId,
      );
    const total = stocks * dates.length;
    const progress = () => runProgress(infra.db.pool, runIds);
    // Kill -9 nats-server while the scrapers are in the middle of the work (at 1/4, 2/4, 3/4 of it).
    const killedAt: number[] = [];
    for (let k = 1; k <= kills; k++) {
      const at = Math.floor((total * k) / (kills + 1));
      await until(async () => (await progress()).finished >= at, 120_000, `${at} jobs done`);
      killedAt.push((await progress()).finished);
      await infra.nats.server.kill();
      await new Promise((r) => setTimeout(r, 1000));
      await infra.nats.server.start();
    }

    await until(
      async () => {
        const p = await progress();
        return p.total === total && p.finished === total;
      },
      CHAOS ? 500_000 : 150_000,
      'every job to finish after the restart',
    ).catch(async (err: Error) => {
      // What a stall looks like: job outcomes so far and the JOBS consumer's view.
      const p = await progress();
      const consumer = await infra.nats.jsm.consumers
        .info(streamNames.jobs, consumerNames.scrapers)
        .catch((e) => String(e));
      throw new Error(
        `${err.message}; killed at ${killedAt.join(', ')}; progress ${JSON.stringify(p)}; JOBS consumer ${JSON.stringify(consumer)}`,
      );
    });
    const p = await progress();
    expect(p.byStatus).toEqual({ done: total });
    const jobsLabels = `{stream="${streamNames.jobs}"}`;
    await until(
      async () =>
        (await sample(monitorDeps, 'harbour_jetstream_workqueue_depth', jobsLabels)) === 0 &&
        (await sample(monitorDeps, 'harbour_jetstream_stream_messages', jobsLabels)) === 0,
      20_000,
      'jobs waiting (work-queue depth) and the JOBS stream to reach 0',
    );
    const removed = (await sample(scraperDeps, 'harbour_scraper_acked_jobs_removed_total')) ?? Number.NaN;
    console.log(
      `JOBS after nats-server kill -9s at ${killedAt.join(', ')}/${total} jobs done: depth 0, stream empty; ${removed} acked jobs removed from behind the ack floor`,
    );
    expect((await infra.nats.jsm.streams.info(streamNames.jobs)).state.messages).toBe(0);
  });
});
