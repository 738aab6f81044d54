import { lazyService } from '../runtime/index.ts';
import { SchedulerConfig } from './config.ts';

/** The stage as the host runs it (`--service scheduler`); its code is imported when it starts. */
export const schedulerService = lazyService(
  'scheduler',
  SchedulerConfig,
  'publishes cron ticks (harbour.tick.<job>) under a KV leader lease, catching up after downtime',
  async () => (await import('./scheduler.ts')).startScheduler,
);
