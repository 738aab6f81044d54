/**
 * Fundamentals are snapshots: on real nats-server + Postgres + the fixture site (token-guarded quote
 * widget), the scheduled daily tick of today is collected through the token flow, while a tick for
 * a past date is refused, recorded as a failed run and acknowledged (no job, no DLQ entry).
 */
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { type Envelope, SCHEMA_VERSION, type Tick } from '../../contracts/index.ts';
import { PATHS } from '../../ops/fixture-site/index.ts';
import { streamNames, subjects } from '../../streams/index.ts';
import { readStream, serviceDeps, until } from '../../test/support/infra.ts';
import { siteScrapersConfig, siteSources, useSuiteInfra } from '../../test/support/suite.ts';
import { addDays, createCalendar, localDate } from '../calendar/index.ts';
import type { Service } from '../runtime/index.ts';
import { runProgress } from './run-history.ts';
import { startScrapers, tickRunId } from './scrapers.ts';

let scrapers: Service | undefined;

const CODES = ['00700', '00005'];

const infra = useSuiteInfra({
  // the site's today is the real Hong Kong date, as for the planner
  site: { seed: 9, stocks: 8 },
  prepare: async () => {
    const url = infra.site.url;
    scrapers = await startScrapers(
      siteScrapersConfig(url, {
        sources: { ...siteSources(url), quoteBaseUrl: `${url}/hkexwidget` },
        codes: CODES,
        maxAttempts: 3,
      }),
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool }),
    );
  },
  beforeStop: async () => scrapers?.close(),
});

const publishTick = (t: Tick) =>
  jetstream(infra.nats.nc).publish(subjects.tick(t.job), JSON.stringify(t), {
    msgID: `${t.job}:${t.scheduled_at}`,
  });

describe('fundamentals ticks', () => {
  it('collects today through the token flow and refuses a past date without a job or a dead letter', {
    timeout: 60_000,
  }, async () => {
    const calendar = createCalendar();
    const today = calendar.previousTradingDay(addDays(localDate(new Date(), 'Asia/Hong_Kong'), 1));
    const daily: Tick = {
      schema_version: SCHEMA_VERSION,
      job: 'fundamentals-daily',
      scheduled_at: `${today}T11:00:00.000Z`,
      date: today,
      dataset: 'fundamentals',
      catch_up: false,
    };
    await publishTick(daily);
    const runId = tickRunId(daily.job, daily.scheduled_at);
    await until(
      async () => {
        const p = await runProgress(infra.db.pool, [runId]);
        return p.total === CODES.length && p.finished === p.total;
      },
      30_000,
      'the daily fundamentals run to finish',
    );
    expect((await runProgress(infra.db.pool, [runId])).byStatus).toEqual({ done: 2 });
    const raw = (
      await readStream<Envelope>(infra.nats.jsm, streamNames.raw, subjects.raw('fundamentals'))
    ).map((m) => m.data);
    expect(raw.map((e) => e.key).sort()).toEqual([...CODES].sort());
    for (const e of raw) {
      expect(e.as_of).toBe(infra.site.model.latestTradingDay());
      const want = infra.site.model.fundamental(e.key)!;
      expect(e.rows).toHaveLength(1);
      // amounts printed in M/B units are rounded by the widget; prices, EPS, P/E and shares are exact
      expect(e.rows[0]).toMatchObject({
        code: e.key,
        as_of: want.as_of,
        last: want.last,
        prev_close: want.prev_close,
        eps: want.eps,
        pe: want.pe,
        issued_shares: want.issued_shares,
      });
    }
    // one token page read for the whole run
    expect(infra.site.stats().of(PATHS.equitiesPage)).toBe(1);

    const past = calendar.previousTradingDay(today);
    const catchUp: Tick = { ...daily, scheduled_at: `${past}T11:00:00.000Z`, date: past, catch_up: true };
    await publishTick(catchUp);
    const pastRun = tickRunId(catchUp.job, catchUp.scheduled_at);
    await until(
      async () =>
        (await infra.db.pool.query('select 1 from scrape_runs where run_id = $1', [pastRun])).rowCount ===
          1 && (await infra.nats.jsm.consumers.info(streamNames.ticks, 'planner')).num_ack_pending === 0,
      15_000,
      'the past tick to be handled',
    );
    const { rows } = await infra.db.pool.query<{ status: string; planned_jobs: number; note: string }>(
      'select status, planned_jobs, note from scrape_runs where run_id = $1',
      [pastRun],
    );
    expect(rows[0]).toMatchObject({ status: 'failed', planned_jobs: 0 });
    expect(rows[0]!.note).toMatch(
      new RegExp(`${past} is past, the earliest date that can be collected now is ${today}`),
    );
    expect((await infra.nats.jsm.consumers.info(streamNames.ticks, 'planner')).num_pending).toBe(0);
    // retried it would reach the DLQ within this (maxAttempts 3, first retry after ~100 ms)
    await new Promise((r) => setTimeout(r, 1500));
    expect((await infra.nats.jsm.streams.info(streamNames.dlq)).state.messages).toBe(0);
    expect(
      Number(
        (await infra.db.pool.query('select count(*) as n from scrape_jobs where run_id = $1', [pastRun]))
          .rows[0].n,
      ),
    ).toBe(0);
  });
});
