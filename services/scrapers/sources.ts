import { load } from 'cheerio/slim';
import { type Dataset, ErrorCodes, HarbourError, type RowsByDataset } from '../../contracts/index.ts';
import type { SourcesConfig } from './config.ts';
import type { HttpClient, HttpResponse } from './http/index.ts';
import {
  decodeLatin1,
  parseCcass,
  parseCcassStockList,
  parseQuotations,
  parseSecuritiesList,
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

const get = async (ctx: Ctx, url: string, what: string) =>
  expectOk(
    await ctx.http.request({ method: 'GET', url, ...(ctx.signal ? { signal: ctx.signal } : {}) }),
    what,
  );

/** The CCASS stock list for a date (codes the CCASS search knows). */
export async function fetchCcassStockList(ctx: Ctx, date: string): Promise<{ code: string; name: string }[]> {
  const url = `${ctx.sources.ccassBaseUrl}/sdw/search/stocklist.aspx?sortby=stockcode&shareholdingdate=${compact(date)}`;
  return parseCcassStockList((await get(ctx, url, 'CCASS stock list')).text());
}

/**
 * CCASS shareholding of one stock on one date: the ASP.NET form flow. GET the search page for its
 * hidden fields (and session cookie), then POST them back with the date and code.
 */
export async function fetchCcass(ctx: Ctx, code: string, date: string): Promise<Fetched<'ccass'>> {
  const url = `${ctx.sources.ccassBaseUrl}/sdw/search/searchsdw.aspx`;
  const formHtml = (await get(ctx, url, 'CCASS search form')).text();
  const form = load(formHtml);
  const fields: Record<string, string> = {};
  form('input[type=hidden]').each((_, el) => {
    const name = form(el).attr('name');
    if (name) fields[name] = form(el).attr('value') ?? '';
  });
  if (!fields.__VIEWSTATE) {
    // Not the form: let the parser classify the page (maintenance, …) before calling it a layout change.
    parseCcass(formHtml);
    throw new HarbourError(ErrorCodes.ParseLayout, 'CCASS search form has no __VIEWSTATE field', {
      detail: { url },
    });
  }
  const res = expectOk(
    await ctx.http.request({
      method: 'POST',
      url,
      form: {
        ...fields,
        __EVENTTARGET: 'btnSearch',
        __EVENTARGUMENT: '',
        txtShareholdingDate: date.replaceAll('-', '/'),
        txtStockCode: code,
        txtParticipantID: '',
        txtParticipantName: '',
        txtSelPartID: '',
      },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }),
    'CCASS search result',
  );
  const { summary, rows } = parseCcass(res.text());
  if (summary.code !== code || summary.holdingDate !== date) {
    throw new HarbourError(
      ErrorCodes.ParseLayout,
      `CCASS answered ${summary.code} on ${summary.holdingDate} when asked for ${code} on ${date}`,
      { detail: { url, asked: { code, date }, got: { code: summary.code, date: summary.holdingDate } } },
    );
  }
  return { dataset: 'ccass', key: code, asOf: date, sourceUrl: `${url}#${code}@${date}`, rows, summary };
}

/** The Daily Quotations report of a trading day (latin-1 text in a `<pre>`). */
export async function fetchQuotations(ctx: Ctx, date: string): Promise<Fetched<'quotes'>> {
  const url = `${ctx.sources.hkexBaseUrl}/eng/stat/smstat/dayquot/d${compact(date).slice(2)}e.htm`;
  const { tradeDate, rows } = parseQuotations(decodeLatin1((await get(ctx, url, 'daily quotations')).body));
  if (tradeDate !== date) {
    throw new HarbourError(ErrorCodes.ParseLayout, `quotations report says ${tradeDate}, asked for ${date}`, {
      detail: { url },
    });
  }
  return { dataset: 'quotes', key: 'all', asOf: date, sourceUrl: url, rows };
}

/** HKEX's List of Securities workbook. The site serves only the current list: `asOf` is the date the workbook states. */
export async function fetchSecurities(ctx: Ctx): Promise<Fetched<'securities'>> {
  const url = `${ctx.sources.hkexBaseUrl}/eng/services/trading/securities/securitieslists/ListOfSecurities.xlsx`;
  const { asOf, rows } = await parseSecuritiesList((await get(ctx, url, 'list of securities')).body);
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
