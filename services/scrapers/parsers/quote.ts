import { ErrorCodes, type FundamentalRow } from '../../../contracts/index.ts';
import {
  cleanText,
  excerpt,
  fail,
  isoDate,
  isoFromDmy,
  isoFromYmd,
  MAINTENANCE_RE,
  MONTHS,
  normalizeStockCode,
  parseDecimal,
  scaleDecimal,
} from './shared.ts';

/** Powers of ten of the unit suffixes the widget prints beside amounts (`vo_u`, `am_u`, `mkt_cap_u`). */
const UNIT_POW: Record<string, number> = {
  '': 0,
  K: 3,
  M: 6,
  B: 9,
  T: 12,
  千: 3,
  萬: 4,
  万: 4,
  百萬: 6,
  億: 8,
  亿: 8,
};

/** Removes a JSONP wrapper: `callback({...})`, `jQuery1_2({...});`, `/**\/ cb({...})`. */
function unwrapJsonp(body: string): string {
  const t = body.replace(/^\uFEFF/, '').trim();
  if (t.startsWith('{') || t.startsWith('[')) return t;
  const m = /^(?:\/\*\*\/\s*)?[A-Za-z_$][\w$.]*\s*\(([\s\S]*)\)\s*;?\s*$/.exec(t);
  return m ? m[1]!.trim() : t;
}

/**
 * The quote widget's date stamp → ISO date. Accepts `2018年6月8日16:08` (Chinese), `8 Jun 2018 16:08`,
 * `08/06/2018 16:08` (dd/mm/yyyy) and `2018-06-08`.
 */
export function quoteDate(s: string): string | null {
  const t = cleanText(s);
  const zh = /(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日/.exec(t);
  if (zh) return isoDate(Number(zh[1]), Number(zh[2]), Number(zh[3]));
  const en = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?,?\s+(\d{4})/.exec(t);
  if (en) {
    const month = MONTHS[en[2]!.toUpperCase()];
    return month === undefined ? null : isoDate(Number(en[3]), month, Number(en[1]));
  }
  return isoFromYmd(t) ?? isoFromDmy(t);
}

/**
 * Parses the HKEX quote widget answer (`getequityquote?sym=700&…`), plain JSON or JSONP-wrapped, into
 * a FundamentalRow. Amounts printed with a unit (`vo`+`vo_u`, `am`+`am_u`, `mkt_cap`+`mkt_cap_u`,
 * units K/M/B/T) are multiplied out exactly; `amt_os` is the issued shares; `div_yield` and `pe` stay as
 * printed (0.21 means 0.21 %); `as_of` is the date of `updatetime`.
 *
 * Refuses: not JSON / no `data.quote` object → ParseLayout; an empty quote (no `sym`) →
 * ParseUnknownStock. `responsecode` ≠ "000": ParseMaintenance when the message says maintenance,
 * QuoteToken when it mentions the token (the caller reads a new token once and retries),
 * ParseUnknownStock when it says the symbol is invalid, else QuoteResponse. What is KNOWN: "000" with
 * a quote is an answer, and an unknown symbol answers "000" with an empty quote. What is NOT known:
 * the other codes HKEX uses and their messages (no capture shows one; a refused token observed so far
 * is an HTTP 403, not a code), so an unrecognised code is its own retryable error and never "no data".
 */
export function parseQuote(body: string): FundamentalRow {
  const json = unwrapJsonp(body);
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (cause) {
    fail(
      ErrorCodes.ParseLayout,
      'quote widget answer is neither JSON nor JSONP',
      { start: excerpt(body, 120) },
      cause,
    );
  }
  const data = (doc as { data?: unknown } | null)?.data as
    | { responsecode?: unknown; responsemsg?: unknown; quote?: unknown }
    | undefined;
  if (data === undefined || data === null || typeof data !== 'object') {
    fail(ErrorCodes.ParseLayout, 'quote widget answer has no "data" object', { start: excerpt(json, 120) });
  }
  const responseCode = data.responsecode === undefined ? '000' : String(data.responsecode).trim();
  const responseMsg = cleanText(String(data.responsemsg ?? ''));
  if (responseCode !== '000') {
    const detail = { responseCode, responseMsg };
    if (MAINTENANCE_RE.test(responseMsg)) {
      fail(ErrorCodes.ParseMaintenance, `quote widget is under maintenance: ${responseMsg}`, detail);
    }
    if (/token/i.test(responseMsg)) {
      fail(ErrorCodes.QuoteToken, `quote widget refused the token: ${responseMsg}`, detail);
    }
    if (/invalid|not found|no such|unknown|symbol|stock code/i.test(responseMsg)) {
      fail(ErrorCodes.ParseUnknownStock, `quote widget does not know the stock: ${responseMsg}`, detail);
    }
    fail(
      ErrorCodes.QuoteResponse,
      `quote widget answered with the unknown response code ${responseCode}${responseMsg ? ` (${responseMsg})` : ''}`,
      detail,
    );
  }
  const quote = data.quote as Record<string, unknown> | null | undefined;
  if (
    quote === null ||
    quote === undefined ||
    (typeof quote === 'object' && Object.keys(quote).length === 0)
  ) {
    fail(ErrorCodes.ParseUnknownStock, 'quote widget answered without a quote (unknown stock?)', {
      responseCode,
      responseMsg,
    });
  }
  if (typeof quote !== 'object') {
    fail(ErrorCodes.ParseLayout, 'quote widget "data.quote" is not an object', { type: typeof quote });
  }

  const str = (key: string): string => {
    const v = quote[key];
    return v === null || v === undefined ? '' : String(v);
  };
  const num = (key: string): number | null => {
    const n = parseDecimal(typeof quote[key] === 'number' ? (quote[key] as number) : str(key));
    if (n === undefined) {
      fail(ErrorCodes.ParseLayout, `quote widget field "${key}" is not a number: "${str(key)}"`, {
        field: key,
        value: quote[key],
      });
    }
    return n;
  };
  const withUnit = (key: string, unitKey: string): number | null => {
    const unit = cleanText(str(unitKey)).toUpperCase();
    const pow = UNIT_POW[unit];
    if (pow === undefined) {
      fail(ErrorCodes.ParseLayout, `quote widget field "${unitKey}" has an unknown unit "${unit}"`, {
        field: unitKey,
        value: unit,
      });
    }
    const raw = quote[key];
    // Plain digits scale exactly as text; exponent notation (1e21) falls back to float multiplication.
    let n = scaleDecimal(str(key), pow);
    if (n === undefined && typeof raw === 'number' && Number.isFinite(raw)) n = raw * 10 ** pow;
    if (n === undefined) {
      fail(ErrorCodes.ParseLayout, `quote widget field "${key}" is not a number: "${str(key)}"`, {
        field: key,
        value: quote[key],
      });
    }
    return n;
  };

  const code = normalizeStockCode(cleanText(str('sym')));
  if (code === null) {
    if (cleanText(str('sym')) === '') {
      fail(ErrorCodes.ParseUnknownStock, 'quote widget answered with an empty quote (unknown stock?)');
    }
    fail(ErrorCodes.ParseLayout, `quote widget symbol "${str('sym')}" is not an HKEX stock code`, {
      sym: str('sym'),
    });
  }
  const asOf = quoteDate(str('updatetime'));
  if (asOf === null) {
    fail(ErrorCodes.ParseLayout, `quote widget update time "${str('updatetime')}" is not a readable date`, {
      updatetime: str('updatetime'),
    });
  }
  const epsCcy = cleanText(str('eps_ccy'));

  return {
    code,
    as_of: asOf,
    last: num('ls'),
    prev_close: num('hc'),
    open: num('op'),
    high: num('hi'),
    low: num('lo'),
    volume: withUnit('vo', 'vo_u'),
    turnover: withUnit('am', 'am_u'),
    eps: num('eps'),
    eps_currency: epsCcy === '' || epsCcy === '-' ? null : epsCcy,
    pe: num('pe'),
    dividend_yield: num('div_yield'),
    market_cap: withUnit('mkt_cap', 'mkt_cap_u'),
    issued_shares: num('amt_os'),
  };
}
