/**
 * Local fixture HKEX web site for tests and local runs: serves CCASS shareholding search (ASP.NET form
 * flow), the CCASS stock list, Daily Quotations reports, the List of Securities workbook and the quote
 * widget under the real sites' paths, generated deterministically from a seed and derived from the
 * real samples in `test/fixtures/hkex`. Fault switches simulate 5xx, slowness, resets, maintenance
 * and truncated pages; `/__stats` counts requests per path.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { CcassRow, FundamentalRow, QuoteRow, SecurityRow } from '../../contracts/datasets.ts';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import type { MarketConfig } from '../../services/calendar/index.ts';
import {
  addDays,
  EPOCH,
  hongKongToday,
  isIsoDate,
  isTradingDay,
  LAST_DAY,
  nextTradingDay,
  tradingDayOnOrBefore,
  useMarket,
} from './calendar.ts';
import { CcassModel, type CcassSnapshot, pctHundredths } from './ccass-model.ts';
import {
  alertPage,
  type FormState,
  formPage,
  MESSAGES,
  maintenancePage,
  noDataPage,
  resultPage,
  type SortBy,
  type SortDir,
  truncateHtml,
  viewStateErrorPage,
} from './ccass-pages.ts';
import { type FaultInput, FaultSwitches, RequestStats } from './faults.ts';
import { type DayQuote, Market } from './market.ts';
import { quotationsBytes, reportOfPath } from './quotations.ts';
import { equitiesPage, QuoteTokens, widgetBody, widgetData } from './quote-widget.ts';
import { CCASS_SAMPLE, loadSamples, type Samples } from './samples.ts';
import { securitiesWorkbook, type WorkbookFlavor, type WorkbookLayout } from './securities.ts';
import { buildUniverse, FX_PER_HKD, type Stock } from './universe.ts';

export { EPOCH, isTradingDay, LAST_DAY, tradingDaysBetween, useMarket } from './calendar.ts';
export type { CcassSnapshot } from './ccass-model.ts';
export type { FaultInput, FaultState } from './faults.ts';
export { FaultSwitches, RequestStats } from './faults.ts';
export type { DayQuote } from './market.ts';
export type { Stock } from './universe.ts';

/** Paths served (the real sites' paths, so base URLs are swappable). */
export const PATHS = {
  ccassSearch: '/sdw/search/searchsdw.aspx',
  ccassStockList: '/sdw/search/stocklist.aspx',
  quotationsDir: '/eng/stat/smstat/dayquot/',
  securities: '/eng/services/trading/securities/securitieslists/ListOfSecurities.xlsx',
  quoteWidget: '/data/getequityquote',
  quoteWidgetAlt: '/hkexwidget/data/getequityquote',
  /** HKEX equities pages: their inline script carries the quote widget token. */
  equitiesPage: '/Market-Data/Securities-Prices/Equities',
  equitiesQuotePage: '/Market-Data/Securities-Prices/Equities/Equities-Quote',
  quoteToken: '/__quote-token',
  faults: '/__faults',
  stats: '/__stats',
} as const;

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

/** The generator's own model, for tests comparing parsed pages with what was generated. */
export interface FixtureModel {
  stocks(): readonly Stock[];
  /** Latest trading day ≤ today. */
  latestTradingDay(): string;
  quote(code: string, date: string): DayQuote | undefined;
  /** What a Daily Quotations parser should extract for a trading day (undefined otherwise). */
  quoteRows(date: string): QuoteRow[] | undefined;
  ccass(code: string, date: string): CcassSnapshot | undefined;
  /** What a CCASS parser should extract (summary rows + participant rows). */
  ccassRows(code: string, date: string): CcassRow[] | undefined;
  securityRows(): SecurityRow[];
  /** What the quote widget answers now: the latest quote (the widget has no date). */
  fundamental(code: string): FundamentalRow | undefined;
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

function token(prefix: string, bytes: number): string {
  return prefix + randomBytes(bytes).toString('base64');
}

/**
 * View states issued by the form. The 2026 form has no __EVENTVALIDATION (09868 captures), so only
 * __VIEWSTATE is checked. What the real site answers to a postback with a foreign or missing view
 * state is unknown; SOURCES.md only says it then finds no results. Here: the ASP.NET error page.
 */
class TokenStore {
  private readonly issued = new Set<string>();
  constructor(private readonly max = 20_000) {}
  issue(): { viewState: string } {
    const viewState = token('/wEPDwUKLTEyNzc0NjI0MWRk', 24);
    this.issued.add(viewState);
    if (this.issued.size > this.max) {
      const first = this.issued.values().next().value;
      if (first !== undefined) this.issued.delete(first);
    }
    return { viewState };
  }
  valid(viewState: string | null): boolean {
    return viewState !== null && this.issued.has(viewState);
  }
}

async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > limit) throw new HarbourError(ErrorCodes.RequestTooLarge, 'request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const HTML = 'text/html; charset=utf-8';

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra?: Record<string, string>,
) {
  if (res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(buf.length), ...extra });
  res.end(buf);
}

const NOT_FOUND = `<!DOCTYPE html>
<html lang="en"><head><title>404 - Page Not Found | HKEX</title></head>
<body><div class="error-page"><h1>404</h1><p>Sorry, the page you requested could not be found.</p></div></body></html>
`;

function errorBody(status: number): string {
  return `<!DOCTYPE html><html><head><title>${status} Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>HTTP Error ${status}. The service is unavailable.</p></body></html>\n`;
}

/** Starts the fixture site. */
export async function startFixtureSite(
  config: FixtureSiteConfig,
  deps: FixtureSiteDeps = {},
): Promise<FixtureSite> {
  const log = deps.logger;
  const seed = config.seed ?? 1;
  const stocks = Math.max(5, config.stocks ?? 40);
  const today = config.today ?? hongKongToday();
  if (!isIsoDate(today)) throw new HarbourError(ErrorCodes.Config, `fixture site: bad today ${today}`);
  if (config.market) useMarket(config.market);
  const samples: Samples = await loadSamples(config.samplesDir);
  const universe = buildUniverse(samples, seed, stocks);
  const byCode = new Map(universe.map((s) => [s.code, s]));
  const market = new Market(universe, seed);
  const ccass = new CcassModel(samples, seed);
  const faults = new FaultSwitches();
  const stats = new RequestStats();
  const tokens = new TokenStore();
  const quoteTokens = new QuoteTokens(config.quoteTokenTtlMs ?? 24 * 3600_000, () =>
    randomBytes(48).toString('base64'),
  );
  const workbooks = new Map<string, Promise<Buffer>>();
  const latest = tradingDayOnOrBefore(today) ?? EPOCH;
  const historyDays = config.ccassHistoryDays === undefined ? 365 : config.ccassHistoryDays || undefined;

  const securitiesLayout: WorkbookLayout = config.securitiesLayout ?? '2025';
  const model = buildModel(universe, market, ccass, latest, securitiesLayout);

  const ccassDateState = (
    base: Omit<FormState, 'tokens' | 'today' | 'sortBy' | 'sortDir'> & { sortBy?: SortBy; sortDir?: SortDir },
  ): FormState => {
    const state: FormState = {
      tokens: tokens.issue(),
      today,
      sortBy: base.sortBy ?? 'shareholding',
      sortDir: base.sortDir ?? 'desc',
      dateYmd: base.dateYmd,
      code: base.code,
      name: base.name,
    };
    if (historyDays !== undefined) state.minDate = addDays(today, -historyDays);
    if (base.alert !== undefined) state.alert = base.alert;
    return state;
  };

  async function ccassSearch(req: IncomingMessage, res: ServerResponse, p: string): Promise<void> {
    const tpl = samples.ccassTemplate;
    const sessionCookie = {
      'Set-Cookie': `ASP.NET_SessionId=${randomBytes(12).toString('hex')}; path=/; HttpOnly; SameSite=Lax`,
    };
    const body = req.method === 'POST' ? await readBody(req) : '';
    if (faults.take('maintenance', p)) return send(res, 200, HTML, maintenancePage());
    const defaultDate = addDays(today, -1).replaceAll('-', '/');
    if (req.method !== 'POST') {
      const html = formPage(tpl, ccassDateState({ dateYmd: defaultDate, code: '', name: '' }));
      return send(res, 200, HTML, html, sessionCookie);
    }
    const form = new URLSearchParams(body);
    if (!tokens.valid(form.get('__VIEWSTATE'))) {
      log?.warn({ path: p }, 'fixture site: CCASS postback with a view state not issued here');
      return send(res, 500, HTML, viewStateErrorPage());
    }
    const sortByRaw = (form.get('sortBy') ?? 'shareholding').toLowerCase();
    const sortBy: SortBy =
      sortByRaw === 'participantid' || sortByRaw === 'participantname' ? sortByRaw : 'shareholding';
    const sortDir: SortDir = (form.get('sortDirection') ?? 'desc').toLowerCase() === 'asc' ? 'asc' : 'desc';
    const dateText = (form.get('txtShareholdingDate') ?? '').trim();
    const codeText = (form.get('txtStockCode') ?? '').trim();
    const searching = form.get('__EVENTTARGET') === 'btnSearch' || form.has('btnSearch');
    const code = /^\d{1,5}$/.test(codeText) ? codeText.padStart(5, '0') : codeText;
    const stock = byCode.get(code);
    const echo = { dateYmd: dateText || defaultDate, code, name: stock?.longName ?? '', sortBy, sortDir };
    if (!searching) return send(res, 200, HTML, formPage(tpl, ccassDateState(echo)));

    const dm = /^(\d{4})\/(\d{2})\/(\d{2})$/.exec(dateText);
    const iso = dm ? `${dm[1]}-${dm[2]}-${dm[3]}` : '';
    if (!dm || !isIsoDate(iso))
      return send(res, 200, HTML, alertPage(tpl, ccassDateState(echo), MESSAGES.invalidDate));
    if (!stock) return send(res, 200, HTML, alertPage(tpl, ccassDateState(echo), MESSAGES.invalidCode));
    if (historyDays !== undefined && iso < addDays(today, -historyDays)) {
      return send(res, 200, HTML, alertPage(tpl, ccassDateState(echo), MESSAGES.outOfRange));
    }
    if (code === CCASS_SAMPLE.code && iso === CCASS_SAMPLE.date) {
      const t = faults.take('truncate', p);
      if (!t) return send(res, 200, HTML, samples.ccassSampleBytes);
      const n = samples.ccassParticipants.length;
      return send(
        res,
        200,
        HTML,
        truncateHtml(samples.ccassSampleBytes.toString('utf8'), keepRows(n, t.keepRatio)),
      );
    }
    const snap = iso >= today ? undefined : ccass.snapshot(stock, iso);
    if (!snap) return send(res, 200, HTML, noDataPage(tpl, ccassDateState(echo)));
    const t = faults.take('truncate', p);
    const html = resultPage(
      tpl,
      ccassDateState(echo),
      snap,
      t ? { truncateTo: keepRows(snap.rows.length, t.keepRatio) } : {},
    );
    return send(res, 200, HTML, html);
  }

  // Temporary counters of the real 2019 list (`…-TEMPORARY COUNTER`, parallel trading after a
  // board-lot or share change). Each is in the list for 15 of every 40 calendar days, staggered:
  // how long real ones last varies (weeks). Their CCASS search pages are not generated (the search
  // answers "not valid"); what the real search shows for one is not known from any capture.
  const temporaryCounters = [...samples.longNames]
    .filter(([, n]) => /-\s*TEMPORARY COUNTER$/i.test(n))
    .map(([c, n]) => ({ c, n }))
    .slice(0, 3);
  function stockList(url: URL, res: ServerResponse) {
    const by = (url.searchParams.get('sortby') ?? 'stockcode').toLowerCase();
    // The list as at `shareholdingdate` (yyyymmdd); absent or unreadable: as at today (the real
    // site's answer to a bad date is not known).
    const raw = url.searchParams.get('shareholdingdate') ?? '';
    const asked = /^\d{8}$/.test(raw) ? `${raw.slice(0, 4)}-${raw.slice(4, 6)}-${raw.slice(6)}` : today;
    const date = isIsoDate(asked) ? asked : today;
    const day = Math.floor(Date.parse(`${date}T00:00:00Z`) / 86_400_000);
    const list = [
      ...universe.map((s) => ({ c: s.code, n: s.name })),
      ...temporaryCounters.filter((_, i) => (day + i * 13) % 40 < 15),
    ].sort((a, b) => a.c.localeCompare(b.c));
    if (by === 'stockname') list.sort((a, b) => a.n.localeCompare(b.n));
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify(list));
  }

  // The latest two reports (a day's main board and GEM): a padded one takes a while to generate.
  const reports = new Map<string, Buffer>();
  function quotations(file: string, res: ServerResponse) {
    const report = reportOfPath(file);
    const date = report?.date;
    if (
      !report ||
      !date ||
      !isIsoDate(date) ||
      date < EPOCH ||
      date > LAST_DAY ||
      date > today ||
      !isTradingDay(date)
    ) {
      return send(res, 404, HTML, NOT_FOUND);
    }
    const key = `${date}:${report.board}`;
    let bytes = reports.get(key);
    if (!bytes) {
      const opts = {
        ...(config.quotationsMinBytes ? { minBytes: config.quotationsMinBytes } : {}),
        ...(config.quotationsChunkLines ? { chunkLines: config.quotationsChunkLines } : {}),
      };
      bytes = quotationsBytes(market, date, report.board, opts);
      if (reports.size >= 2) reports.delete(reports.keys().next().value!);
      reports.set(key, bytes);
    }
    send(res, 200, 'text/html', bytes);
  }

  async function securities(url: URL, res: ServerResponse) {
    const d = url.searchParams.get('date');
    if (d !== null && !isIsoDate(d)) return send(res, 400, HTML, '<h1>Bad date</h1>');
    const asOf = d ?? nextTradingDay(today);
    const flavor: WorkbookFlavor = url.searchParams.get('flavor') === 'exceljs' ? 'exceljs' : 'real';
    const asked = url.searchParams.get('layout');
    const layout: WorkbookLayout = asked === '2021' || asked === '2025' ? asked : securitiesLayout;
    const key = `${asOf}:${flavor}:${layout}`;
    let wb = workbooks.get(key);
    if (!wb) {
      wb = securitiesWorkbook(universe, asOf, flavor, layout);
      workbooks.set(key, wb);
      wb.catch(() => workbooks.delete(key));
    }
    send(res, 200, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', await wb, {
      'Content-Disposition': 'attachment; filename=ListOfSecurities.xlsx',
    });
  }

  /**
   * The widget answers only with the current token (403 otherwise) and only its latest quote: like
   * the real API it has no date parameter, so a `date` is ignored. Whether the real API also checks
   * the Referer is not known; it is not checked here.
   */
  function quoteWidget(url: URL, res: ServerResponse) {
    if (!quoteTokens.accept(url.searchParams.get('token'))) {
      // The real 403 body is not known (captures record only the status).
      return send(
        res,
        403,
        HTML,
        '<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>\n',
      );
    }
    const sym = (url.searchParams.get('sym') ?? '').trim();
    const lang = url.searchParams.get('lang') === 'chi' ? 'chi' : 'eng';
    const qid = url.searchParams.get('qid') ?? String(Date.now());
    const callback = url.searchParams.get('callback') ?? undefined;
    const code = /^\d{1,5}$/.test(sym) ? sym.padStart(5, '0') : '';
    const stock = byCode.get(code);
    const q = stock ? market.day(stock.code, latest) : undefined;
    const { body, type } = widgetBody(widgetData(stock, q, { lang, qid }), qid, callback);
    send(res, 200, type, body);
  }

  async function control(req: IncomingMessage, res: ServerResponse, p: string) {
    const json = (status: number, v: unknown) =>
      send(res, status, 'application/json; charset=utf-8', JSON.stringify(v));
    if (p === PATHS.faults) {
      if (req.method === 'GET') return json(200, faults.toJSON());
      if (req.method === 'DELETE') {
        faults.reset();
        return json(200, faults.toJSON());
      }
      if (req.method === 'POST') {
        try {
          const text = (await readBody(req)).trim();
          const input = (text ? JSON.parse(text) : {}) as FaultInput;
          faults.set(input);
          log?.info({ faults: faults.toJSON() }, 'fixture site: faults set');
          return json(200, faults.toJSON());
        } catch (err) {
          return json(400, { error: (err as Error).message });
        }
      }
    }
    if (p === PATHS.quoteToken) {
      if (req.method === 'POST') {
        try {
          const text = (await readBody(req)).trim();
          const input = (text ? JSON.parse(text) : {}) as { expire?: boolean; staleNext?: number };
          if (input.expire) quoteTokens.expire();
          if (input.staleNext) quoteTokens.serveStale(input.staleNext);
        } catch (err) {
          return json(400, { error: (err as Error).message });
        }
      }
      return json(200, quoteTokens.toJSON());
    }
    if (p === `${PATHS.faults}/reset` && req.method === 'POST') {
      faults.reset();
      return json(200, faults.toJSON());
    }
    if (p === PATHS.stats) {
      if (req.method === 'DELETE') stats.reset();
      return json(200, stats.toJSON());
    }
    return json(404, { error: 'unknown control endpoint' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fixture.local');
    const p = url.pathname;
    const lower = p.toLowerCase();
    if (lower.startsWith('/__')) return control(req, res, p);
    stats.count(req.method ?? 'GET', p);
    if (faults.take('reset', p)) {
      log?.debug({ path: p }, 'fixture site: resetting connection');
      req.socket.destroy();
      return;
    }
    const slow = faults.take('slow', p);
    if (slow) await sleep(slow.ms);
    const f5 = faults.take('status5xx', p);
    if (f5) return send(res, f5.status, HTML, errorBody(f5.status));

    if (lower === PATHS.ccassSearch) return ccassSearch(req, res, p);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, HTML, '<h1>405 Method Not Allowed</h1>');
    if (lower === PATHS.ccassStockList) return stockList(url, res);
    if (lower.startsWith(PATHS.quotationsDir)) return quotations(p.slice(PATHS.quotationsDir.length), res);
    if (lower === PATHS.securities.toLowerCase()) return securities(url, res);
    if (lower === PATHS.quoteWidget || lower === PATHS.quoteWidgetAlt) return quoteWidget(url, res);
    if (lower === PATHS.equitiesPage.toLowerCase() || lower === PATHS.equitiesQuotePage.toLowerCase())
      return send(res, 200, HTML, equitiesPage(quoteTokens.forPage()));
    if (p === '/') return send(res, 200, HTML, indexPage(latest));
    return send(res, 404, HTML, NOT_FOUND);
  }

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
  log?.info({ url, seed, stocks: universe.length, today }, 'fixture HKEX site listening');

  return {
    url,
    faults,
    seed,
    today,
    model,
    quoteTokens,
    stats: () => stats,
    universe: () => universe.map((s) => ({ code: s.code, name: s.name })),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function keepRows(n: number, ratio: number): number {
  return Math.max(0, Math.min(n - 1, Math.floor(n * ratio)));
}

function indexPage(latest: string): string {
  const yymmdd = latest.slice(2).replaceAll('-', '');
  return `<!DOCTYPE html><html><head><title>Harbour fixture HKEX site</title></head><body>
<h1>Harbour fixture HKEX site</h1>
<ul>
<li><a href="${PATHS.ccassSearch}">CCASS shareholding search</a> (GET form, POST search)</li>
<li><a href="${PATHS.ccassStockList}?sortby=stockcode&amp;shareholdingdate=${latest.replaceAll('-', '')}">CCASS stock list (JSON)</a></li>
<li><a href="${PATHS.quotationsDir}d${yymmdd}e.htm">Daily quotations ${latest}</a></li>
<li><a href="${PATHS.securities}">List of Securities</a></li>
<li><a href="${PATHS.equitiesPage}?sc_lang=en">Equities page</a> (carries the quote widget token) · quote widget: <code>${PATHS.quoteWidget}?sym=700&amp;token=…&amp;lang=eng&amp;callback=cb</code></li>
<li><a href="${PATHS.faults}">Faults</a> · <a href="${PATHS.stats}">Stats</a></li>
</ul></body></html>
`;
}

function orNull(s: string): string | null {
  const t = s.trim();
  return t === '' ? null : t;
}

function buildModel(
  universe: readonly Stock[],
  market: Market,
  ccass: CcassModel,
  latest: string,
  securitiesLayout: WorkbookLayout,
): FixtureModel {
  const byCode = new Map(universe.map((s) => [s.code, s]));
  const n = (milli: number | null) => (milli === null ? null : milli / 1000);
  return {
    stocks: () => universe,
    latestTradingDay: () => latest,
    quote: (code, date) => market.day(code, date),
    quoteRows(date) {
      if (!isTradingDay(date)) return undefined;
      const rows: QuoteRow[] = [];
      for (const s of universe) {
        const q = market.day(s.code, date);
        if (!q) return undefined;
        const stopped = q.status === 'suspended' || q.status === 'halted';
        const traded = q.status === 'traded';
        rows.push({
          code: s.code,
          trade_date: date,
          board: s.board,
          name: s.name.slice(0, 16).trim(),
          currency: s.currency,
          status: q.status,
          flags: s.marker,
          prev_close: stopped ? null : n(q.prevClose),
          open: null,
          high: traded ? n(q.high) : null,
          low: traded ? n(q.low) : null,
          close: stopped ? null : n(q.close),
          ask: stopped ? null : n(q.ask),
          bid: stopped ? null : n(q.bid),
          volume: traded ? q.volume : null,
          turnover: traded ? q.turnover : null,
        });
      }
      return rows;
    },
    ccass(code, date) {
      const s = byCode.get(code);
      return s ? ccass.snapshot(s, date) : undefined;
    },
    ccassRows(code, date) {
      const s = byCode.get(code);
      const snap = s ? ccass.snapshot(s, date) : undefined;
      if (!snap) return undefined;
      const summary = (row_type: CcassRow['row_type'], g: CcassSnapshot['total']): CcassRow => ({
        code,
        holding_date: date,
        row_type,
        participant_id: null,
        participant_name: null,
        address: null,
        shareholding: g.shares,
        pct_issued: g.pctHundredths / 100,
        participants: g.count,
      });
      // parser order: participant rows (consenting names without the printed ` *`), then the summary
      return [
        ...snap.rows.map(
          (r): CcassRow => ({
            code,
            holding_date: date,
            row_type: 'participant',
            participant_id: r.id,
            participant_name: r.kind === 'consenting' ? r.name.replace(/\s*\*$/, '') : r.name,
            address: r.address,
            shareholding: r.shares,
            pct_issued: pctHundredths(r.shares, snap.issued) / 100,
            participants: null,
          }),
        ),
        summary('intermediaries', snap.intermediaries),
        summary('consenting', snap.consenting),
        summary('non_consenting', snap.nonConsenting),
        summary('total', snap.total),
        {
          code,
          holding_date: date,
          row_type: 'issued_shares',
          participant_id: null,
          participant_name: null,
          address: null,
          shareholding: snap.issued,
          pct_issued: null,
          participants: null,
        },
      ];
    },
    securityRows: () =>
      universe.map(
        (s): SecurityRow => ({
          code: s.code,
          name: s.name,
          category: s.security.category,
          sub_category: orNull(s.security.subCategory),
          board_lot: s.boardLot,
          isin: orNull(s.security.isin),
          // the 2025 layout has a Trading Currency column, the 2021 one none
          currency: securitiesLayout === '2025' ? s.currency : null,
        }),
      ),
    fundamental(code) {
      const s = byCode.get(code);
      const q = s ? market.day(code, latest) : undefined;
      if (!s || !q) return undefined;
      const last = q.close / 1000;
      return {
        code,
        as_of: q.date,
        last,
        prev_close: q.prevClose / 1000,
        open: n(q.open),
        high: n(q.high),
        low: n(q.low),
        volume: q.volume,
        turnover: q.turnover,
        eps: Math.round(s.epsHkd * FX_PER_HKD[s.epsCcy] * 10000) / 10000,
        eps_currency: s.epsCcy,
        pe: s.epsHkd > 0 ? Number((last / s.epsHkd).toFixed(2)) : null,
        dividend_yield: s.divYield,
        market_cap: last * s.issuedShares,
        issued_shares: s.issuedShares,
      };
    },
  };
}
