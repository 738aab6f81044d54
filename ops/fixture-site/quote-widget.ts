/**
 * The HKEX quote widget answer (`getequityquote`, JSONP) in the field layout of the real fixture,
 * consistent with the quotations model for the chosen date.
 */
import { chineseDate, commasFixed, englishDate } from './format.ts';
import type { DayQuote } from './market.ts';
import { FX_PER_HKD, type Stock } from './universe.ts';

function px3(milli: number | null): string {
  return milli === null ? '-' : (milli / 1000).toFixed(3);
}

/** Amount → [value with 2 decimals and commas, unit], in billions from 1e9, else millions. */
export function scaled(x: number | null): [string, string] {
  if (x === null) return ['-', ''];
  if (x >= 1e9) return [commasFixed(x / 1e9, 2), 'B'];
  return [commasFixed(x / 1e6, 2), 'M'];
}

export interface WidgetOptions {
  lang: 'eng' | 'chi';
  qid: string;
}

/** `data` part of the widget answer for a stock on a date (`q` = that day's quote, or undefined if unknown). */
export function widgetData(stock: Stock | undefined, q: DayQuote | undefined, opts: WidgetOptions): unknown {
  // unknown symbol: the widget answers OK with an empty quote
  if (!stock || !q) return { responsecode: '000', responsemsg: '', quote: {} };
  const ls = q.close;
  const hc = q.prevClose;
  const [vo, vo_u] = scaled(q.volume);
  const [am, am_u] = scaled(q.turnover);
  const [mkt_cap, mkt_cap_u] = scaled((ls / 1000) * stock.issuedShares);
  const eps = Math.round(stock.epsHkd * FX_PER_HKD[stock.epsCcy] * 10000) / 10000;
  const pe = stock.epsHkd > 0 ? (ls / 1000 / stock.epsHkd).toFixed(2) : '-';
  const nc = ((ls - hc) / 1000).toFixed(3);
  const pc = hc > 0 ? (((ls - hc) / hc) * 100).toFixed(2) : '-';
  const chi = opts.lang === 'chi';
  const day = (iso: string) => (chi ? chineseDate(iso) : englishDate(iso));
  const at = (iso: string, hm: string) => (chi ? `${day(iso)}${hm}` : `${day(iso)} ${hm}`);
  const suspended = q.status === 'suspended' || q.status === 'halted';
  const isEtp = stock.security.category === 'Exchange Traded Products';
  return {
    responsecode: '000',
    responsemsg: '',
    quote: {
      hi: px3(q.high),
      rs_stock_flag: false,
      fiscal_year_end: day(`${Number(q.date.slice(0, 4)) - 1}-12-31`),
      hist_closedate: q.prevDate ? day(q.prevDate) : '',
      amt_os: commasFixed(stock.issuedShares, 0),
      primaryexch: chi ? '香港交易所' : 'HKEX',
      ric: `${stock.code.slice(1)}.HK`,
      db_updatetime: at(q.date, '18:00'),
      mkt_cap_u,
      am_u,
      ccy: stock.currency === 'RMB' ? 'CNY' : stock.currency,
      trdstatus: suspended ? 'S' : 'N',
      nav: '',
      eps,
      as: px3(q.ask),
      bd: px3(q.bid),
      am,
      lot: String(stock.boardLot),
      vo_u,
      issuer_name: stock.longName,
      div_yield: stock.divYield.toFixed(2),
      updatetime: at(q.date, '16:08'),
      lo: px3(q.low),
      mkt_cap,
      ls: px3(ls),
      vo,
      nm: stock.longName,
      nm_s: stock.name,
      sym: String(Number(stock.code)),
      op: px3(q.open),
      product_type: isEtp ? 'ETP' : 'EQTY',
      pe,
      eps_ccy: stock.epsCcy,
      hc: px3(hc),
      nc,
      pc,
      isin: stock.security.isin.trim(),
    },
  };
}

/** The full answer: JSONP when a callback is given, plain JSON otherwise. */
export function widgetBody(
  data: unknown,
  qid: string,
  callback: string | undefined,
): { body: string; type: string } {
  const json = JSON.stringify({ data, qid });
  if (callback && /^[\w$.]+$/.test(callback)) {
    return { body: `${callback}(${json})`, type: 'text/javascript; charset=utf-8' };
  }
  return { body: json, type: 'application/json; charset=utf-8' };
}

/** Base64 `+`, `/`, `=` escaped the way the real page prints them (lower-case hex: `%2b`, `%2f`). */
export function pageEncodedToken(token: string): string {
  return encodeURIComponent(token).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}

/**
 * An HKEX equities page carrying the widget token in its inline script, in the form of the real page
 * (SOURCES.md, "Quote widget"): the commented placeholder line, then the live `return "…"`.
 */
export function equitiesPage(token: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Equities | HKEX</title>
<script type="text/javascript">
function getToken() {
    //return "Base64-AES-Encrypted-Token";
    return "${pageEncodedToken(token)}";
}
</script></head>
<body><div class="market-data-equities"><h1>Equities</h1></div></body></html>
`;
}

/**
 * The widget's tokens. Known from the real site: the page carries a token, the API refuses a request
 * without a valid one (403), and tokens change over time (public scrapers re-read the page about
 * daily). NOT known, and modelled simply here: how long a token lives (`ttlMs`), whether a replaced
 * token keeps working for a while (here: no, only the current token is accepted), and whether tokens
 * are per visitor (here: one site-wide token).
 */
export class QuoteTokens {
  private current = '';
  private issuedAt = 0;
  private staleNext = 0;
  /** Widget requests refused for a missing, stale or unknown token. */
  refused = 0;
  /** Equities pages served. */
  pages = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly newToken: () => string,
    private readonly now: () => number = Date.now,
  ) {
    this.rotate();
  }

  private rotate(): void {
    this.current = this.newToken();
    this.issuedAt = this.now();
  }

  /** The token a page served now carries (a new one once the current one is older than `ttlMs`). */
  forPage(): string {
    this.pages += 1;
    if (this.now() - this.issuedAt >= this.ttlMs) this.rotate();
    if (this.staleNext > 0) {
      // The token rotates right after this page was read: the reader holds a stale token.
      this.staleNext -= 1;
      const served = this.current;
      this.rotate();
      return served;
    }
    return this.current;
  }

  /** Whether the widget accepts this token (counts a refusal otherwise). */
  accept(token: string | null): boolean {
    const ok = token !== null && token === this.current && this.now() - this.issuedAt < this.ttlMs;
    if (!ok) this.refused += 1;
    return ok;
  }

  /** Replaces the current token now: every token handed out so far is refused from here on. */
  expire(): void {
    this.rotate();
  }

  /** The next `n` pages serve a token that is replaced right after (a rotation between page and call). */
  serveStale(n = 1): void {
    this.staleNext += n;
  }

  toJSON(): { pages: number; refused: number } {
    return { pages: this.pages, refused: this.refused };
  }
}
