/**
 * The HKEX quote widget (fundamentals) called the way a browser calls it (test/fixtures/hkex/SOURCES.md,
 * "Quote widget"): the data API answers only with a token that an HKEX equities page carries in an
 * inline script, so the token is read from that page first, kept, and sent with `qid`, `callback`
 * and `_` (ms timestamps) and the Referer of the equities quote page. The widget gives only the
 * latest quote: there is no date parameter, and what it answers is a snapshot as of its `updatetime`.
 */
import { ErrorCodes, type FundamentalRow, HarbourError, isHarbourError } from '../../contracts/index.ts';
import type { SourcesConfig } from './config.ts';
import type { HttpClient, HttpResponse } from './http/index.ts';
import { parseQuote } from './parsers/index.ts';

interface Ctx {
  http: HttpClient;
  sources: SourcesConfig;
  signal?: AbortSignal;
}

/** Path of the equities page on the HKEX main site, used when `quoteTokenPageUrl` is empty. */
export const EQUITIES_PAGE_PATH = '/Market-Data/Securities-Prices/Equities';
const EQUITIES_QUOTE_PAGE_PATH = '/Market-Data/Securities-Prices/Equities/Equities-Quote';

export function tokenPageUrl(sources: SourcesConfig): string {
  return sources.quoteTokenPageUrl || `${sources.hkexBaseUrl}${EQUITIES_PAGE_PATH}?sc_lang=en`;
}

/**
 * The token of an equities page: the first `return "…"` in `getToken()` that is not commented out
 * (the page keeps `//return "Base64-AES-Encrypted-Token";` above the real one), URL-decoded (the page
 * prints it encoded: `%2b`, `%2f`). `undefined` when the page has none.
 */
export function tokenFromPage(html: string): string | undefined {
  const body = /function\s+getToken\s*\(\s*\)\s*\{([\s\S]*?)\}/.exec(html)?.[1];
  if (body === undefined) return undefined;
  for (const line of body.split(/\r?\n/)) {
    const t = line.trim();
    if (t.startsWith('//')) continue;
    const m = /^return\s*(["'])([^"']+)\1/.exec(t);
    if (!m) continue;
    try {
      return decodeURIComponent(m[2]!);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

interface TokenState {
  token?: string;
  pending?: Promise<string>;
}

/**
 * Tokens kept per HTTP client and token page: one scraper process reads the page once and shares the
 * token between its jobs until the widget refuses it. Keyed on the client so a client's lifetime
 * bounds the cache (a closed client's tokens are garbage-collected with it).
 */
const tokens = new WeakMap<HttpClient, Map<string, TokenState>>();

function stateOf(ctx: Ctx): TokenState {
  let byPage = tokens.get(ctx.http);
  if (!byPage) {
    byPage = new Map();
    tokens.set(ctx.http, byPage);
  }
  const url = tokenPageUrl(ctx.sources);
  let state = byPage.get(url);
  if (!state) {
    state = {};
    byPage.set(url, state);
  }
  return state;
}

async function readToken(ctx: Ctx): Promise<string> {
  const url = tokenPageUrl(ctx.sources);
  const res = await ctx.http.request({
    method: 'GET',
    url,
    headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (res.status >= 400) {
    throw new HarbourError(
      ErrorCodes.HttpFailed,
      `HKEX equities page (quote token): HTTP ${res.status} from ${url}`,
      {
        detail: { url, status: res.status },
      },
    );
  }
  const token = tokenFromPage(res.text());
  if (token === undefined) {
    throw new HarbourError(ErrorCodes.QuoteToken, `HKEX equities page ${url} carries no getToken() token`, {
      detail: { url },
    });
  }
  return token;
}

/**
 * The token to use: the kept one, or a new one read from the page. With `stale` (the token the
 * widget just refused) a new one is read unless another job already replaced it; concurrent callers
 * share one page fetch.
 */
function token(ctx: Ctx, stale?: string): Promise<string> {
  const state = stateOf(ctx);
  if (state.token !== undefined && state.token !== stale) return Promise.resolve(state.token);
  if (!state.pending) {
    state.pending = readToken(ctx)
      .then((t) => {
        state.token = t;
        return t;
      })
      .finally(() => {
        state.pending = undefined;
      });
  }
  return state.pending;
}

/** A jQuery-style JSONP callback name, as the widget's own page sends (`jQuery3510…_<ms>`). */
function callbackName(now: number): string {
  const digits = String(Math.random()).slice(2, 18).padEnd(16, '0');
  return `jQuery3510${digits}_${now}`;
}

/** The widget URL for a request (the token is sent URL-encoded: base64 `+`, `/`, `=`). */
export function widgetUrl(sources: SourcesConfig, sym: string, token: string, now = Date.now()): string {
  const q = new URLSearchParams({
    sym,
    token,
    lang: 'eng',
    qid: String(now),
    callback: callbackName(now),
    _: String(now + 1),
  });
  return `${sources.quoteBaseUrl}/data/getequityquote?${q}`;
}

/** Where a quote came from, without the per-request token and timestamps (stable lineage). */
export const widgetSourceUrl = (sources: SourcesConfig, sym: string) =>
  `${sources.quoteBaseUrl}/data/getequityquote?sym=${sym}&lang=eng`;

function refused(res: HttpResponse, url: string): HarbourError {
  return new HarbourError(
    ErrorCodes.QuoteToken,
    `quote widget refused a freshly read token (HTTP ${res.status})`,
    {
      detail: { url: url.replace(/token=[^&]*/, 'token=…'), status: res.status },
    },
  );
}

/**
 * The latest quote of one stock (`code` with leading zeros; the widget is asked for `sym` without).
 * A 403 or a token-rejecting `responsecode` makes it read a new token ONCE and retry; a second
 * refusal is `HARBOUR_ERR_QUOTE_TOKEN`. Other failures are the parser's coded errors.
 */
export async function fetchQuote(
  ctx: Ctx,
  code: string,
): Promise<{ row: FundamentalRow; sourceUrl: string }> {
  const sym = String(Number(code));
  const origin = new URL(tokenPageUrl(ctx.sources)).origin;
  const referer = `${origin}${EQUITIES_QUOTE_PAGE_PATH}?sym=${sym}&sc_lang=en`;
  let used = await token(ctx);
  for (let attempt = 1; ; attempt++) {
    const url = widgetUrl(ctx.sources, sym, used);
    const res = await ctx.http.request({
      method: 'GET',
      url,
      headers: { referer, accept: 'text/javascript, application/javascript, */*; q=0.01' },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    let rejected = res.status === 403;
    if (!rejected && res.status >= 400) {
      throw new HarbourError(ErrorCodes.HttpFailed, `quote widget: HTTP ${res.status}`, {
        detail: { url: widgetSourceUrl(ctx.sources, sym), status: res.status },
      });
    }
    if (!rejected) {
      try {
        const row = parseQuote(res.text());
        if (row.code !== code) {
          throw new HarbourError(
            ErrorCodes.ParseLayout,
            `quote widget answered ${row.code} when asked for ${code}`,
            {
              detail: { asked: code, got: row.code },
            },
          );
        }
        return { row, sourceUrl: widgetSourceUrl(ctx.sources, sym) };
      } catch (err) {
        if (!isHarbourError(err, ErrorCodes.QuoteToken) || attempt > 1) throw err;
        rejected = true;
      }
    }
    if (attempt > 1) throw refused(res, url);
    used = await token(ctx, used);
  }
}
