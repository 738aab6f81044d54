/**
 * Trading calendar of the fixture site: the project's one trading calendar (`services/calendar`,
 * Monday–Friday except Hong Kong public holidays for any year, adjusted by the `market` setting).
 * Dates are ISO `yyyy-mm-dd` strings (HK local date). The generated market history is a pure
 * function of this calendar, so one process simulates one market: {@link useMarket} sets it for
 * every fixture site of the process.
 */

import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { createCalendar, type MarketConfig, type TradingCalendar } from '../../services/calendar/index.ts';

let calendar: TradingCalendar = createCalendar();

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
  if (!m) throw new HarbourError(ErrorCodes.BadParameter, `not an ISO date: ${iso}`);
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (isoOf(d) !== iso) throw new HarbourError(ErrorCodes.BadParameter, `not a calendar date: ${iso}`);
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

function toIso(date: string | Date): string {
  return typeof date === 'string' ? date : isoOf(date);
}

/** A trading day of the market calendar. Accepts `yyyy-mm-dd` or a Date (its UTC date). */
export function isTradingDay(date: string | Date): boolean {
  return calendar.isTradingDay(toIso(date));
}

let days: string[] | undefined;
let indexOf: Map<string, number> | undefined;

/**
 * Trades on the calendar of this `market` setting from now on (the site's market history follows
 * it); a site started with the same setting as the pipeline closes on the same days.
 */
export function useMarket(market: Partial<MarketConfig>): void {
  calendar = createCalendar(market);
  days = undefined;
  indexOf = undefined;
}

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
