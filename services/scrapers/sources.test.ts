/**
 * How Harbour CALLS the HKEX sources, against the fixture site over real HTTP (and, for answers the
 * fixture site does not give — bot walls, 403/429, request headers — a small hostile server):
 * both quotations boards, the CCASS form flow with the 2026 fields, the CCASS window enforced by
 * the planner before any request (Postgres and nats-server started for the run history).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream } from '@nats-io/jetstream';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, type HarbourError, isHarbourError } from '../../contracts/index.ts';
import { defaultSamplesDir, type FixtureSite, startFixtureSite } from '../../ops/fixture-site/index.ts';
import { ensureTopology, streamNames, TopologyConfig } from '../../streams/index.ts';
import { freshDatabase, serviceDeps, startTestNats, until } from '../../test/support/infra.ts';
import { silentLogger } from '../runtime/index.ts';
import { createCalendar } from '../scheduler/index.ts';
import { ScrapersConfig, SourcesConfig } from './config.ts';
import { createHttpClient, type HttpClient } from './http/index.ts';
import { planRun } from './planner.ts';
import { migrateRunHistory } from './run-history.ts';
import { startScrapers } from './scrapers.ts';
import { fetchCcass, fetchCcassStockList, fetchQuotations } from './sources.ts';

const TODAY = '2026-10-12';
let site: FixtureSite;
let http: HttpClient;

const sourcesFor = (url: string): SourcesConfig => ({
  ...(Value.Default(SourcesConfig, {}) as SourcesConfig),
  ccassBaseUrl: url,
  hkexBaseUrl: url,
  quoteBaseUrl: url,
});
const fastHttp = () =>
  createHttpClient({ requestsPerSecond: 100, burst: 20, retryBaseDelayMs: 10, retryMaxDelayMs: 50 });

async function errorOf(p: Promise<unknown>): Promise<HarbourError> {
  try {
    await p;
  } catch (err) {
    if (isHarbourError(err)) return err;
    throw err;
  }
  throw new Error('expected a HarbourError, got a result');
}

beforeAll(async () => {
  site = await startFixtureSite({ samplesDir: defaultSamplesDir(), seed: 3, stocks: 12, today: TODAY });
  http = fastHttp();
});
afterAll(async () => {
  await http?.close();
  await site?.close();
});

describe('daily quotations: both boards', () => {
  it("a day's rows are the main-board and the GEM report, each row with its board", async () => {
    const got = await fetchQuotations({ http, sources: sourcesFor(site.url) }, '2026-10-02');
    expect(got.rows).toEqual(site.model.quoteRows('2026-10-02'));
    const gem = got.rows.filter((r) => r.board === 'gem');
    expect(gem.length).toBeGreaterThan(0);
    expect(gem.every((r) => r.code.startsWith('08'))).toBe(true);
    expect(got.rows.filter((r) => r.board === 'main').length).toBeGreaterThan(5);
    expect(site.stats().of('/eng/stat/smstat/dayquot/GEM/e_G261002.htm')).toBeGreaterThan(0);
  });

  it('a holiday (404 on both boards) is no data; one report missing is its own coded error', async () => {
    const holiday = await errorOf(fetchQuotations({ http, sources: sourcesFor(site.url) }, '2026-10-01'));
    expect(holiday.code).toBe(ErrorCodes.ParseNoData);

    site.faults.set({ status5xx: { count: 1, status: 404, pathPrefix: '/eng/stat/smstat/dayquot/GEM/' } });
    const half = await errorOf(fetchQuotations({ http, sources: sourcesFor(site.url) }, '2026-10-05'));
    site.faults.reset();
    expect(half.code).toBe(ErrorCodes.QuotationsBoardMissing);
    expect(half.detail).toMatchObject({ missing: 'gem', status: 404 });
  });
});

describe('a quotations day with one board missing, through the scrapers', () => {
  it('publishes nothing and records the coded outcome in the run history', { timeout: 90_000 }, async () => {
    const nats = await startTestNats();
    const db = await freshDatabase();
    const defaults = Value.Default(ScrapersConfig, {}) as ScrapersConfig;
    const scrapers = await startScrapers(
      {
        ...defaults,
        sources: { ...sourcesFor(site.url), ccassHistoryDays: 0 },
        http: {
          ...defaults.http,
          requestsPerSecond: 100,
          burst: 20,
          retryBaseDelayMs: 10,
          retryMaxDelayMs: 50,
        },
        planner: false,
        maxAttempts: 2,
        retryBaseDelayMs: 50,
      },
      await (async () => {
        await ensureTopology(nats.nc, nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
        return serviceDeps({ nc: nats.nc, pool: db.pool });
      })(),
    );
    try {
      site.faults.set({ status5xx: { count: 10, status: 404, pathPrefix: '/eng/stat/smstat/dayquot/GEM/' } });
      await planRun(
        {
          js: jetstream(nats.nc),
          pool: db.pool,
          http,
          sources: sourcesFor(site.url),
          calendar: createCalendar(),
          codes: [],
          logger: silentLogger(),
        },
        { runId: 'gem-missing', dataset: 'quotes', date: '2026-10-06', trigger: 'test' },
      );
      const job = async () =>
        (
          await db.pool.query('select status, outcome_code from scrape_jobs where run_id = $1', [
            'gem-missing',
          ])
        ).rows[0] as { status: string; outcome_code: string | null } | undefined;
      await until(async () => (await job())?.status === 'dlq', 60_000, 'the job to be dead-lettered');
      expect(await job()).toEqual({ status: 'dlq', outcome_code: ErrorCodes.QuotationsBoardMissing });
      const raw = await nats.jsm.streams.info(streamNames.raw);
      expect(raw.state.messages).toBe(0);
    } finally {
      site.faults.reset();
      await scrapers.close();
      await db.drop();
      await nats.stop();
    }
  });
});

describe('CCASS calls', () => {
  it('posts back every field of the 2026 form (no __EVENTVALIDATION) and gets the page', async () => {
    const got = await fetchCcass({ http, sources: sourcesFor(site.url) }, '00005', '2026-10-02');
    expect(got.rows).toEqual(site.model.ccassRows('00005', '2026-10-02'));
  });

  it('the planner refuses a date older than the window before any request', async () => {
    const nats = await startTestNats();
    const db = await freshDatabase();
    try {
      await ensureTopology(nats.nc, nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
      await migrateRunHistory(db.pool);
      const ctx = {
        js: jetstream(nats.nc),
        pool: db.pool,
        http,
        sources: sourcesFor(site.url), // ccassHistoryDays: the default 365
        calendar: createCalendar(),
        codes: [],
        logger: silentLogger(),
        today: () => TODAY,
      };
      site.stats().reset();
      const refused = await errorOf(
        planRun(ctx, { runId: 'old', dataset: 'ccass', date: '2025-10-10', trigger: 'test' }),
      );
      expect(refused.code).toBe(ErrorCodes.SourceWindow);
      expect(refused.message).toContain('2025-10-12');
      expect(site.stats().total).toBe(0);
      const run = await db.pool.query('select status, planned_jobs from scrape_runs where run_id = $1', [
        'old',
      ]);
      expect(run.rows).toEqual([{ status: 'failed', planned_jobs: 0 }]);

      // Inside the window the same planner asks the site for the stock list and plans every stock,
      // leaving out the temporary counters the list carries that day.
      const ok = await planRun(ctx, { runId: 'new', dataset: 'ccass', date: '2025-10-13', trigger: 'test' });
      expect(site.stats().total).toBe(1);
      const list = await fetchCcassStockList({ http, sources: sourcesFor(site.url) }, '2025-10-13');
      expect(list.filter((s) => s.name.endsWith('TEMPORARY COUNTER')).length).toBe(2);
      expect(ok.jobs.map((j) => j.code)).toEqual(site.universe().map((s) => s.code));
      // The fixture site, faithful by default, refuses the old date itself too.
      const direct = await fetchCcass({ http, sources: sourcesFor(site.url) }, '00005', '2025-10-10').catch(
        (e: HarbourError) => e,
      );
      expect(isHarbourError(direct)).toBe(true);
    } finally {
      await db.drop();
      await nats.stop();
    }
  });

  describe('against a hostile CCASS host', () => {
    const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
    let answer: 'form' | 'botwall' | 403 | 429 = 'form';
    let url = '';
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      req.resume();
      if (answer === 403 || answer === 429) return void res.writeHead(answer).end('<html>Forbidden</html>');
      if (answer === 'botwall') {
        return void res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(
            '<html><head><script src="/akam/13/pixel"></script></head><body><h1>Pardon Our Interruption</h1><p>Please verify you are a human.</p></body></html>',
          );
      }
      if (req.url?.startsWith('/sdw/search/stocklist.aspx')) {
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('[{"c":"00700","n":"TENCENT"}]');
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>not the form</body></html>');
    });
    beforeAll(async () => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('sends the Referer of the search page, Accept-Language and the configured User-Agent', async () => {
      const client = createHttpClient({ userAgent: 'Mozilla/5.0 (test)' });
      try {
        answer = 'form';
        seen.length = 0;
        await fetchCcassStockList({ http: client, sources: sourcesFor(url) }, '2026-10-02');
        expect(seen[0]!.headers).toMatchObject({
          referer: `${url}/sdw/search/searchsdw.aspx`,
          'accept-language': 'en-US,en;q=0.9',
          'user-agent': 'Mozilla/5.0 (test)',
        });
      } finally {
        await client.close();
      }
    });

    it('a bot wall, a 403 or a 429 is HARBOUR_ERR_HTTP_BLOCKED and slows the host down, never a layout error', async () => {
      const host = new URL(url).host;
      for (const a of ['botwall', 403, 429] as const) {
        const client = fastHttp();
        try {
          answer = a;
          expect(client.hostDelayMs(host)).toBe(0);
          const err = await errorOf(
            fetchCcass({ http: client, sources: sourcesFor(url) }, '00700', '2026-10-02'),
          );
          expect(err.code, String(a)).toBe(ErrorCodes.HttpBlocked);
          expect(client.hostDelayMs(host), String(a)).toBeGreaterThan(0);
        } finally {
          await client.close();
        }
      }
      // The HKEX main site the same: a challenge page or a 403 instead of the quotations report.
      for (const a of ['botwall', 403] as const) {
        const client = fastHttp();
        try {
          answer = a;
          const err = await errorOf(
            fetchQuotations({ http: client, sources: sourcesFor(url) }, '2026-10-02'),
          );
          expect(err.code, `quotations ${a}`).toBe(ErrorCodes.HttpBlocked);
          expect(client.hostDelayMs(host), `quotations ${a}`).toBeGreaterThan(0);
        } finally {
          await client.close();
        }
      }
      // A page that is neither the form nor a wall stays a layout error.
      answer = 'form';
      const layout = await errorOf(fetchCcass({ http, sources: sourcesFor(url) }, '00700', '2026-10-02'));
      expect(layout.code).toBe(ErrorCodes.ParseLayout);
    });
  });
});
