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
  const q = new QuoteFields(quoteObject(body));
  const code = normalizeStockCode(cleanText(q.str('sym')));
  if (code === null) {
    if (cleanText(q.str('sym')) === '') {
      fail(ErrorCodes.ParseUnknownStock, 'quote widget answered with an empty quote (unknown stock?)');
    }
    fail(ErrorCodes.ParseLayout, `quote widget symbol "${q.str('sym')}" is not an HKEX stock code`, {
      sym: q.str('sym'),
    });
  }
  const asOf = quoteDate(q.str('updatetime'));
  if (asOf === null) {
    fail(ErrorCodes.ParseLayout, `quote widget update time "${q.str('updatetime')}" is not a readable date`, {
      updatetime: q.str('updatetime'),
    });
  }
  const epsCcy = cleanText(q.str('eps_ccy'));

  return {
    code,
    as_of: asOf,
    last: q.num('ls'),
    prev_close: q.num('hc'),
    open: q.num('op'),
    high: q.num('hi'),
    low: q.num('lo'),
    volume: q.withUnit('vo', 'vo_u'),
    turnover: q.withUnit('am', 'am_u'),
    eps: q.num('eps'),
    eps_currency: epsCcy === '' || epsCcy === '-' ? null : epsCcy,
    pe: q.num('pe'),
    dividend_yield: q.num('div_yield'),
    market_cap: q.withUnit('mkt_cap', 'mkt_cap_u'),
    issued_shares: q.num('amt_os'),
  };
}

/** The widget's `data` object as it answers it. */
interface WidgetData {
  responsecode?: unknown;
  responsemsg?: unknown;
  quote?: unknown;
}

/** The answer's `data` (JSON or JSONP); anything else → ParseLayout. */
function widgetData(body: string): WidgetData {
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
  const data = (doc as { data?: unknown } | null)?.data as WidgetData | null | undefined;
  if (data === undefined || data === null || typeof data !== 'object') {
    fail(ErrorCodes.ParseLayout, 'quote widget answer has no "data" object', { start: excerpt(json, 120) });
  }
  return data;
}

/** The answer's `data.quote`, once its response code is "000" and the quote is a non-empty object. */
function quoteObject(body: string): Record<string, unknown> {
  const data = widgetData(body);
  const responseCode = data.responsecode === undefined ? '000' : String(data.responsecode).trim();
  const responseMsg = cleanText(String(data.responsemsg ?? ''));
  if (responseCode !== '000') refuseResponse(responseCode, responseMsg);
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
  return quote;
}

/** A response code other than "000", classified by its message (see {@link parseQuote}). */
function refuseResponse(responseCode: string, responseMsg: string): never {
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

/** A quote's fields read as text or numbers; an unreadable number or unit → ParseLayout. */
class QuoteFields {
  constructor(private readonly quote: Record<string, unknown>) {}

  /** The field as text; absent or null → ''. */
  str(key: string): string {
    const v = this.quote[key];
    return v === null || v === undefined ? '' : String(v);
  }

  /** The field as a number; `-` and the like → null. */
  num(key: string): number | null {
    const v = this.quote[key];
    const n = parseDecimal(typeof v === 'number' ? v : this.str(key));
    if (n === undefined) this.notANumber(key);
    return n;
  }

  /** An amount printed with a unit suffix in `unitKey` (K/M/B/T, 千/萬/億…), multiplied out. */
  withUnit(key: string, unitKey: string): number | null {
    const unit = cleanText(this.str(unitKey)).toUpperCase();
    const pow = UNIT_POW[unit];
    if (pow === undefined) {
      fail(ErrorCodes.ParseLayout, `quote widget field "${unitKey}" has an unknown unit "${unit}"`, {
        field: unitKey,
        value: unit,
      });
    }
    const raw = this.quote[key];
    // Plain digits scale exactly as text; exponent notation (1e21) falls back to float multiplication.
    let n = scaleDecimal(this.str(key), pow);
    if (n === undefined && typeof raw === 'number' && Number.isFinite(raw)) n = raw * 10 ** pow;
    if (n === undefined) this.notANumber(key);
    return n;
  }

  private notANumber(key: string): never {
    fail(ErrorCodes.ParseLayout, `quote widget field "${key}" is not a number: "${this.str(key)}"`, {
      field: key,
      value: this.quote[key],
    });
  }
}
