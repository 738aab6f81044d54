/**
 * The fixture site's routes: which path answers what, the fault switches applied before a page is
 * served, and the control endpoints (`/__faults`, `/__quote-token`, `/__stats`) that are never
 * faulted or counted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { EPOCH, isIsoDate, isTradingDay, LAST_DAY, nextTradingDay } from './calendar.ts';
import { type CcassSearchDeps, ccassSearchRoute } from './ccass-search.ts';
import type { FaultInput, FaultSwitches, RequestStats } from './faults.ts';
import { errorBody, HTML, NOT_FOUND, readBody, send } from './http.ts';
import type { Market } from './market.ts';
import { type QuotationsOptions, quotationsBytes, reportOfPath } from './quotations.ts';
import { equitiesPage, type QuoteTokens, widgetBody, widgetData } from './quote-widget.ts';
import { securitiesWorkbook, type WorkbookFlavor, type WorkbookLayout } from './securities.ts';
import type { Stock } from './universe.ts';

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

/** Everything the routes serve from: the generated market, the switches, the counters. */
export interface Site extends CcassSearchDeps {
  universe: readonly Stock[];
  market: Market;
  /** Latest trading day ≤ today: the quote widget's day. */
  latest: string;
  quotations: QuotationsOptions;
  securitiesLayout: WorkbookLayout;
  stats: RequestStats;
  quoteTokens: QuoteTokens;
  log?: Pick<Logger, 'info' | 'warn' | 'debug'> | undefined;
}

/** The site's request handler. Each route keeps its own caches. */
export function siteHandler(site: Site): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const ccassSearch = ccassSearchRoute(site);
  const stockList = stockListRoute(site);
  const quotations = quotationsRoute(site);
  const securities = securitiesRoute(site);
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fixture.local');
    const p = url.pathname;
    const lower = p.toLowerCase();
    if (lower.startsWith('/__')) return control(site, req, res, p);
    site.stats.count(req.method ?? 'GET', p);
    if (await injectedFault(site, req, res, p)) return;

    if (lower === PATHS.ccassSearch) return ccassSearch(req, res, p);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, HTML, '<h1>405 Method Not Allowed</h1>');
    if (lower === PATHS.ccassStockList) return stockList(url, res);
    if (lower.startsWith(PATHS.quotationsDir)) return quotations(p.slice(PATHS.quotationsDir.length), res);
    if (lower === PATHS.securities.toLowerCase()) return securities(url, res);
    if (lower === PATHS.quoteWidget || lower === PATHS.quoteWidgetAlt) return quoteWidget(site, url, res);
    if (lower === PATHS.equitiesPage.toLowerCase() || lower === PATHS.equitiesQuotePage.toLowerCase())
      return send(res, 200, HTML, equitiesPage(site.quoteTokens.forPage()));
    if (p === '/') return send(res, 200, HTML, indexPage(site.latest));
    return send(res, 404, HTML, NOT_FOUND);
  };
}

/**
 * Applies the fault switches that act before any page: a reset socket, a delay, a 5xx. True when
 * the request is answered (or its socket gone) and no page is to be served.
 */
async function injectedFault(site: Site, req: IncomingMessage, res: ServerResponse, p: string) {
  const { faults } = site;
  if (faults.take('reset', p)) {
    site.log?.debug({ path: p }, 'fixture site: resetting connection');
    req.socket.destroy();
    return true;
  }
  const slow = faults.take('slow', p);
  if (slow) await sleep(slow.ms);
  const f5 = faults.take('status5xx', p);
  if (!f5) return false;
  send(res, f5.status, HTML, errorBody(f5.status));
  return true;
}

/**
 * Temporary counters of the real 2019 list (`…-TEMPORARY COUNTER`, parallel trading after a
 * board-lot or share change). Each is in the list for 15 of every 40 calendar days, staggered:
 * how long real ones last varies (weeks). Their CCASS search pages are not generated (the search
 * answers "not valid"); what the real search shows for one is not known from any capture.
 */
function stockListRoute(site: Site): (url: URL, res: ServerResponse) => void {
  const temporaryCounters = [...site.samples.longNames]
    .filter(([, n]) => /-\s*TEMPORARY COUNTER$/i.test(n))
    .map(([c, n]) => ({ c, n }))
    .slice(0, 3);
  return (url, res) => {
    const by = (url.searchParams.get('sortby') ?? 'stockcode').toLowerCase();
    // The list as at `shareholdingdate` (yyyymmdd); absent or unreadable: as at today (the real
    // site's answer to a bad date is not known).
    const raw = url.searchParams.get('shareholdingdate') ?? '';
    const asked = /^\d{8}$/.test(raw) ? `${raw.slice(0, 4)}-${raw.slice(4, 6)}-${raw.slice(6)}` : site.today;
    const date = isIsoDate(asked) ? asked : site.today;
    const day = Math.floor(Date.parse(`${date}T00:00:00Z`) / 86_400_000);
    const list = [
      ...site.universe.map((s) => ({ c: s.code, n: s.name })),
      ...temporaryCounters.filter((_, i) => (day + i * 13) % 40 < 15),
    ].sort((a, b) => a.c.localeCompare(b.c));
    if (by === 'stockname') list.sort((a, b) => a.n.localeCompare(b.n));
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify(list));
  };
}

/** Daily Quotations reports; it keeps the latest two (a day's main board and GEM): a padded one takes a while to generate. */
function quotationsRoute(site: Site): (file: string, res: ServerResponse) => void {
  const reports = new Map<string, Buffer>();
  return (file, res) => {
    const report = reportOfPath(file);
    const date = report?.date;
    if (
      !report ||
      !date ||
      !isIsoDate(date) ||
      date < EPOCH ||
      date > LAST_DAY ||
      date > site.today ||
      !isTradingDay(date)
    ) {
      return send(res, 404, HTML, NOT_FOUND);
    }
    const key = `${date}:${report.board}`;
    let bytes = reports.get(key);
    if (!bytes) {
      bytes = quotationsBytes(site.market, date, report.board, site.quotations);
      if (reports.size >= 2) reports.delete(reports.keys().next().value!);
      reports.set(key, bytes);
    }
    send(res, 200, 'text/html', bytes);
  };
}

/** The List of Securities workbook; each (as-of date, flavor, layout) is built once. */
function securitiesRoute(site: Site): (url: URL, res: ServerResponse) => Promise<void> {
  const workbooks = new Map<string, Promise<Buffer>>();
  return async (url, res) => {
    const d = url.searchParams.get('date');
    if (d !== null && !isIsoDate(d)) return send(res, 400, HTML, '<h1>Bad date</h1>');
    const asOf = d ?? nextTradingDay(site.today);
    const flavor: WorkbookFlavor = url.searchParams.get('flavor') === 'exceljs' ? 'exceljs' : 'real';
    const asked = url.searchParams.get('layout');
    const layout: WorkbookLayout = asked === '2021' || asked === '2025' ? asked : site.securitiesLayout;
    const key = `${asOf}:${flavor}:${layout}`;
    let wb = workbooks.get(key);
    if (!wb) {
      wb = securitiesWorkbook(site.universe, asOf, flavor, layout);
      workbooks.set(key, wb);
      wb.catch(() => workbooks.delete(key));
    }
    send(res, 200, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', await wb, {
      'Content-Disposition': 'attachment; filename=ListOfSecurities.xlsx',
    });
  };
}

/**
 * The widget answers only with the current token (403 otherwise) and only its latest quote: like
 * the real API it has no date parameter, so a `date` is ignored. Whether the real API also checks
 * the Referer is not known; it is not checked here.
 */
function quoteWidget(site: Site, url: URL, res: ServerResponse) {
  if (!site.quoteTokens.accept(url.searchParams.get('token'))) {
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
  const stock = site.byCode.get(code);
  const q = stock ? site.market.day(stock.code, site.latest) : undefined;
  const { body, type } = widgetBody(widgetData(stock, q, { lang, qid }), qid, callback);
  send(res, 200, type, body);
}

/** A control request's JSON body (empty: `{}`); a body that is not JSON throws. */
async function jsonBody<T>(req: IncomingMessage): Promise<T> {
  const text = (await readBody(req)).trim();
  return (text ? JSON.parse(text) : {}) as T;
}

/** The control endpoints: fault switches, quote tokens, request counts. */
async function control(site: Site, req: IncomingMessage, res: ServerResponse, p: string) {
  const { faults, quoteTokens, stats } = site;
  const json = (status: number, v: unknown) =>
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(v));
  if (p === PATHS.faults) {
    if (req.method === 'GET') return json(200, faults.toJSON());
    if (req.method === 'DELETE') return json(200, resetFaults(faults));
    if (req.method === 'POST') {
      try {
        faults.set(await jsonBody<FaultInput>(req));
        site.log?.info({ faults: faults.toJSON() }, 'fixture site: faults set');
        return json(200, faults.toJSON());
      } catch (err) {
        return json(400, { error: (err as Error).message });
      }
    }
  }
  if (p === PATHS.quoteToken) {
    if (req.method === 'POST') {
      try {
        const input = await jsonBody<{ expire?: boolean; staleNext?: number }>(req);
        if (input.expire) quoteTokens.expire();
        if (input.staleNext) quoteTokens.serveStale(input.staleNext);
      } catch (err) {
        return json(400, { error: (err as Error).message });
      }
    }
    return json(200, quoteTokens.toJSON());
  }
  if (p === `${PATHS.faults}/reset` && req.method === 'POST') return json(200, resetFaults(faults));
  if (p === PATHS.stats) {
    if (req.method === 'DELETE') stats.reset();
    return json(200, stats.toJSON());
  }
  return json(404, { error: 'unknown control endpoint' });
}

function resetFaults(faults: FaultSwitches) {
  faults.reset();
  return faults.toJSON();
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
