/**
 * Ingestion end to end on real components: ticks → planner → JOBS → scraper workers → RAW, against
 * the fixture HKEX site over HTTP, with run history in Postgres.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { type Envelope, SCHEMA_VERSION, type Tick } from '../contracts/index.ts';
import type { Service } from '../services/runtime/index.ts';
import {
  migrateRunHistory,
  runProgress,
  type ScrapersConfig,
  startScrapers,
  tickRunId,
} from '../services/scrapers/index.ts';
import { streamNames, subjects } from '../streams/index.ts';
import { readStream, serviceDeps, until } from './support/infra.ts';
import { siteScrapersConfig, siteSources, useSuiteInfra } from './support/suite.ts';

const JOBS_ACK_WAIT_MS = 2000;
let scrapers: Service | undefined;
const infra = useSuiteInfra({
  topology: { jobsAckWaitMs: JOBS_ACK_WAIT_MS },
  site: { seed: 7, stocks: 8, today: '2026-10-16' },
  beforeStop: async () => scrapers?.close(),
});

const scrapersConfig = (): ScrapersConfig =>
  siteScrapersConfig(
    infra.site.url,
    // The planner's CCASS window runs on the real clock; the fixture site (with its own `today`) keeps its own.
    { sources: { ...siteSources(infra.site.url), ccassHistoryDays: 0 }, maxAttempts: 3 },
    { perHostConcurrency: 4, timeoutMs: 3000 },
  );

const tick = (job: string, dataset: Tick['dataset'], date: string, scheduledAt: string): Tick => ({
  schema_version: SCHEMA_VERSION,
  job,
  scheduled_at: scheduledAt,
  date,
  ...(dataset ? { dataset } : {}),
  catch_up: false,
});

async function publishTick(t: Tick, msgID = `${t.job}:${t.scheduled_at}`) {
  return jetstream(infra.nats.nc).publish(subjects.tick(t.job), JSON.stringify(t), { msgID });
}

async function runDone(runId: string, expectJobs?: number) {
  await until(
    async () => {
      const p = await runProgress(infra.db.pool, [runId]);
      return p.total > 0 && p.finished === p.total && (expectJobs === undefined || p.total === expectJobs);
    },
    60_000,
    `run ${runId} to finish`,
  );
  return runProgress(infra.db.pool, [runId]);
}

/** The fixture site's stock codes, sorted: the keys of a complete CCASS run. */
const universeCodes = () =>
  infra.site
    .universe()
    .map((s) => s.code)
    .sort();

const rawEnvelopes = async (dataset: 'ccass' | 'quotes', date?: string) =>
  (await readStream<Envelope>(infra.nats.jsm, streamNames.raw, subjects.raw(dataset)))
    .map((m) => m.data)
    .filter((e) => !date || e.as_of === date);

describe('scheduled ingestion against the fixture site', () => {
  it('publishes exactly the records the site holds, once, for a scheduled tick', async () => {
    scrapers = await startScrapers(
      scrapersConfig(),
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool }),
    );
    const date = '2026-10-09';
    const ccassTick = tick('ccass-daily', 'ccass', date, '2026-10-12T01:00:00.000Z');
    const quotesTick = tick('quotes-daily', 'quotes', date, '2026-10-09T10:30:00.000Z');
    await publishTick(ccassTick);
    await publishTick(quotesTick);
    const ccassRun = await runDone(tickRunId(ccassTick.job, ccassTick.scheduled_at), 8);
    const quotesRun = await runDone(tickRunId(quotesTick.job, quotesTick.scheduled_at), 1);
    expect(ccassRun.byStatus).toEqual({ done: 8 });
    expect(quotesRun.byStatus).toEqual({ done: 1 });

    const ccass = await rawEnvelopes('ccass', date);
    expect(ccass).toHaveLength(8);
    for (const stock of infra.site.universe()) {
      const env = ccass.find((e) => e.key === stock.code);
      expect(env?.rows, stock.code).toEqual(infra.site.model.ccassRows(stock.code, date));
    }
    const [quotes] = await rawEnvelopes('quotes', date);
    expect(quotes?.rows).toEqual(infra.site.model.quoteRows(date));

    // The same tick again (a second scheduler, a redelivery): the planner plans the same job ids, nothing is added.
    const rawBefore = (await infra.nats.jsm.streams.info(streamNames.raw)).state.messages;
    const jobsBefore = Number((await infra.db.pool.query('select count(*) as n from scrape_jobs')).rows[0].n);
    const again = await publishTick(ccassTick, 'forced-second-publish');
    expect(again.duplicate).toBe(false);
    await until(
      async () => (await infra.nats.jsm.consumers.info(streamNames.ticks, 'planner')).num_pending === 0,
      10_000,
      'planner to take the tick',
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect((await infra.nats.jsm.streams.info(streamNames.raw)).state.messages).toBe(rawBefore);
    expect(Number((await infra.db.pool.query('select count(*) as n from scrape_jobs')).rows[0].n)).toBe(
      jobsBefore,
    );

    // A weekend/holiday tick is recorded as skipped, with no job.
    const holiday = tick('quotes-daily', 'quotes', '2026-10-01', '2026-10-01T10:30:00.000Z');
    await publishTick(holiday);
    await until(
      async () =>
        (
          await infra.db.pool.query(
            "select 1 from scrape_runs where run_id = $1 and status = 'skipped_holiday'",
            [tickRunId(holiday.job, holiday.scheduled_at)],
          )
        ).rowCount === 1,
      10_000,
      'holiday run recorded',
    );
  });

  it('retries 5xx, resets and slow answers until they succeed', async () => {
    infra.site.faults.reset();
    infra.site.faults.set({
      status5xx: { count: 3, status: 503 },
      reset: 2,
      slowMs: 300,
      count: 2,
      pathPrefix: '/eng/',
    });
    const date = '2026-10-08';
    const t = tick('quotes-daily', 'quotes', date, '2026-10-08T10:30:00.000Z');
    await publishTick(t);
    expect((await runDone(tickRunId(t.job, t.scheduled_at), 1)).byStatus).toEqual({ done: 1 });
    const [quotes] = await rawEnvelopes('quotes', date);
    expect(quotes?.rows).toEqual(infra.site.model.quoteRows(date));
    expect(infra.site.stats().requests[`GET /eng/stat/smstat/dayquot/d261008e.htm`]).toBeGreaterThanOrEqual(
      4,
    );
    infra.site.faults.reset();
  });

  it('never publishes maintenance or truncated pages: they are retried, then dead-lettered with the reason', async () => {
    const code = infra.site.universe()[0]!.code;
    for (const [fault, expected, date] of [
      [{ maintenance: true }, 'HARBOUR_ERR_PARSE_MAINTENANCE', '2026-10-07'],
      [{ truncate: true }, 'HARBOUR_ERR_PARSE_TRUNCATED', '2026-10-06'],
    ] as const) {
      infra.site.faults.reset();
      infra.site.faults.set(fault);
      const runId = `test:${expected}`;
      const { planRun } = await import('../services/scrapers/index.ts');
      const { createHttpClient } = await import('../services/scrapers/index.ts');
      const { createCalendar } = await import('../services/scheduler/index.ts');
      const http = createHttpClient({});
      await planRun(
        {
          js: jetstream(infra.nats.nc),
          pool: infra.db.pool,
          http,
          sources: scrapersConfig().sources,
          calendar: createCalendar(),
          codes: [code],
          logger: (await import('../services/runtime/index.ts')).silentLogger(),
        },
        { runId, dataset: 'ccass', date, trigger: 'test' },
      );
      await http.close();
      const progress = await runDone(runId, 1);
      expect(progress.byStatus).toEqual({ dlq: 1 });
      const job = (
        await infra.db.pool.query('select outcome_code, attempts from scrape_jobs where run_id = $1', [runId])
      ).rows[0];
      expect(job).toMatchObject({ outcome_code: expected, attempts: scrapersConfig().maxAttempts });
      expect(await rawEnvelopes('ccass', date)).toHaveLength(0);
      const dlq = (
        await readStream<{ code: string; original_subject: string }>(infra.nats.jsm, streamNames.dlq)
      ).map((m) => m.data);
      expect(dlq.some((d) => d.code === expected && d.original_subject === subjects.job('ccass'))).toBe(true);
    }
    // Dead-lettered jobs are terminated for good: past the ack wait nothing is pending or redelivered.
    await new Promise((r) => setTimeout(r, JOBS_ACK_WAIT_MS + 1000));
    const jobs = await infra.nats.jsm.consumers.info(streamNames.jobs, 'scrapers');
    expect({ pending: jobs.num_pending, ackPending: jobs.num_ack_pending }).toEqual({
      pending: 0,
      ackPending: 0,
    });
    infra.site.faults.reset();
  });
});

describe('a scraper worker killed mid-run', () => {
  let child: ChildProcess | undefined;
  afterAll(() => child?.kill('SIGKILL'));

  it('loses no job: another worker finishes the run, and RAW holds each page once', {
    timeout: 120_000,
  }, async () => {
    await scrapers?.close();
    scrapers = undefined;
    await migrateRunHistory(infra.db.pool);
    infra.site.faults.set({ slowMs: 700, pathPrefix: '/sdw/search/searchsdw.aspx' });
    const date = '2026-10-05';
    const t = tick('ccass-daily', 'ccass', date, '2026-10-06T01:00:00.000Z');
    child = spawn(process.execPath, ['--import', 'tsx', 'services/main.ts', '--service', 'scrapers'], {
      cwd: join(import.meta.dirname, '..'),
      env: infra.env({
        HARBOUR_TOPOLOGY_JOBS_ACK_WAIT_MS: String(JOBS_ACK_WAIT_MS),
        HARBOUR_SCRAPERS_HTTP_REQUESTS_PER_SECOND: '100',
        HARBOUR_SCRAPERS_CONCURRENCY: '2',
        HARBOUR_OPS_PORT: '0',
        HARBOUR_LOG_LEVEL: 'warn',
      }),
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await publishTick(t);
    const runId = tickRunId(t.job, t.scheduled_at);
    // Kill once the child is in the middle of the run: some jobs done, others not.
    await until(
      async () => {
        const p = await runProgress(infra.db.pool, [runId]);
        return p.total === 8 && (p.byStatus.done ?? 0) >= 1;
      },
      60_000,
      'the child to start working',
    );
    const victim = child;
    const exited = new Promise((r) => victim.once('exit', r));
    victim.kill('SIGKILL');
    await exited;
    const atKill = await runProgress(infra.db.pool, [runId]);
    expect(atKill.byStatus.done ?? 0).toBeLessThan(8);

    infra.site.faults.reset();
    scrapers = await startScrapers(
      scrapersConfig(),
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool }),
    );
    const done = await runDone(runId, 8);
    expect(done.byStatus).toEqual({ done: 8 });
    const ccass = await rawEnvelopes('ccass', date);
    expect(ccass.map((e) => e.key).sort()).toEqual(universeCodes());
    console.log(
      `kill test: ${atKill.byStatus.done ?? 0} of 8 jobs done when the worker was killed; after restart 8 done, ${ccass.length} envelopes in RAW`,
    );
  });
});

describe('hostile pages', () => {
  it('dead-letters malformed and oversized answers, never publishing them, and keeps going', {
    timeout: 60_000,
  }, async () => {
    const { createServer } = await import('node:http');
    const bodies: Record<string, () => Buffer> = {
      // A report that is not the quotations layout at all.
      '/eng/stat/smstat/dayquot/d261002e.htm': () =>
        Buffer.from('<html><body><pre>garbage \u0000\u0001 not a report</pre></body></html>'),
      // Larger than the client's maxBodyBytes.
      '/eng/stat/smstat/dayquot/d260930e.htm': () => Buffer.alloc(3 * 1024 * 1024, 0x41),
    };
    const server = createServer((req, res) => {
      const make = bodies[(req.url ?? '').split('?')[0] ?? ''];
      if (!make) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html' }).end(make());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await scrapers?.close();
    const cfg = scrapersConfig();
    scrapers = await startScrapers(
      {
        ...cfg,
        sources: { ...cfg.sources, hkexBaseUrl: url },
        http: { ...cfg.http, maxBodyBytes: 1024 * 1024 },
      },
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool }),
    );
    try {
      const cases = [
        ['2026-10-02', 'HARBOUR_ERR_PARSE_LAYOUT', 1],
        ['2026-09-30', 'HARBOUR_ERR_HTTP_BODY_TOO_LARGE', 1],
      ] as const;
      for (const [date, code, attempts] of cases) {
        const t = tick('quotes-daily', 'quotes', date, `${date}T10:31:00.000Z`);
        await publishTick(t);
        const done = await runDone(tickRunId(t.job, t.scheduled_at), 1);
        expect(done.byStatus).toEqual({ dlq: 1 });
        const job = (
          await infra.db.pool.query('select outcome_code, attempts from scrape_jobs where run_id = $1', [
            tickRunId(t.job, t.scheduled_at),
          ])
        ).rows[0];
        expect(job).toEqual({ outcome_code: code, attempts });
        expect(await rawEnvelopes('quotes', date)).toHaveLength(0);
        console.log(`hostile page ${date}: ${code} after ${attempts} attempt(s), nothing published`);
      }
    } finally {
      server.close();
    }
  });
});

describe('request budget', () => {
  it('is a rate: one scraper process sends more than any single budget across several runs, and every run completes', {
    timeout: 120_000,
  }, async () => {
    await scrapers?.close();
    infra.site.faults.reset();
    const cfg = scrapersConfig();
    const budget = 10;
    const deps = await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool });
    scrapers = await startScrapers(
      { ...cfg, http: { ...cfg.http, requestBudget: budget, requestBudgetWindowMs: 2_000 } },
      deps,
    );
    const before = Object.values(infra.site.stats().requests).reduce((a, n) => a + n, 0);
    const dates = ['2026-09-21', '2026-09-22', '2026-09-23'];
    for (const date of dates) {
      const t = tick('ccass-daily', 'ccass', date, `${date}T01:00:00.000Z`);
      await publishTick(t);
      expect((await runDone(tickRunId(t.job, t.scheduled_at), 8)).byStatus).toEqual({ done: 8 });
      const ccass = await rawEnvelopes('ccass', date);
      expect(ccass.map((e) => e.key).sort()).toEqual(universeCodes());
    }
    const sent = Object.values(infra.site.stats().requests).reduce((a, n) => a + n, 0) - before;
    const waits = (await deps.registry.getSingleMetric('harbour_http_budget_waits_total')?.get())?.values[0]
      ?.value;
    // Each run alone needs more than the budget (a form GET and a POST per stock).
    expect(sent).toBeGreaterThan(dates.length * budget);
    expect(waits).toBeGreaterThan(0);
    console.log(
      `request budget ${budget} per 2 s: ${dates.length} runs, ${sent} requests, ${waits} waits for the refill`,
    );
  });
});
