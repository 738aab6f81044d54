import { defineService } from '../runtime/index.ts';
import { ReporterConfig } from './config.ts';
import { startReporter } from './reporter.ts';

export { AlertRules, ReporterConfig, ReportSettings, SmtpConfig } from './config.ts';
export { type AlertEvent, findAlertEvents, loadReportData, type ReportData } from './data.ts';
export {
  createMailer,
  messageIdFor,
  migrateReporter,
  REPORTER_MIGRATIONS,
  type SendOutcome,
  sendOnce,
} from './outbox.ts';
export { dqStatus, type MailContent, renderAlert, renderReport } from './render.ts';
export {
  type DailyRunResult,
  ensureReporterConsumer,
  type ReporterContext,
  reporterConsumerConfig,
  runDaily,
  startReporter,
} from './reporter.ts';

export const reporterService = defineService({
  name: 'reporter',
  description:
    'on its scheduler tick, emails the watch list daily report (workbook attached) and one email per market alert',
  config: ReporterConfig,
  start: (config, deps) => startReporter(config, deps),
});
