/**
 * Trading calendar of the fixture site: Monday–Friday except the HKEX holidays listed here (2019 and
 * 2025–2026 only; other years have no holidays). Dates are ISO `yyyy-mm-dd` strings (HK local date).
 */

/** Weekday HKEX market holidays built into the fixture site (date → name). */
export const HOLIDAYS: ReadonlyMap<string, string> = new Map([
  // 2019
  ['2019-01-01', 'New Year'],
  ['2019-02-05', 'Lunar New Year'],
  ['2019-02-06', 'Lunar New Year'],
  ['2019-02-07', 'Lunar New Year'],
  ['2019-04-05', 'Ching Ming Festival'],
  ['2019-04-19', 'Good Friday'],
  ['2019-04-22', 'Easter Monday'],
  ['2019-05-01', 'Labour Day'],
  ['2019-05-13', "The day following Buddha's Birthday"],
  ['2019-06-07', 'Tuen Ng Festival'],
  ['2019-07-01', 'HKSAR Establishment Day'],
  ['2019-10-01', 'National Day'],
  ['2019-10-07', 'Chung Yeung Festival'],
  ['2019-12-25', 'Christmas Day'],
  ['2019-12-26', 'The first weekday after Christmas Day'],
  // 2025
  ['2025-01-01', 'New Year'],
  ['2025-01-29', 'Lunar New Year'],
  ['2025-01-30', 'Lunar New Year'],
  ['2025-01-31', 'Lunar New Year'],
  ['2025-04-04', 'Ching Ming Festival'],
  ['2025-04-18', 'Good Friday'],
  ['2025-04-21', 'Easter Monday'],
  ['2025-05-01', 'Labour Day'],
  ['2025-05-05', "Buddha's Birthday"],
  ['2025-07-01', 'HKSAR Establishment Day'],
  ['2025-10-01', 'National Day'],
  ['2025-10-07', 'The day following Mid-Autumn Festival'],
  ['2025-10-29', 'Chung Yeung Festival'],
  ['2025-12-25', 'Christmas Day'],
  ['2025-12-26', 'The first weekday after Christmas Day'],
  // 2026
  ['2026-01-01', 'New Year'],
  ['2026-02-17', 'Lunar New Year'],
  ['2026-02-18', 'Lunar New Year'],
  ['2026-02-19', 'Lunar New Year'],
  ['2026-04-03', 'Good Friday'],
  ['2026-04-06', 'The day following Ching Ming Festival'],
  ['2026-04-07', 'The day following Easter Monday'],
  ['2026-05-01', 'Labour Day'],
  ['2026-05-25', "The day following Buddha's Birthday"],
  ['2026-06-19', 'Tuen Ng Festival'],
  ['2026-07-01', 'HKSAR Establishment Day'],
  ['2026-10-01', 'National Day'],
  ['2026-10-19', 'The day following Chung Yeung Festival'],
  ['2026-12-25', 'Christmas Day'],
]);

/** First day of the generated market history; nothing exists before it. */
export const EPOCH = '2018-01-02';
/** Last day the generator walks to. */
export const LAST_DAY = '2035-12-31';

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `Date` (UTC fields) → `yyyy-mm-dd`. */
export function isoOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Parses `yyyy-mm-dd` into a UTC-midnight Date; throws on anything else. */
export function dateOf(iso: string): Date {
  const m = ISO_RE.exec(iso);
  if (!m) throw new Error(`not an ISO date: ${iso}`);
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (isoOf(d) !== iso) throw new Error(`not a calendar date: ${iso}`);
  return d;
}

/** True if `s` is a real `yyyy-mm-dd` calendar date. */
export function isIsoDate(s: string): boolean {
  const m = ISO_RE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return isoOf(d) === s;
}

export function addDays(iso: string, n: number): string {
  const d = dateOf(iso);
  d.setUTCDate(d.getUTCDate() + n);
  return isoOf(d);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(iso: string): number {
  return dateOf(iso).getUTCDay();
}

function toIso(date: string | Date): string {
  return typeof date === 'string' ? date : isoOf(date);
}

/** Mon–Fri and not in {@link HOLIDAYS}. Accepts `yyyy-mm-dd` or a Date (its UTC date). */
export function isTradingDay(date: string | Date): boolean {
  const iso = toIso(date);
  const wd = weekday(iso);
  return wd !== 0 && wd !== 6 && !HOLIDAYS.has(iso);
}

let days: string[] | undefined;
let indexOf: Map<string, number> | undefined;

function table(): { days: string[]; indexOf: Map<string, number> } {
  if (!days || !indexOf) {
    days = [];
    indexOf = new Map();
    for (let d = EPOCH; d <= LAST_DAY; d = addDays(d, 1)) {
      if (isTradingDay(d)) {
        indexOf.set(d, days.length);
        days.push(d);
      }
    }
  }
  return { days, indexOf };
}

/** Index of a trading day since {@link EPOCH} (0-based); undefined if not a trading day in range. */
export function tradingDayIndex(iso: string): number | undefined {
  return table().indexOf.get(iso);
}

/** The trading day with the given index, if in range. */
export function tradingDayAt(index: number): string | undefined {
  return table().days[index];
}

/** Latest trading day ≤ `iso` (within the generated range), or undefined. */
export function tradingDayOnOrBefore(iso: string): string | undefined {
  if (iso < EPOCH) return undefined;
  let d = iso > LAST_DAY ? LAST_DAY : iso;
  while (d >= EPOCH) {
    if (isTradingDay(d)) return d;
    d = addDays(d, -1);
  }
  return undefined;
}

/** Trading day strictly before `iso`. */
export function previousTradingDay(iso: string): string | undefined {
  return tradingDayOnOrBefore(addDays(iso, -1));
}

/** Trading day strictly after `iso`. */
export function nextTradingDay(iso: string): string {
  let d = addDays(iso, 1);
  while (!isTradingDay(d)) d = addDays(d, 1);
  return d;
}

/** Trading days in [from, to], ascending. */
export function tradingDaysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) if (isTradingDay(d)) out.push(d);
  return out;
}

/** Today's date in Hong Kong (UTC+8), ISO. */
export function hongKongToday(now: Date = new Date()): string {
  return isoOf(new Date(now.getTime() + 8 * 3600_000));
}
