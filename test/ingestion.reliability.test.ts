/**
 * Ingestion under repeated failures, on real nats-server, Postgres and the fixture HKEX site (the
 * long variants of the scraper-kill and hostile-page cases of test/ingestion.test.ts):
 *
 * 1. The scraper process (as deployed) is killed with SIGKILL at random moments while it works
 *    CCASS and quotation runs, and restarted each time: every job ends done, RAW holds each page
 *    once with exactly what the site serves, nothing is dead-lettered.
 * 2. Rounds of hostile answers (5xx, connection resets, slow answers, maintenance pages, truncated
 *    pages) over whole runs: every run completes with what the site serves and nothing of a
 *    maintenance or truncated page reaches RAW; a page that stays in maintenance ends in the DLQ
 *    with its reason, and nothing of it is published.
 *
 * Default (CI) size is small; `npm run test:chaos` (HARBOUR_CHAOS=1) runs more stocks, dates, kills
 * and rounds.
 */
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../contracts/index.ts';
import { type Service, silentLogger } from '../services/runtime/index.ts';
import { createCalendar } from '../services/scheduler/index.ts';
import {
  createHttpClient,
  migrateRunHistory,
  planRun,
  runProgress,
  startScrapers,
} from '../services/scrapers/index.ts';
import { streamNames } from '../streams/index.ts';
import { readStream, serviceDeps, testDir } from './support/infra.ts';
import { logTail, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';
import { publishDailyRuns, siteScrapersConfig, siteSources, useSuiteInfra } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const STOCKS = CHAOS ? 40 : 10;
const KILL_DATES = CHAOS
  ? ['2026-10-05', '2026-10-06', '2026-10-07', '2026-10-08', '2026-10-09']
  : ['2026-10-05', '2026-10-06'];
const KILLS = CHAOS ? 10 : 2;
const HOSTILE_DATES = CHAOS
  ? ['2026-09-14', '2026-09-15', '2026-09-16', '2026-09-17', '2026-09-18']
  : ['2026-09-14'];
const DLQ_CODES = CHAOS ? 5 : 1;
const ACK_WAIT_MS = 2000;

const infra = useSuiteInfra({
  topology: { jobsAckWaitMs: ACK_WAIT_MS },
  site: { seed: 31, stocks: STOCKS, today: '2026-10-16' },
  prepare: () => migrateRunHistory(infra.db.pool),
});
const publishRuns = (dates: readonly string[]) => publishDailyRuns(infra.nats, dates);

/** RAW holds each page of `dates` once, with exactly the rows the site serves. */
async function expectRawMatchesSite(dates: readonly string[]): Promise<number> {
  const raw = (await readStream<Envelope>(infra.nats.jsm, streamNames.raw)).map((m) => m.data);
  const mine = raw.filter((e) => dates.includes(e.as_of));
  const perPage = new Map<string, number>();
  for (const e of mine)
    perPage.set(
      `${e.dataset}|${e.key}|${e.as_of}`,
      (perPage.get(`${e.dataset}|${e.key}|${e.as_of}`) ?? 0) + 1,
    );
  expect(
    [...perPage].filter(([, n]) => n > 1),
    'pages in RAW more than once',
  ).toEqual([]);
  for (const date of dates) {
    for (const { code } of infra.site.universe()) {
      const rows = mine
        .filter((e) => e.dataset === 'ccass' && e.as_of === date && e.key.split('#')[0] === code)
        .flatMap((e) => e.rows);
      expect(rows, `ccass ${code} ${date}`).toEqual(infra.site.model.ccassRows(code, date));
    }
    const quotes = mine.filter((e) => e.dataset === 'quotes' && e.as_of === date).flatMap((e) => e.rows);
    expect(quotes, `quotes ${date}`).toEqual(infra.site.model.quoteRows(date));
  }
  return mine.length;
}

describe('scraper process killed again and again mid-run', () => {
  let child: ServiceProcess | undefined;
  afterAll(async () => child?.stop('SIGKILL'));

  it(`every job is done and RAW holds each page once after ${KILLS} kill -9s`, {
    timeout: CHAOS ? 900_000 : 180_000,
  }, async () => {
    const logPath = join(await testDir('scraper-kill-log'), 'scrapers.log');
    const env = infra.env({
      HARBOUR_TOPOLOGY_JOBS_ACK_WAIT_MS: String(ACK_WAIT_MS),
      HARBOUR_SCRAPERS_HTTP_REQUESTS_PER_SECOND: '100',
      HARBOUR_SCRAPERS_CONCURRENCY: '3',
      HARBOUR_SCRAPERS_RETRY_BASE_DELAY_MS: '500',
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'warn',
    });
    child = await startServiceProcess('scrapers', env, logPath);
    infra.site.faults.set({ slowMs: 300, pathPrefix: '/sdw/search/searchsdw.aspx' });
    const runIds = await publishRuns(KILL_DATES);
    const expected = KILL_DATES.length * (STOCKS + 1);
    const done = async () => (await runProgress(infra.db.pool, runIds)).byStatus.done ?? 0;
    const killedAt: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      // Kill while it works: once this incarnation finished a job, at a random moment after.
      const before = await done();
      await until(async () => (await done()) > before, 60_000, 'progress before the next kill').catch(
        async (err) => {
          console.error(await logTail(logPath));
          throw err;
        },
      );
      if ((await done()) >= expected) break;
      await new Promise((r) => setTimeout(r, Math.random() * 500));
      await child.stop('SIGKILL');
      killedAt.push(await done());
      child = await startServiceProcess('scrapers', env, logPath);
    }
    await until(
      async () => {
        const p = await runProgress(infra.db.pool, runIds);
        return p.total === expected && p.finished === p.total;
      },
      CHAOS ? 600_000 : 120_000,
      'every job to finish',
    );
    infra.site.faults.reset();
    await child.stop('SIGTERM');
    child = undefined;
    expect((await runProgress(infra.db.pool, runIds)).byStatus).toEqual({ done: expected });
    expect(killedAt.length).toBeGreaterThan(0);
    const envelopes = await expectRawMatchesSite(KILL_DATES);
    expect((await infra.nats.jsm.streams.info(streamNames.dlq)).state.messages).toBe(0);
    console.log(
      `scraper kill test: ${expected} jobs, ${killedAt.length} kill -9s (at ${killedAt.join(', ')} jobs done); all done, RAW ${envelopes} envelopes, each page once`,
    );
  });
});

describe('hostile answers over whole runs', () => {
  let scrapers: Service | undefined;
  afterAll(async () => scrapers?.close());

  it('every run completes with what the site serves; a page that stays in maintenance is dead-lettered', {
    timeout: CHAOS ? 900_000 : 180_000,
  }, async () => {
    const sources = siteSources(infra.site.url);
    scrapers = await startScrapers(
      siteScrapersConfig(infra.site.url, { maxAttempts: 8 }, { perHostConcurrency: 4, timeoutMs: 1500 }),
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool }),
    );
    // Faults that fired over the rounds (`reset()` zeroes the site's own counters).
    const firedInRounds: Record<string, number> = {};
    for (const [round, date] of HOSTILE_DATES.entries()) {
      // Transient faults sprinkled over the run: each absorbed by HTTP retries or job retries.
      infra.site.faults.reset();
      infra.site.faults.set({ status5xx: { count: 2 + (round % 3), status: round % 2 ? 502 : 503 } });
      infra.site.faults.set({ reset: 1 + (round % 2) });
      infra.site.faults.set({ slowMs: 2000, count: 1 });
      infra.site.faults.set({ maintenance: 2 + round, truncate: 2 + round });
      const runIds = await publishRuns([date]);
      await until(
        async () => {
          const p = await runProgress(infra.db.pool, runIds);
          return p.total === STOCKS + 1 && p.finished === p.total;
        },
        CHAOS ? 300_000 : 120_000,
        `round ${round + 1} to finish`,
      );
      expect((await runProgress(infra.db.pool, runIds)).byStatus, `round ${round + 1}`).toEqual({
        done: STOCKS + 1,
      });
      for (const [k, n] of Object.entries(infra.site.faults.fired))
        firedInRounds[k] = (firedInRounds[k] ?? 0) + n;
    }
    infra.site.faults.reset();
    await expectRawMatchesSite(HOSTILE_DATES);
    expect(firedInRounds.maintenance).toBeGreaterThan(0);
    expect(firedInRounds.truncate).toBeGreaterThan(0);
    expect(firedInRounds.status5xx).toBeGreaterThan(0);

    // A page that stays in maintenance: dead-lettered with the reason after maxAttempts, never published.
    infra.site.faults.set({ maintenance: true });
    const http = createHttpClient({});
    const date = '2026-09-21';
    const codes = infra.site
      .universe()
      .slice(0, DLQ_CODES)
      .map((s) => s.code);
    const runId = `hostile:maintenance:${date}`;
    await planRun(
      {
        js: jetstream(infra.nats.nc),
        pool: infra.db.pool,
        http,
        sources,
        calendar: createCalendar(),
        codes,
        logger: silentLogger(),
      },
      { runId, dataset: 'ccass', date, trigger: 'test' },
    );
    await http.close();
    await until(
      async () => {
        const p = await runProgress(infra.db.pool, [runId]);
        return p.total === codes.length && p.finished === p.total;
      },
      CHAOS ? 300_000 : 120_000,
      'the maintenance jobs to be dead-lettered',
    );
    infra.site.faults.reset();
    expect((await runProgress(infra.db.pool, [runId])).byStatus).toEqual({ dlq: codes.length });
    const { rows } = await infra.db.pool.query<{ outcome_code: string }>(
      'select outcome_code from scrape_jobs where run_id = $1',
      [runId],
    );
    expect(rows.map((r) => r.outcome_code)).toEqual(codes.map(() => 'HARBOUR_ERR_PARSE_MAINTENANCE'));
    const raw = (await readStream<Envelope>(infra.nats.jsm, streamNames.raw)).map((m) => m.data);
    expect(raw.filter((e) => e.as_of === date)).toEqual([]);
    const dlq = (await readStream<{ code: string }>(infra.nats.jsm, streamNames.dlq)).map((m) => m.data);
    expect(dlq.filter((d) => d.code === 'HARBOUR_ERR_PARSE_MAINTENANCE')).toHaveLength(codes.length);
    console.log(
      `hostile pages: ${HOSTILE_DATES.length} run(s) of ${STOCKS + 1} jobs each completed through faults ${JSON.stringify(firedInRounds)}; ` +
        `${codes.length} page(s) kept in maintenance dead-lettered, nothing published`,
    );
  });
});
