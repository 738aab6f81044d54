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
export { reporterService } from './service.ts';
