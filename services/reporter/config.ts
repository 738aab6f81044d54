import { type Static, Type } from '@sinclair/typebox';
import { SHEET_KINDS } from '../../contracts/index.ts';

export const SmtpConfig = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'SMTP server host' }),
    port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 587,
      description: 'SMTP server port (587 submission, 465 implicit TLS, 25 relay)',
    }),
    secure: Type.Boolean({
      default: false,
      description:
        'TLS from the first byte (port 465); false = plain connection upgraded with STARTTLS when the server offers it',
    }),
    requireTls: Type.Boolean({
      default: false,
      description: 'refuse to send unless the connection was upgraded with STARTTLS',
    }),
    rejectUnauthorized: Type.Boolean({
      default: true,
      description: 'check the server certificate (false only for test servers with self-signed certificates)',
    }),
    user: Type.String({ default: '', description: 'SMTP AUTH user; empty = no authentication' }),
    pass: Type.String({ default: '', description: 'SMTP AUTH password' }),
    from: Type.String({ default: 'Harbour <harbour@localhost>', description: 'From: address' }),
    to: Type.Array(Type.String({ minLength: 3 }), {
      default: [],
      description: 'recipients of the daily report (comma-separated); empty = no report is sent',
    }),
    timeoutMs: Type.Integer({
      minimum: 1000,
      default: 30_000,
      description: 'connection, greeting and socket timeout (ms)',
    }),
  },
  { default: {} },
);
export type SmtpConfig = Static<typeof SmtpConfig>;

export const ReportSettings = Type.Object(
  {
    attachWorkbook: Type.Boolean({
      default: true,
      description: 'attach the watch list workbook (exporter format) to the daily report',
    }),
    workbookDays: Type.Integer({
      minimum: 1,
      maximum: 3660,
      default: 92,
      description: 'calendar days of prices in the attached workbook, ending on the report date',
    }),
    sheets: Type.Array(Type.Union(SHEET_KINDS.map((k) => Type.Literal(k))), {
      default: ['summary', 'prices', 'ccass'],
      description: 'sheets of the attached workbook (summary, prices, ccass)',
    }),
    top: Type.Integer({
      minimum: 1,
      default: 5,
      description: 'rows in each ranking of the report (movers, directed volume, CCASS)',
    }),
    subjectPrefix: Type.String({ default: 'Harbour', description: 'first word of every subject line' }),
    staleAfterHours: Type.Number({
      minimum: 0,
      default: 36,
      description: 'a dataset whose freshness lag exceeds this is reported as stale',
    }),
    minRowRatio: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.95,
      description: 'a day whose rows ÷ expected is below this is reported as short',
    }),
  },
  { default: {} },
);
export type ReportSettings = Static<typeof ReportSettings>;

export const AlertRules = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'evaluate market alerts on every report tick' }),
    ccassMovePctIssued: Type.Number({
      minimum: 0,
      default: 1,
      description:
        'alert when one CCASS participant’s holding moves by more than this many percent of issued shares between two holding dates (0 = off)',
    }),
    monthHighLow: Type.Boolean({
      default: true,
      description:
        'alert when a close is above the highest high (below the lowest low) of the month so far; on a month’s first trading day, of the previous month',
    }),
    directedVolumeSign: Type.Boolean({
      default: true,
      description: 'alert when the 30-trading-day directed volume changes sign',
    }),
    lookbackDays: Type.Integer({
      minimum: 1,
      default: 5,
      description:
        'only data dated within this many calendar days up to the tick date raises alerts (older events are history, not news)',
    }),
    maxPerTick: Type.Integer({
      minimum: 1,
      default: 50,
      description: 'most alert emails one tick sends (the rest wait for the next tick)',
    }),
    to: Type.Array(Type.String({ minLength: 3 }), {
      default: [],
      description: 'alert recipients (comma-separated); empty = smtp.to',
    }),
  },
  { default: {} },
);
export type AlertRules = Static<typeof AlertRules>;

export const ReporterConfig = Type.Object(
  {
    job: Type.String({
      pattern: '^[a-z0-9-]+$',
      default: 'report-daily',
      description:
        'scheduler job whose ticks (harbour.tick.<job>) trigger the report; add e.g. { name: "report-daily", cron: "0 20 * * 1-5" } to scheduler.jobs',
    }),
    watchList: Type.Array(Type.String({ pattern: '^\\s*\\d{1,5}\\s*$' }), {
      default: [],
      description: 'stock codes the report and the alerts cover (comma-separated)',
    }),
    smtp: SmtpConfig,
    report: ReportSettings,
    alerts: AlertRules,
    ackWaitMs: Type.Integer({
      minimum: 1000,
      default: 5 * 60_000,
      description:
        'a tick left unacked this long (the reporter died mid-run) is delivered again; the reporter signals progress between emails. Set when the consumer is created',
    }),
    maxAttempts: Type.Integer({
      minimum: 1,
      default: 6,
      description: 'deliveries of a tick (e.g. SMTP down) before it goes to the DLQ',
    }),
    retryBaseDelayMs: Type.Integer({
      minimum: 10,
      default: 60_000,
      description: 'first retry delay of a failed tick (ms); doubles per attempt',
    }),
  },
  { default: {} },
);
export type ReporterConfig = Static<typeof ReporterConfig>;
