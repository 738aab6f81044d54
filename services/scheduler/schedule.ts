import { CronExpressionParser } from 'cron-parser';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';

/**
 * Cron slots in (after, now], oldest first, at most `max` (the newest ones: after a long outage we
 * catch up the recent past, not every missed day since). Walks backwards from `now`, so the cost
 * is bounded by `max` whatever the length of the outage.
 */
export function dueSlots(cron: string, timeZone: string, after: Date, now: Date, max: number): Date[] {
  if (max <= 0) return [];
  // Start one second past `now`: `prev()` excludes its start, and a slot exactly at `now` is due.
  const expr = parseCron(cron, timeZone, new Date(now.getTime() + 1000));
  const out: Date[] = [];
  while (out.length < max && expr.hasPrev()) {
    const slot = expr.prev().toDate();
    if (slot.getTime() > now.getTime()) continue;
    if (slot.getTime() <= after.getTime()) break;
    out.push(slot);
  }
  return out.reverse();
}

export function parseCron(cron: string, timeZone: string, currentDate: Date = new Date()) {
  try {
    return CronExpressionParser.parse(cron, { tz: timeZone, currentDate, strict: false });
  } catch (cause) {
    throw new HarbourError(ErrorCodes.Config, `invalid cron "${cron}": ${(cause as Error).message}`, {
      cause,
    });
  }
}
