/**
 * The Hong Kong trading calendar, one for the whole project: Monday–Friday except Hong Kong public
 * holidays as the maintained `date-holidays` package computes them (lunar and Easter dates, Sunday
 * substitutes; any year, past or future), plus the `market.holidaysAdd` closures and minus the
 * `market.holidaysRemove` days. HKEX's half days (Christmas Eve, New Year's Eve, Lunar New Year's
 * Eve) are not public holidays, so they stay trading days. Dates are `yyyy-mm-dd` strings (Hong Kong
 * local dates); arithmetic is done in UTC so no zone can shift a day.
 */
import Holidays from 'date-holidays';
import type { MarketConfig } from './config.ts';

export interface Closure {
  date: string;
  /** English name of the holiday, or "exchange closure (market.holidaysAdd)". */
  name: string;
}

export interface TradingCalendar {
  isTradingDay(date: string): boolean;
  /** The last trading day strictly before `date`. */
  previousTradingDay(date: string): string;
  /** The first trading day strictly after `date`. */
  nextTradingDay(date: string): string;
  /** Trading days in [from, to], ascending. */
  tradingDays(from: string, to: string): string[];
  /** The non-trading weekdays of a year, ascending, with their names. */
  closures(year: number): Closure[];
}

export const ADDED_CLOSURE_NAME = 'exchange closure (market.holidaysAdd)';

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

const isWeekend = (date: string) => {
  const dow = new Date(`${date}T00:00:00Z`).getUTCDay();
  return dow === 0 || dow === 6;
};

// One holiday source for every calendar: the rules are parsed once per process.
let hongKong: Holidays | undefined;
const hongKongHolidays = (): Holidays => {
  hongKong ??= new Holidays('HK', { languages: ['en'], types: ['public'] });
  return hongKong;
};

export function createCalendar(market: Partial<MarketConfig> = {}): TradingCalendar {
  const added = new Set(market.holidaysAdd ?? []);
  const removed = new Set(market.holidaysRemove ?? []);
  const years = new Map<number, Map<string, string>>();
  /** Weekday closures of a year (date → name), computed once per year. */
  const closedIn = (year: number): Map<string, string> => {
    let closed = years.get(year);
    if (!closed) {
      closed = new Map();
      for (const h of hongKongHolidays().getHolidays(year, 'en')) {
        const date = h.date.slice(0, 10);
        if (!isWeekend(date) && !removed.has(date) && !closed.has(date)) closed.set(date, h.name);
      }
      for (const date of added) {
        if (date.startsWith(`${year}-`) && !isWeekend(date) && !closed.has(date))
          closed.set(date, ADDED_CLOSURE_NAME);
      }
      closed = new Map([...closed].sort(([a], [b]) => (a < b ? -1 : 1)));
      years.set(year, closed);
    }
    return closed;
  };
  const isTradingDay = (date: string) => !isWeekend(date) && !closedIn(Number(date.slice(0, 4))).has(date);
  return {
    isTradingDay,
    previousTradingDay(date) {
      let d = addDays(date, -1);
      while (!isTradingDay(d)) d = addDays(d, -1);
      return d;
    },
    nextTradingDay(date) {
      let d = addDays(date, 1);
      while (!isTradingDay(d)) d = addDays(d, 1);
      return d;
    },
    tradingDays(from, to) {
      const out: string[] = [];
      for (let d = from; d <= to; d = addDays(d, 1)) if (isTradingDay(d)) out.push(d);
      return out;
    },
    closures(year) {
      return [...closedIn(year)].map(([date, name]) => ({ date, name }));
    },
  };
}

/** The local calendar date of an instant in a time zone, `yyyy-mm-dd`. */
export function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(at);
}
