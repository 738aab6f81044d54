/**
 * Hong Kong trading calendar: Monday–Friday except configured holidays. Dates are `yyyy-mm-dd`
 * strings (Hong Kong local dates); arithmetic is done in UTC so no zone can shift a day.
 */
export interface TradingCalendar {
  isTradingDay(date: string): boolean;
  /** The last trading day strictly before `date`. */
  previousTradingDay(date: string): string;
  /** Trading days in [from, to], ascending. */
  tradingDays(from: string, to: string): string[];
}

/** HKEX full-day market holidays (weekday closures). Extend via `HARBOUR_SCHEDULER_HOLIDAYS`. */
export const DEFAULT_HK_HOLIDAYS: readonly string[] = [
  '2025-01-01',
  '2025-01-29',
  '2025-01-30',
  '2025-01-31',
  '2025-04-04',
  '2025-04-18',
  '2025-04-21',
  '2025-05-01',
  '2025-05-05',
  '2025-07-01',
  '2025-10-01',
  '2025-10-07',
  '2025-10-29',
  '2025-12-25',
  '2025-12-26',
  '2026-01-01',
  '2026-02-17',
  '2026-02-18',
  '2026-02-19',
  '2026-04-03',
  '2026-04-06',
  '2026-04-07',
  '2026-05-01',
  '2026-05-25',
  '2026-06-19',
  '2026-07-01',
  '2026-10-01',
  '2026-10-19',
  '2026-12-25',
];

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function createCalendar(holidays: readonly string[] = DEFAULT_HK_HOLIDAYS): TradingCalendar {
  const closed = new Set(holidays);
  const isTradingDay = (date: string) => {
    const dow = new Date(`${date}T00:00:00Z`).getUTCDay();
    return dow !== 0 && dow !== 6 && !closed.has(date);
  };
  return {
    isTradingDay,
    previousTradingDay(date) {
      let d = addDays(date, -1);
      while (!isTradingDay(d)) d = addDays(d, -1);
      return d;
    },
    tradingDays(from, to) {
      const out: string[] = [];
      for (let d = from; d <= to; d = addDays(d, 1)) if (isTradingDay(d)) out.push(d);
      return out;
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
