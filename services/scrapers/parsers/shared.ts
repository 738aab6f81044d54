import { type ErrorCode, ErrorCodes, HarbourError, isHarbourError } from '../../../contracts/index.ts';

/** Throws a parser error with a code from the catalogue. */
export function fail(
  code: ErrorCode,
  message: string,
  detail?: Record<string, unknown>,
  cause?: unknown,
): never {
  throw new HarbourError(code, message, {
    ...(detail === undefined ? {} : { detail }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** How a parse ended, for callers deciding what to do next (retry, record "no data", drop the stock, alert). */
export type ParseOutcome =
  | 'ok'
  | 'maintenance'
  | 'no_data'
  | 'unknown_stock'
  | 'truncated'
  | 'layout'
  /** Not a parser refusal: a bug or an unexpected error. */
  | 'error';

const OUTCOME_BY_CODE: Partial<Record<ErrorCode, ParseOutcome>> = {
  [ErrorCodes.ParseMaintenance]: 'maintenance',
  [ErrorCodes.ParseNoData]: 'no_data',
  [ErrorCodes.ParseUnknownStock]: 'unknown_stock',
  [ErrorCodes.ParseTruncated]: 'truncated',
  [ErrorCodes.ParseLayout]: 'layout',
};

/**
 * Classifies what a parser threw (or `undefined` for success):
 * - `maintenance`: the source is down for maintenance, try the same request later;
 * - `truncated`: the page was cut short, fetch it again;
 * - `no_data`: the source has nothing for that key/date, record it and move on;
 * - `unknown_stock`: the source does not know the stock, stop asking for it;
 * - `layout`: the page is not a known layout, a person must look;
 * - `error`: not a parser refusal at all.
 */
export function parseOutcome(err?: unknown): ParseOutcome {
  if (err === undefined || err === null) return 'ok';
  if (isHarbourError(err)) return OUTCOME_BY_CODE[err.code] ?? 'error';
  return 'error';
}

/** Collapses runs of whitespace (incl. NBSP) to one space and trims. */
export function cleanText(s: string | undefined | null): string {
  return (s ?? '').replace(/[\s\u00a0]+/g, ' ').trim();
}

/** Pads a 1–5 digit stock code to 5 digits; `null` if the text is not such a code. */
export function normalizeStockCode(raw: string | number | undefined | null): string | null {
  const s = String(raw ?? '').trim();
  if (!/^\d{1,5}$/.test(s)) return null;
  return s.padStart(5, '0');
}

const NULL_TOKENS = new Set(['', '-', '--', 'N/A', 'NA', 'n/a']);

/** A plain decimal with optional thousands commas and sign: `1,234.50`, `-12`, `.5`. */
const DECIMAL_RE = /^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$/;

/**
 * Parses `1,234.56`, `-1,000`, `(1,000)` (negative); `''`, `-`, `N/A` → null.
 * Anything else → `undefined` so callers can report the bad field.
 */
export function parseDecimal(raw: string | number | undefined | null): number | null | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  let s = (raw ?? '').replace(/\u00a0/g, ' ').trim();
  if (NULL_TOKENS.has(s)) return null;
  let negative = false;
  const paren = /^\((.*)\)$/.exec(s);
  if (paren) {
    negative = true;
    s = paren[1]!.trim();
  }
  if (!DECIMAL_RE.test(s) || !/\d/.test(s)) return undefined;
  const n = Number(s.replace(/,/g, ''));
  if (!Number.isFinite(n)) return undefined;
  return negative ? -n : n;
}

/** `0.45%` → 0.45, `-`/empty → null, anything else → undefined. */
export function parsePercent(raw: string | undefined | null): number | null | undefined {
  const s = (raw ?? '').trim();
  return parseDecimal(s.endsWith('%') ? s.slice(0, -1) : s);
}

/**
 * Multiplies a decimal string by 10^pow exactly (string shift, no float error):
 * `scaleDecimal('3,944.19', 9)` → 3944190000000. Returns undefined if not a decimal.
 */
export function scaleDecimal(raw: string, pow: number): number | null | undefined {
  const base = parseDecimal(raw);
  if (base === null || base === undefined || pow === 0) return base;
  const s = raw.trim().replace(/,/g, '');
  const sign = s.startsWith('-') ? -1 : 1;
  const body = s.replace(/^[+-]/, '');
  const [intPart = '', fracPart = ''] = body.split('.');
  const frac = fracPart.padEnd(pow, '0');
  const digits = `${intPart}${frac.slice(0, pow)}.${frac.slice(pow) || '0'}`;
  return sign * Number(digits);
}

export const MONTHS: Record<string, number> = {
  JAN: 1,
  FEB: 2,
  MAR: 3,
  APR: 4,
  MAY: 5,
  JUN: 6,
  JUL: 7,
  AUG: 8,
  SEP: 9,
  OCT: 10,
  NOV: 11,
  DEC: 12,
};

/** Builds `yyyy-mm-dd` after checking the calendar date exists; null if not. */
export function isoDate(year: number, month: number, day: number): string | null {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return null;
  if (year < 1900 || year > 2999 || month < 1 || month > 12 || day < 1) return null;
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** `dd/mm/yyyy` → ISO, or null. */
export function isoFromDmy(s: string): string | null {
  const m = /(\d{1,2})\/(\d{1,2})\/(\d{4})/.exec(s);
  return m ? isoDate(Number(m[3]), Number(m[2]), Number(m[1])) : null;
}

/** `yyyy/mm/dd` or `yyyy-mm-dd` → ISO, or null. */
export function isoFromYmd(s: string): string | null {
  const m = /(\d{4})[/-](\d{1,2})[/-](\d{1,2})/.exec(s);
  return m ? isoDate(Number(m[1]), Number(m[2]), Number(m[3])) : null;
}

/** Shortens page text for an error message or detail. */
export function excerpt(s: string, max = 200): string {
  const t = cleanText(s);
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** Message wording the HKEX sites use for their outcomes (English; Chinese where known). */
export const MAINTENANCE_RE = /maintenance|維護|维护|暫停服務/i;
export const NO_DATA_RE =
  /no (?:match(?:ing)?|matched) records?|no records?(?: found)?|no data|not available|no shareholding|no information|no result|沒有(?:相關)?(?:資料|紀錄|記錄)|没有(?:相关)?(?:资料|记录)/i;
export const DATE_RANGE_RE =
  /\bdate\b.{0,60}(?:out of range|not within|within (?:the )?(?:past|last)|past 12 months|last 12 months|one year|not valid|invalid)/i;
export const UNKNOWN_STOCK_RE =
  /(?:invalid|not valid|incorrect|unknown|no such)\s+stock(?: code)?|stock code.{0,40}(?:invalid|not valid|incorrect|does not exist|not exist|not found|cannot be found|not listed)|股份代號.{0,10}(?:無效|不正確|不存在)/i;
