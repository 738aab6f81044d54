/**
 * Planning against the trading calendar on real NATS and Postgres: no job on a holiday, any year;
 * and a day the calendar did not know was closed (no report) is recorded, not retried forever.
 */
import { jetstream } from '@nats-io/jetstream';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { ScrapeJob } from '../../contracts/index.ts';
import { defaultSamplesDir, PATHS, startFixtureSite } from '../../ops/fixture-site/index.ts';
import { streamNames } from '../../streams/index.ts';
import { HKEX_2024_CLOSURES } from '../../test/support/hkex-fixtures.ts';
import { readStream, serviceDeps, until } from '../../test/support/infra.ts';
import { siteScrapersConfig, useSuiteInfra } from '../../test/support/suite.ts';
import { addDays, createCalendar } from '../calendar/index.ts';
import { silentLogger } from '../runtime/index.ts';
import { SourcesConfig } from './config.ts';
import { createHttpClient } from './http/index.ts';
import { planRun } from './planner.ts';
import { migrateRunHistory, runProgress } from './run-history.ts';
import { startScrapers } from './scrapers.ts';

const infra = useSuiteInfra({ prepare: () => migrateRunHistory(infra.db.pool) });

describe('a 2024 backfill of quotations', () => {
  it('plans one job per 2024 trading day and none on a 2024 holiday (recorded as skipped)', {
    timeout: 120_000,
  }, async () => {
    const calendar = createCalendar();
    // Quotations are one job per day: the planner never fetches the stock list for them.
    const http = createHttpClient();
    const ctx = {
      js: jetstream(infra.nats.nc),
      pool: infra.db.pool,
      http,
      sources: Value.Default(SourcesConfig, {}) as SourcesConfig,
      calendar,
      codes: [],
      logger: silentLogger(),
    };
    try {
      for (let d = '2024-01-01'; d <= '2024-12-31'; d = addDays(d, 1)) {
        await planRun(ctx, {
          runId: `backfill:test:quotes:${d}`,
          dataset: 'quotes',
          date: d,
          trigger: 'backfill',
        });
      }
    } finally {
      await http.close();
    }
    const jobs = (await readStream<ScrapeJob>(infra.nats.jsm, streamNames.jobs)).map((m) => m.data);
    const planned = jobs.map((j) => j.date).sort();
    expect(planned).toHaveLength(247); // 262 weekdays − 15 HKEX closures
    for (const holiday of HKEX_2024_CLOSURES) {
      expect(planned).not.toContain(holiday);
    }
    expect(planned).toContain('2024-12-24'); // Christmas Eve: a half day, traded
    const { rows } = await infra.db.pool.query<{ status: string; n: number }>(
      `select status, count(*)::int as n from scrape_runs group by status order by status`,
    );
    expect(rows).toEqual([
      { status: 'planned', n: 247 },
      { status: 'skipped_holiday', n: 366 - 247 },
    ]);
  });
});

describe('a trading day on which the exchange turned out closed (no report)', () => {
  it('is recorded as no_data after one request, not retried', { timeout: 120_000 }, async () => {
    await infra.nats.jsm.streams.purge(streamNames.jobs);
    // The site (the "real" exchange) stayed shut on Thursday 2026-10-08, e.g. for a typhoon; the
    // pipeline's calendar was not told (market.holidaysAdd), so it plans that day.
    const site = await startFixtureSite({
      samplesDir: defaultSamplesDir(),
      seed: 3,
      stocks: 6, // more than the five fixed stocks: the universe then has a GEM stock, so both reports have rows
      today: '2026-10-16',
      market: { holidaysAdd: ['2026-10-08'] },
    });
    const scrapers = await startScrapers(
      siteScrapersConfig(site.url, { planner: false }),
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool }),
    );
    const http = createHttpClient();
    try {
      const ctx = {
        js: jetstream(infra.nats.nc),
        pool: infra.db.pool,
        http,
        sources: Value.Default(SourcesConfig, {}) as SourcesConfig,
        calendar: createCalendar(),
        codes: [],
        logger: silentLogger(),
      };
      const runs = ['2026-10-08', '2026-10-09'].map((d) => `backfill:closed:quotes:${d}`);
      for (const [i, date] of ['2026-10-08', '2026-10-09'].entries()) {
        const planned = await planRun(ctx, { runId: runs[i]!, dataset: 'quotes', date, trigger: 'backfill' });
        expect(planned.status).toBe('planned');
      }
      await until(
        async () => (await runProgress(infra.db.pool, runs)).finished === 2,
        60_000,
        'both runs to finish',
      );
      const { rows } = await infra.db.pool.query<{ date: string; status: string }>(
        `select r.business_date::text as date, j.status from scrape_jobs j join scrape_runs r using (run_id)
         where r.run_id = any($1) order by r.business_date`,
        [runs],
      );
      expect(rows).toEqual([
        { date: '2026-10-08', status: 'no_data' },
        { date: '2026-10-09', status: 'done' },
      ]);
      await new Promise((r) => setTimeout(r, 1000)); // a retry would come within this (100 ms base)
      expect(site.stats().of(`${PATHS.quotationsDir}d261008e.htm`)).toBe(1);
      expect((await runProgress(infra.db.pool, runs)).byStatus).toEqual({ no_data: 1, done: 1 });
    } finally {
      await http.close();
      await scrapers.close();
      await site.close();
    }
  });
});
