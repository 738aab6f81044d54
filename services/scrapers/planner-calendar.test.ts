/** Planning against the trading calendar on real NATS and Postgres: no job on a holiday, any year. */
import { jetstream } from '@nats-io/jetstream';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScrapeJob } from '../../contracts/index.ts';
import { ensureTopology, streamNames, TopologyConfig } from '../../streams/index.ts';
import { freshDatabase, readStream, startTestNats } from '../../test/support/infra.ts';
import { addDays, createCalendar } from '../calendar/index.ts';
import { silentLogger } from '../runtime/index.ts';
import { SourcesConfig } from './config.ts';
import { createHttpClient } from './http/index.ts';
import { planRun } from './planner.ts';
import { migrateRunHistory } from './run-history.ts';

let nats: Awaited<ReturnType<typeof startTestNats>>;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  [nats, db] = await Promise.all([startTestNats(), freshDatabase()]);
  await ensureTopology(nats.nc, nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
  await migrateRunHistory(db.pool);
});
afterAll(async () => {
  await db?.drop();
  await nats?.stop();
});

describe('a 2024 backfill of quotations', () => {
  it('plans one job per 2024 trading day and none on a 2024 holiday (recorded as skipped)', {
    timeout: 120_000,
  }, async () => {
    const calendar = createCalendar();
    // Quotations are one job per day: the planner never fetches the stock list for them.
    const http = createHttpClient();
    const ctx = {
      js: jetstream(nats.nc),
      pool: db.pool,
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
    const jobs = (await readStream<ScrapeJob>(nats.jsm, streamNames.jobs)).map((m) => m.data);
    const planned = jobs.map((j) => j.date).sort();
    expect(planned).toHaveLength(247); // 262 weekdays − 15 HKEX closures
    for (const holiday of [
      '2024-01-01',
      '2024-02-12',
      '2024-02-13',
      '2024-03-29',
      '2024-04-01',
      '2024-04-04',
      '2024-05-01',
      '2024-05-15',
      '2024-06-10',
      '2024-07-01',
      '2024-09-18',
      '2024-10-01',
      '2024-10-11',
      '2024-12-25',
      '2024-12-26',
    ]) {
      expect(planned).not.toContain(holiday);
    }
    expect(planned).toContain('2024-12-24'); // Christmas Eve: a half day, traded
    const { rows } = await db.pool.query<{ status: string; n: number }>(
      `select status, count(*)::int as n from scrape_runs group by status order by status`,
    );
    expect(rows).toEqual([
      { status: 'planned', n: 247 },
      { status: 'skipped_holiday', n: 366 - 247 },
    ]);
  });
});
