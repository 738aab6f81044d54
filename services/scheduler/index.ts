import { defineService } from '../runtime/index.ts';
import { SchedulerConfig } from './config.ts';
import { startScheduler } from './scheduler.ts';

export { addDays, createCalendar, DEFAULT_HK_HOLIDAYS, localDate, type TradingCalendar } from './calendar.ts';
export { DEFAULT_JOBS, ScheduledJob, SchedulerConfig } from './config.ts';
export { dueSlots } from './schedule.ts';
export { type SchedulerOptions, startScheduler } from './scheduler.ts';

export const schedulerService = defineService({
  name: 'scheduler',
  description:
    'publishes cron ticks (harbour.tick.<job>) under a KV leader lease, catching up after downtime',
  config: SchedulerConfig,
  start: (config, deps) => startScheduler(config, deps),
});
