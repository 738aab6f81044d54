import { localDate, type TradingCalendar } from '../calendar/index.ts';
import { dueSlots, type ScheduledJob } from '../scheduler/index.ts';

/** Epoch seconds of 00:00 of `date` (`yyyy-mm-dd`) in `timeZone`: how business dates are exported. */
export function startOfDaySeconds(date: string, timeZone: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  // The zone's offset at that instant (twice: the offset at local midnight may differ around a DST switch).
  let guess = utcMidnight;
  for (let i = 0; i < 2; i++) guess = utcMidnight - offsetMs(new Date(guess), timeZone);
  return guess / 1000;
}

function offsetMs(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return local - Math.floor(at.getTime() / 1000) * 1000;
}

/**
 * The newest business date of each dataset that its schedule says should be loaded by `now`: the
 * date of the latest tick scheduled at or before `now − graceMs` whose date is a trading day (the
 * planner skips the others, exactly as the scheduler and planner compute them).
 */
export function expectedAsOf(
  opts: { jobs: readonly ScheduledJob[]; timezone: string; calendar: TradingCalendar; graceMs: number },
  now: Date,
): Map<string, string> {
  const { calendar } = opts;
  const until = new Date(now.getTime() - opts.graceMs);
  // Long enough for any holiday run of a daily/weekday schedule; bounded work per job.
  const after = new Date(until.getTime() - 21 * 86_400_000);
  const out = new Map<string, string>();
  for (const job of opts.jobs) {
    if (!job.dataset) continue;
    const slots = dueSlots(job.cron, opts.timezone, after, until, 64).reverse();
    for (const slot of slots) {
      const day = localDate(slot, opts.timezone);
      const date = job.dateRule === 'previous_trading_day' ? calendar.previousTradingDay(day) : day;
      if (!calendar.isTradingDay(date)) continue;
      const seen = out.get(job.dataset);
      if (!seen || date > seen) out.set(job.dataset, date);
      break;
    }
  }
  return out;
}
