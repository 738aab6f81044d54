/**
 * Local fixture HKEX web site for tests and local runs: serves CCASS shareholding search (ASP.NET form
 * flow), the CCASS stock list, Daily Quotations reports, the List of Securities workbook and the quote
 * widget under the real sites' paths, generated deterministically from a seed and derived from the
 * real samples in `test/fixtures/hkex`. Fault switches simulate 5xx, slowness, resets, maintenance
 * and truncated pages; `/__stats` counts requests per path.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import type { MarketConfig } from '../../services/calendar/index.ts';
import { EPOCH, hongKongToday, isIsoDate, tradingDayOnOrBefore, useMarket } from './calendar.ts';
import { CcassModel } from './ccass-model.ts';
import { FaultSwitches, RequestStats } from './faults.ts';
import { HTML, send } from './http.ts';
import { Market } from './market.ts';
import { buildModel, type FixtureModel } from './model.ts';
import { QuoteTokens } from './quote-widget.ts';
import { type Site, siteHandler } from './routes.ts';
import { loadSamples } from './samples.ts';
import type { WorkbookLayout } from './securities.ts';
import { buildUniverse } from './universe.ts';

export { EPOCH, isTradingDay, LAST_DAY, tradingDaysBetween, useMarket } from './calendar.ts';
export type { CcassSnapshot } from './ccass-model.ts';
export type { FaultInput, FaultState } from './faults.ts';
export { FaultSwitches, RequestStats } from './faults.ts';
export type { DayQuote } from './market.ts';
export type { FixtureModel } from './model.ts';
export { PATHS } from './routes.ts';
export type { Stock } from './universe.ts';

export interface FixtureSiteConfig {
  /** 0 (default) = a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Directory of the real samples (`test/fixtures/hkex`); see {@link defaultSamplesDir}. */
  samplesDir: string;
  seed?: number;
  /** Stocks in the universe (at least the 5 fixed ones); default 40. */
  stocks?: number;
  /** The site's "today" (`yyyy-mm-dd`, HK date); default the real date in Hong Kong. Nothing after it exists. */
  today?: string;
  /**
   * CCASS refuses shareholding dates more than this many days before today ("out of range"), as the
   * real site does; default 365. `null` or 0 serves the whole generated history (tests of old dates).
   */
  ccassHistoryDays?: number | null;
  /** Daily Quotations reports are padded (more trade records) to at least this many bytes; default as generated (tens of KB). A real one is ~25 MB. */
  quotationsMinBytes?: number;
  /** Lines per `<pre><font size='1'>` chunk of a quotations report; default 64. */
  quotationsChunkLines?: number;
  /**
   * Layout of the List of Securities workbook: `2025` (default, the current 18 columns with Trading
   * Currency) or `2021` (the older one, no currency column). A request may ask `?layout=2021`.
   */
  securitiesLayout?: WorkbookLayout;
  /** How long a quote widget token lives before the equities page hands out a new one (default 24 h; the real lifetime is not known). */
  quoteTokenTtlMs?: number;
  /** The `market` setting (holiday additions/removals) the site trades on; see {@link useMarket}. Default: the Hong Kong calendar as is. */
  market?: Partial<MarketConfig>;
}

export interface FixtureSiteDeps {
  logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

export interface FixtureSite {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  faults: FaultSwitches;
  close(): Promise<void>;
  universe(): { code: string; name: string }[];
  stats(): RequestStats;
  model: FixtureModel;
  seed: number;
  today: string;
  /** The quote widget's tokens: `expire()`, `serveStale(n)`, and the `pages` / `refused` counts. */
  quoteTokens: QuoteTokens;
}

/** The real HKEX samples the repository carries (`test/fixtures/hkex`, see its SOURCES.md). */
export function defaultSamplesDir(): string {
  const repoRoot = path.resolve(import.meta.dirname, '..', '..');
  return path.resolve(repoRoot, 'test', 'fixtures', 'hkex');
}

/** Starts the fixture site. */
export async function startFixtureSite(
  config: FixtureSiteConfig,
  deps: FixtureSiteDeps = {},
): Promise<FixtureSite> {
  const log = deps.logger;
  const site = await generateSite(config, log);
  const handle = siteHandler(site);
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log?.warn({ err, url: req.url }, 'fixture site: request failed');
      if (!res.headersSent) send(res, 500, HTML, '<h1>500 Internal Server Error</h1>');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  const host = config.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  const { universe, today } = site;
  log?.info({ url, seed: site.seed, stocks: universe.length, today }, 'fixture HKEX site listening');

  return {
    url,
    faults: site.faults,
    seed: site.seed,
    today,
    model: buildModel(universe, site.market, site.ccass, site.latest, site.securitiesLayout),
    quoteTokens: site.quoteTokens,
    stats: () => site.stats,
    universe: () => universe.map((s) => ({ code: s.code, name: s.name })),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The generated site (universe, market, CCASS holdings) and its switches, from the config and the real samples. */
async function generateSite(
  config: FixtureSiteConfig,
  log: FixtureSiteDeps['logger'],
): Promise<Site & { seed: number }> {
  const seed = config.seed ?? 1;
  const today = config.today ?? hongKongToday();
  if (!isIsoDate(today)) throw new HarbourError(ErrorCodes.Config, `fixture site: bad today ${today}`);
  if (config.market) useMarket(config.market);
  const samples = await loadSamples(config.samplesDir);
  const universe = buildUniverse(samples, seed, Math.max(5, config.stocks ?? 40));
  return {
    seed,
    today,
    latest: tradingDayOnOrBefore(today) ?? EPOCH,
    historyDays: config.ccassHistoryDays === undefined ? 365 : config.ccassHistoryDays || undefined,
    samples,
    universe,
    byCode: new Map(universe.map((s) => [s.code, s])),
    market: new Market(universe, seed),
    ccass: new CcassModel(samples, seed),
    faults: new FaultSwitches(),
    stats: new RequestStats(),
    quoteTokens: new QuoteTokens(config.quoteTokenTtlMs ?? 24 * 3600_000, () =>
      randomBytes(48).toString('base64'),
    ),
    quotations: {
      ...(config.quotationsMinBytes ? { minBytes: config.quotationsMinBytes } : {}),
      ...(config.quotationsChunkLines ? { chunkLines: config.quotationsChunkLines } : {}),
    },
    securitiesLayout: config.securitiesLayout ?? '2025',
    log,
  };
}
