import { type Static, Type } from '@sinclair/typebox';
import { DatasetName } from '../../contracts/index.ts';

export const ScheduledJob = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9-]+$' }),
  /** Five-field cron in `timezone` (minute hour day-of-month month day-of-week). */
  cron: Type.String({ minLength: 9 }),
  dataset: Type.Optional(DatasetName),
  /** Which business date a tick is for: the day it fires, or the previous trading day (CCASS settles T+1/T+2). */
  dateRule: Type.Union([Type.Literal('same_day'), Type.Literal('previous_trading_day')], {
    default: 'same_day',
  }),
});
export type ScheduledJob = Static<typeof ScheduledJob>;

export const DEFAULT_JOBS: ScheduledJob[] = [
  { name: 'securities-daily', cron: '0 18 * * 1-5', dataset: 'securities', dateRule: 'same_day' },
  { name: 'quotes-daily', cron: '30 18 * * 1-5', dataset: 'quotes', dateRule: 'same_day' },
  { name: 'fundamentals-daily', cron: '0 19 * * 1-5', dataset: 'fundamentals', dateRule: 'same_day' },
  { name: 'ccass-daily', cron: '0 9 * * 1-5', dataset: 'ccass', dateRule: 'previous_trading_day' },
  { name: 'report-daily', cron: '0 20 * * 1-5', dateRule: 'same_day' },
];

const DEFAULT_TIMEZONE = 'Asia/Hong_Kong';

export const SchedulerConfig = Type.Object(
  {
    jobs: Type.Array(ScheduledJob, {
      default: DEFAULT_JOBS,
      description:
        'cron jobs (5 fields, or 6 with seconds first): a JSON array, in a config file or this variable; the monitor expects each dataset on this schedule',
    }),
    timezone: Type.String({
      default: DEFAULT_TIMEZONE,
      description: 'time zone of the cron specs and business dates (the monitor uses it too)',
    }),
    evaluateEveryMs: Type.Integer({
      minimum: 100,
      default: 15_000,
      description: 'how often due ticks are computed',
    }),
    catchUpMaxTicks: Type.Integer({
      minimum: 0,
      default: 5,
      description: 'after downtime, at most this many missed ticks per job are published (newest first kept)',
    }),
    leaseTtlMs: Type.Integer({
      minimum: 1000,
      default: 30_000,
      description: 'leader lease; another scheduler takes over after it lapses',
    }),
  },
  { default: {} },
);
export type SchedulerConfig = Static<typeof SchedulerConfig>;

/**
 * The schedule as other stages see it: the scheduler section's jobs and time zone, configured once
 * (`scheduler.jobs`, `scheduler.timezone`). The host hands it to every stage as `deps.schedule`; the
 * monitor judges freshness by it, so what it expects is what the scheduler ticks.
 */
export interface Schedule {
  jobs: ScheduledJob[];
  timezone: string;
}

export function scheduleOf(config: Pick<SchedulerConfig, 'jobs' | 'timezone'>): Schedule {
  return { jobs: config.jobs, timezone: config.timezone };
}

/** The schedule of the scheduler's defaults (a stage given no `deps.schedule`). */
export const defaultSchedule = (): Schedule => ({ jobs: DEFAULT_JOBS, timezone: DEFAULT_TIMEZONE });
