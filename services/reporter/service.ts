import { lazyService } from '../runtime/index.ts';
import { ReporterConfig } from './config.ts';

/** The stage as the host runs it (`--service reporter`); its code is imported when it starts. */
export const reporterService = lazyService(
  'reporter',
  ReporterConfig,
  'on its scheduler tick, emails the watch list daily report (workbook attached) and one email per market alert',
  async () => (await import('./reporter.ts')).startReporter,
);
