import { defineService } from '../runtime/index.ts';
import { SchedulerConfig } from './config.ts';

/**
 * The stage as the host runs it (`--service scheduler`). Its code is imported when it starts, so a
 * process pays (in memory and start-up) only for the stages it runs.
 */
export const schedulerService = defineService({
  name: 'scheduler',
  description:
    'publishes cron ticks (harbour.tick.<job>) under a KV leader lease, catching up after downtime',
  config: SchedulerConfig,
  start: async (config, deps) => (await import('./scheduler.ts')).startScheduler(config, deps),
});
