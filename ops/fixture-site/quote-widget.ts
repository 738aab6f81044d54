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
