import { defineService } from '../runtime/index.ts';
import { ReporterConfig } from './config.ts';

/**
 * The stage as the host runs it (`--service reporter`). Its code is imported when it starts, so a
 * process pays (in memory and start-up) only for the stages it runs.
 */
export const reporterService = defineService({
  name: 'reporter',
  description:
    'on its scheduler tick, emails the watch list daily report (workbook attached) and one email per market alert',
  config: ReporterConfig,
  start: async (config, deps) => (await import('./reporter.ts')).startReporter(config, deps),
});
