import { load } from 'cheerio/slim';
import {
  type Dataset,
  ErrorCodes,
  HarbourError,
  isHarbourError,
  type QuoteBoard,
  type QuoteRow,
  type RowsByDataset,
} from '../../contracts/index.ts';
import { type SourcesConfig, sourceSetting } from './config.ts';
import type { HttpClient, HttpResponse } from './http/index.ts';
import {
  latin1Lines,
  parseCcass,
  parseCcassStockList,
  parseSecuritiesList,
  QuotationsStreamParser,
} from './parsers/index.ts';
import { fetchQuote } from './quote-widget.ts';

/** What one job fetched: the rows of one unit and where they came from. */
export interface Fetched<D extends Dataset = Dataset> {
  dataset: D;
  key: string;
  asOf: string;
  sourceUrl: string;
  rows: RowsByDataset[D][];
  /** What the page itself states about its rows, where the parser reads that (CCASS: the summary panel). */
  summary?: unknown;
}

interface Ctx {
  http: HttpClient;
  sources: SourcesConfig;
  signal?: AbortSignal;
}

const compact = (date: string) => date.replaceAll('-', '');

function expectOk(res: HttpResponse, what: string): HttpResponse {
  if (res.status === 404) {
    throw new HarbourError(ErrorCodes.ParseNoData, `${what}: the source has no page (404) at ${res.url}`, {
      detail: { url: res.url, status: 404 },
    });
  }
  if (res.status >= 400) {
    throw new HarbourError(ErrorCodes.HttpFailed, `${what}: HTTP ${res.status} from ${res.url}`, {
      detail: { url: res.url, status: res.status },
    });
  }
  return res;
}

/**
 * Marks of a bot wall or challenge page (bot-management interstitials, CAPTCHA, "access denied"
 * pages of CDNs). Only consulted when a page is NOT the expected one: the real 2025–2026 CCASS
 * pages load a bot-management script themselves. Which wall HKEX would show is not known from any
 * capture; these are the usual wordings.
 */
const BOT_WALL_RE =
  /captcha|challenge-platform|cf-chl|_Incapsula_Resource|Request unsuccessful|Access Denied|Pardon Our Interruption|are you a robot|verify you are (?:a )?human|bot manager|bm-verify|sec-if-cpt/i;

export function looksLikeBotWall(html: string): boolean {
  return BOT_WALL_RE.test(html.slice(0, 200_000));
}

/** A bot wall or rate limit: its own coded error (retried later), and the host is slowed down. */
function blocked(ctx: Ctx, url: string, what: string, why: string, status?: number): HarbourError {
  ctx.http.slowDown(new URL(url).host);
  return new HarbourError(ErrorCodes.HttpBlocked, `${what}: ${why} at ${url}; slowing down`, {
    detail: { url, ...(status === undefined ? {} : { status }) },
  });
}

const ccassSearchUrl = (ctx: Ctx) => `${ctx.sources.ccassBaseUrl}/sdw/search/searchsdw.aspx`;

/**
 * A CCASS request carrying what the site's own pages send: the search page as Referer,
 * Accept-Language, a browser's Accept (User-Agent: the http client's `userAgent` setting). 429,
 * and 403 (CCASS answers its own refusals with 200 pages), are a rate limit / bot wall.
 */
async function ccassRequest(
  ctx: Ctx,
  req: { method: 'GET' | 'POST'; url: string; form?: Record<string, string>; accept?: string },
  what: string,
): Promise<HttpResponse> {
  const res = await unlessRateLimited(ctx, req.url, what, () =>
    ctx.http.request({
      method: req.method,
      url: req.url,
      headers: {
        referer: ccassSearchUrl(ctx),
        'accept-language': sourceSetting(ctx.sources, 'acceptLanguage'),
        accept: req.accept ?? 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
        ...(req.method === 'POST' ? { origin: ctx.sources.ccassBaseUrl } : {}),
      },
      ...(req.form ? { form: req.form } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }),
  );
  return expectOk(res, what);
}

/**
 * Sends a request to a source that answers its own refusals with pages (CCASS, the HKEX main
 * site): a 429 (after the client's retries) or a 403 is a rate limit / bot wall, HttpBlocked.
 */
async function unlessRateLimited(
  ctx: Ctx,
  url: string,
  what: string,
  send: () => Promise<HttpResponse>,
): Promise<HttpResponse> {
  let res: HttpResponse;
  try {
    res = await send();
  } catch (err) {
    if (isHarbourError(err, ErrorCodes.HttpFailed) && err.detail?.['lastStatus'] === 429) {
      throw blocked(ctx, url, what, 'rate limited (429) through every retry', 429);
    }
    throw err;
  }
  if (res.status === 429 || res.status === 403) {
    const why = res.status === 429 ? 'rate limited (429)' : 'refused (403, not the asked page)';
    throw blocked(ctx, url, what, why, res.status);
  }
  return res;
}

/** A page that is not what was asked: a bot wall is HttpBlocked, anything else keeps the parser's error. */
function unlessBotWall<T>(ctx: Ctx, url: string, what: string, html: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (looksLikeBotWall(html)) throw blocked(ctx, url, what, 'a bot-wall / challenge page answered');
    throw err;
  }
}

/**
 * The CCASS stock list for a date (codes the CCASS search knows). The real page asks for it from
 * script; whether the site checks more than Referer on this call is not known.
 */
export async function fetchCcassStockList(ctx: Ctx, date: string): Promise<{ code: string; name: string }[]> {
  const url = `${ctx.sources.ccassBaseUrl}/sdw/search/stocklist.aspx?sortby=stockcode&shareholdingdate=${compact(date)}`;
  const text = (
    await ccassRequest(
      ctx,
      { method: 'GET', url, accept: 'application/json, text/javascript, */*; q=0.01' },
      'CCASS stock list',
    )
  ).text();
  return unlessBotWall(ctx, url, 'CCASS stock list', text, () => parseCcassStockList(text));
}

/**
 * Every field a browser would post back from the search form: all named inputs of the form that
 * holds `__VIEWSTATE` (hidden ones whatever their names — 2019: `__EVENTVALIDATION`; 2026:
 * `originalShareholdingDate`, `alertMsg`… — and the text boxes), checked radios/checkboxes only,
 * no buttons. Undefined when the page has no `__VIEWSTATE` (not the form).
 */
export function ccassFormFields(html: string): Record<string, string> | undefined {
  const $ = load(html);
  const viewState = $('input[name="__VIEWSTATE"]').first();
  if (viewState.length === 0 || !viewState.attr('value')) return undefined;
  const form = viewState.closest('form');
  const inputs = form.length > 0 ? form.find('input[name]') : $('input[name]');
  const fields: Record<string, string> = {};
  inputs.each((_, el) => {
    const input = $(el);
    const type = (input.attr('type') ?? 'text').toLowerCase();
    if (['submit', 'button', 'image', 'reset', 'file'].includes(type)) return;
    if ((type === 'radio' || type === 'checkbox') && input.attr('checked') === undefined) return;
    fields[input.attr('name')!] = input.attr('value') ?? '';
  });
  return fields;
}

/**
 * CCASS shareholding of one stock on one date: the ASP.NET form flow. GET the search page for its
 * fields (and session cookie), then POST every one of them back with the date and code.
 */
export async function fetchCcass(ctx: Ctx, code: string, date: string): Promise<Fetched<'ccass'>> {
  const url = ccassSearchUrl(ctx);
  const formHtml = (await ccassRequest(ctx, { method: 'GET', url }, 'CCASS search form')).text();
  const fields = ccassFormFields(formHtml);
  if (!fields) {
    // Not the form: let the parser classify the page (maintenance, …) before calling it a layout change.
    return unlessBotWall(ctx, url, 'CCASS search form', formHtml, () => {
      parseCcass(formHtml);
      throw new HarbourError(ErrorCodes.ParseLayout, 'CCASS search form has no __VIEWSTATE field', {
        detail: { url },
      });
    });
  }
  const res = await ccassRequest(
    ctx,
    {
      method: 'POST',
      url,
      form: {
        ...fields,
        __EVENTTARGET: 'btnSearch',
        __EVENTARGUMENT: '',
        txtShareholdingDate: date.replaceAll('-', '/'),
        txtStockCode: code,
      },
    },
    'CCASS search result',
  );
  const html = res.text();
  const { summary, rows } = unlessBotWall(ctx, url, 'CCASS search result', html, () => parseCcass(html));
  if (summary.code !== code || summary.holdingDate !== date) {
    throw new HarbourError(
      ErrorCodes.ParseLayout,
      `CCASS answered ${summary.code} on ${summary.holdingDate} when asked for ${code} on ${date}`,
      { detail: { url, asked: { code, date }, got: { code: summary.code, date: summary.holdingDate } } },
    );
  }
  return { dataset: 'ccass', key: code, asOf: date, sourceUrl: `${url}#${code}@${date}`, rows, summary };
}

/** URLs of a day's Daily Quotations reports: main board `dYYMMDDe.htm`, GEM `GEM/e_GYYMMDD.htm`. */
export function quotationsUrls(hkexBaseUrl: string, date: string): Record<QuoteBoard, string> {
  const yymmdd = compact(date).slice(2);
  return {
    main: `${hkexBaseUrl}/eng/stat/smstat/dayquot/d${yymmdd}e.htm`,
    gem: `${hkexBaseUrl}/eng/stat/smstat/dayquot/GEM/e_G${yymmdd}.htm`,
  };
}

/**
 * One board's report, streamed: bytes are decoded (latin-1) and parsed as they arrive, so a real
 * ~25 MB report never sits in memory whole, and the download stops once the quotations section is
 * read (the sales records after it are not needed). `undefined` when the site has no such report (404).
 */
async function fetchQuotationsReport(
  ctx: Ctx,
  url: string,
  board: QuoteBoard,
): Promise<{ tradeDate: string; rows: QuoteRow[] } | undefined> {
  let current: { parser: QuotationsStreamParser; lines: ReturnType<typeof latin1Lines> } | undefined;
  const what = `daily quotations (${board})`;
  const send = () =>
    ctx.http.request({
      method: 'GET',
      url,
      timeoutMs: sourceSetting(ctx.sources, 'quotationsTimeoutMs'),
      idleTimeoutMs: sourceSetting(ctx.sources, 'quotationsIdleTimeoutMs'),
      sink: () => {
        const parser = new QuotationsStreamParser({ board });
        const lines = latin1Lines((line: string) => parser.line(line));
        current = { parser, lines };
        return {
          write(chunk) {
            lines.write(chunk);
            return parser.done;
          },
        };
      },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  const res = await unlessRateLimited(ctx, url, what, send);
  if (res.status === 404) return undefined;
  expectOk(res, what);
  if (!res.sink || !current) {
    // Not a 2xx that streamed (a redirect not followed, …): nothing was read.
    throw new HarbourError(ErrorCodes.HttpFailed, `${what}: HTTP ${res.status} from ${url}`, {
      detail: { url, status: res.status },
    });
  }
  const { parser, lines } = current;
  lines.end();
  return unlessBotWall(ctx, url, what, parser.pageStart, () => parser.end());
}

/**
 * The Daily Quotations of a trading day: the main-board and the GEM report, one dataset, `board`
 * on every row. Both 404 = no report that day (a holiday): no data. Only one 404 =
 * `HARBOUR_ERR_QUOTATIONS_BOARD_MISSING`, retried (HKEX may publish it late) and then dead-lettered,
 * never half a day published.
 */
export async function fetchQuotations(ctx: Ctx, date: string): Promise<Fetched<'quotes'>> {
  const urls = quotationsUrls(ctx.sources.hkexBaseUrl, date);
  const main = await fetchQuotationsReport(ctx, urls.main, 'main');
  const gem = await fetchQuotationsReport(ctx, urls.gem, 'gem');
  if (!main && !gem) {
    throw new HarbourError(
      ErrorCodes.ParseNoData,
      `daily quotations: no report for ${date} on either board (404)`,
      {
        detail: { urls, status: 404 },
      },
    );
  }
  if (!main || !gem) {
    const missing = main ? 'gem' : 'main';
    throw new HarbourError(
      ErrorCodes.QuotationsBoardMissing,
      `daily quotations ${date}: the ${missing === 'gem' ? 'GEM' : 'main-board'} report is missing (404) while the other exists`,
      { detail: { missing, url: urls[missing], status: 404 } },
    );
  }
  for (const [board, report] of [
    ['main', main],
    ['gem', gem],
  ] as const) {
    if (report.tradeDate !== date) {
      throw new HarbourError(
        ErrorCodes.ParseLayout,
        `${board} quotations report says ${report.tradeDate}, asked for ${date}`,
        { detail: { url: urls[board] } },
      );
    }
  }
  // One unit per day (key `all`), rows by code: the main-board URL names it; each row's `board`
  // says which report it is from.
  const rows = [...main.rows, ...gem.rows].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  return { dataset: 'quotes', key: 'all', asOf: date, sourceUrl: urls.main, rows };
}

/** HKEX's List of Securities workbook. The site serves only the current list: `asOf` is the date the workbook states. */
export async function fetchSecurities(ctx: Ctx): Promise<Fetched<'securities'>> {
  const url = `${ctx.sources.hkexBaseUrl}/eng/services/trading/securities/securitieslists/ListOfSecurities.xlsx`;
  const res = expectOk(
    await unlessRateLimited(ctx, url, 'list of securities', () =>
      ctx.http.request({
        method: 'GET',
        url,
        timeoutMs: sourceSetting(ctx.sources, 'securitiesTimeoutMs'),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }),
    ),
    'list of securities',
  );
  const { asOf, rows } = await parseSecuritiesList(res.body);
  return { dataset: 'securities', key: 'all', asOf, sourceUrl: url, rows };
}

/**
 * Quote-widget figures of one stock (EPS, P/E, yield, market cap, issued shares): a snapshot of the
 * moment fetched, `asOf` the date of the widget's `updatetime` (the widget has no date parameter).
 */
export async function fetchFundamentals(ctx: Ctx, code: string): Promise<Fetched<'fundamentals'>> {
  const { row, sourceUrl } = await fetchQuote(ctx, code);
  return { dataset: 'fundamentals', key: code, asOf: row.as_of, sourceUrl, rows: [row] };
}

/** Runs the fetcher a job names. */
export function fetchForJob(
  ctx: Ctx,
  job: { dataset: Dataset; date: string; code?: string },
): Promise<Fetched> {
  const needCode = () => {
    if (!job.code)
      throw new HarbourError(ErrorCodes.SchemaInvalid, `a ${job.dataset} job needs a stock code`, {
        detail: { path: '/code' },
      });
    return job.code;
  };
  switch (job.dataset) {
    case 'ccass':
      return fetchCcass(ctx, needCode(), job.date);
    case 'quotes':
      return fetchQuotations(ctx, job.date);
    case 'securities':
      return fetchSecurities(ctx);
    case 'fundamentals':
      return fetchFundamentals(ctx, needCode());
  }
}
