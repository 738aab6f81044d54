import { PassThrough } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Transporter } from 'nodemailer';
import type pg from 'pg';
import { ErrorCodes, HarbourError, type Tick, tickValidator } from '../../contracts/index.ts';
import { consumerNames, streamNames, subjects } from '../../streams/index.ts';
import { readOnly, stockCode, writeWorkbook } from '../gold/index.ts';
import {
  consumeLoop,
  counter,
  type Disposition,
  dispositionFor,
  type Logger,
  type Service,
  type ServiceDeps,
  stageLifecycle,
} from '../runtime/index.ts';
import { addDays } from '../scheduler/index.ts';
import type { ReporterConfig } from './config.ts';
import { type AlertEvent, findAlertEvents, loadReportData } from './data.ts';
import { createMailer, migrateReporter, type SendOutcome, sendOnce } from './outbox.ts';
import { dqStatus, renderAlert, renderReport } from './render.ts';

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/**
 * The reporter's durable pull consumer on TICKS, filtered on its job's subject. `deliver_policy:
 * new` so that creating it does not replay the ticks already retained (old reports); from then on
 * the durable keeps its place across restarts. One tick at a time (`max_ack_pending: 1`);
 * `ack_wait` (`ackWaitMs`) covers building the workbook and sending, and the handler calls `working()` between emails.
 */
export function reporterConsumerConfig(
  job: string,
  ackWaitMs: number,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: consumerNames.reporter,
    filter_subject: subjects.tick(job),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    ack_wait: nanos(ackWaitMs),
    max_deliver: 20,
    max_ack_pending: 1,
  };
}

/** Creates the consumer when missing; an existing one with another filter is a conflict, never replaced. */
export async function ensureReporterConsumer(
  jsm: JetStreamManager,
  job: string,
  ackWaitMs: number,
): Promise<'created' | 'exists'> {
  const want = reporterConsumerConfig(job, ackWaitMs);
  try {
    const have = await jsm.consumers.info(streamNames.ticks, want.durable_name);
    if (have.config.filter_subject !== want.filter_subject) {
      throw new HarbourError(
        ErrorCodes.TopologyConflict,
        `consumer ${streamNames.ticks}/${want.durable_name} filters ${have.config.filter_subject}, the reporter needs ${want.filter_subject}`,
      );
    }
    return 'exists';
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === 10014)) throw err;
  }
  await jsm.consumers.add(streamNames.ticks, want);
  return 'created';
}

export interface ReporterContext {
  pool: pg.Pool;
  mailer: Transporter;
  config: ReporterConfig;
  logger: Logger;
  /** Called between emails (keeps the tick's ack deadline away). */
  progress?: () => void;
  onEmail?: (kind: string, outcome: SendOutcome) => void;
}

export interface DailyRunResult {
  date: string;
  report: SendOutcome | 'skipped';
  alerts: { event: AlertEvent; outcome: SendOutcome }[];
  /** Events over `maxPerTick`, left for the next tick. */
  deferred: number;
}

/** The watch list as 5-digit codes, unique, in order; a bad entry is a config error naming it. */
function watchCodes(watchList: readonly string[]): string[] {
  const codes = watchList.map((c) => {
    const code = stockCode(c);
    if (code === null) {
      throw new HarbourError(
        ErrorCodes.Config,
        `reporter.watchList: "${c.trim().slice(0, 40)}" is not an HKEX stock code (1–5 digits, e.g. 00700)`,
      );
    }
    return code;
  });
  return [...new Set(codes)];
}

/**
 * One scheduled run for business date `date`: the daily report (once per job and date) and one
 * email per new market event. Safe to repeat: everything already sent is skipped.
 */
export async function runDaily(ctx: ReporterContext, job: string, date: string): Promise<DailyRunResult> {
  const { config, pool, logger } = ctx;
  const codes = watchCodes(config.watchList);
  const result: DailyRunResult = { date, report: 'skipped', alerts: [], deferred: 0 };
  if (!codes.length) {
    logger.warn('reporter.watchList is empty: nothing to report');
    return result;
  }
  const from = config.smtp.from;
  const reportTo = config.smtp.to;
  if (reportTo.length) {
    result.report = await sendOnce(pool, ctx.mailer, `report:${job}:${date}`, 'report', async () => {
      const data = await readOnly(pool, 60_000, (db) => loadReportData(db, codes, date, config.report.top));
      const dq = dqStatus(data, config.report);
      let attachment: { filename: string; content: Buffer; contentType: string } | undefined;
      if (config.report.attachWorkbook) {
        const params = {
          codes,
          from: addDays(date, -(config.report.workbookDays - 1)),
          to: date,
          sheets: config.report.sheets,
        };
        const out = new PassThrough();
        // Both awaited together: a failed write destroys `out`, and a buffer promise left without a
        // handler would reject unhandled and end the process (seen on a Postgres restart).
        const [, content] = await Promise.all([writeWorkbook(pool, params, out), buffer(out)]);
        attachment = {
          filename: `harbour-watchlist-${date}.xlsx`,
          content,
          contentType: XLSX_TYPE,
        };
      }
      const mail = renderReport(data, config.report, dq, attachment?.filename);
      return { from, to: reportTo, ...mail, ...(attachment ? { attachments: [attachment] } : {}) };
    });
    ctx.onEmail?.('report', result.report);
    ctx.progress?.();
  } else {
    logger.warn('reporter.smtp.to is empty: the daily report is not sent');
  }

  const alertTo = config.alerts.to.length ? config.alerts.to : reportTo;
  if (config.alerts.enabled && alertTo.length) {
    const events = await readOnly(pool, 60_000, (db) =>
      findAlertEvents(db, {
        codes,
        date,
        lookbackDays: config.alerts.lookbackDays,
        ccassMovePctIssued: config.alerts.ccassMovePctIssued,
        monthHighLow: config.alerts.monthHighLow,
        directedVolumeSign: config.alerts.directedVolumeSign,
      }),
    );
    let sent = 0;
    for (const event of events) {
      if (sent >= config.alerts.maxPerTick) {
        result.deferred++;
        continue;
      }
      const outcome = await sendOnce(
        pool,
        ctx.mailer,
        `alert:${event.key}`,
        `alert:${event.rule}`,
        async () => ({
          from,
          to: alertTo,
          ...renderAlert(event, config.report.subjectPrefix),
        }),
      );
      if (outcome === 'sent') sent++;
      result.alerts.push({ event, outcome });
      ctx.onEmail?.(`alert:${event.rule}`, outcome);
      ctx.progress?.();
    }
    if (result.deferred)
      logger.warn(
        { deferred: result.deferred },
        'more alert events than alerts.maxPerTick; the rest go out next tick',
      );
  }
  logger.info(
    {
      date,
      report: result.report,
      alertsSent: result.alerts.filter((a) => a.outcome === 'sent').length,
      alertsDuplicate: result.alerts.filter((a) => a.outcome === 'duplicate').length,
    },
    'daily report run done',
  );
  return result;
}

interface TickContext extends ReporterContext {
  /** The service's: a run cut short by closing hands its tick back. */
  signal: AbortSignal;
  /** A run failed (it is retried with back-off). */
  onRunFailed: () => void;
}

/**
 * One delivered tick: `runDaily` for its date when it is this reporter's job (other jobs are acked).
 * A failure is counted and retried with back-off; shutting down mid-run hands the tick back.
 */
async function handleTick(ctx: TickContext, msg: JsMsg): Promise<Disposition | 'aborted'> {
  const { config, logger } = ctx;
  let tick: Tick;
  try {
    tick = tickValidator.parse(msg.json());
  } catch (err) {
    return dispositionFor(err, msg.info.deliveryCount, config.maxAttempts, config.retryBaseDelayMs);
  }
  if (tick.job !== config.job) return { kind: 'ack' };
  try {
    await runDaily(ctx, tick.job, tick.date);
    return { kind: 'ack' };
  } catch (err) {
    if (ctx.signal.aborted) return 'aborted';
    ctx.onRunFailed();
    logger.warn({ err, date: tick.date, attempt: msg.info.deliveryCount }, 'daily report run failed');
    return dispositionFor(err, msg.info.deliveryCount, config.maxAttempts, config.retryBaseDelayMs);
  }
}

/**
 * The reporter service: migrates its ledger, ensures its consumer on TICKS
 * (`harbour.tick.<job>`), then runs `runDaily` for each tick. A failure (SMTP down, Postgres)
 * retries the tick with back-off; what was already sent is not sent again.
 */
export async function startReporter(config: ReporterConfig, deps: ServiceDeps): Promise<Service> {
  const log = deps.logger.child({ component: 'reporter' });
  watchCodes(config.watchList);
  await migrateReporter(deps.pool);
  await ensureReporterConsumer(deps.jsm, config.job, config.ackWaitMs);
  const mailer = createMailer(config.smtp);
  const r = deps.registry;
  const emails = counter(
    r,
    'harbour_reporter_emails_total',
    'report and alert emails by kind and outcome (sent, duplicate = already sent before, failed)',
    ['kind', 'outcome'],
  );
  const dlqTotal = counter(r, 'harbour_dlq_messages_total', 'messages sent to the DLQ', ['stage', 'code']);
  const lifecycle = stageLifecycle('reporter', log, deps, {
    drain: async () => {
      await loop;
      mailer.close();
    },
    force: async () => {
      mailer.close();
    },
  });
  const { signal } = lifecycle;
  const ctx: TickContext = {
    pool: deps.pool,
    mailer,
    config,
    logger: log,
    onEmail: (kind, outcome) => emails.inc({ kind: kind.startsWith('alert') ? 'alert' : kind, outcome }),
    signal,
    onRunFailed: () => emails.inc({ kind: 'any', outcome: 'failed' }),
  };
  const loop = consumeLoop({
    js: deps.js,
    stream: streamNames.ticks,
    consumer: consumerNames.reporter,
    concurrency: 1,
    stage: 'reporter',
    logger: log,
    signal,
    onDlq: (code) => dlqTotal.inc({ stage: 'reporter', code }),
    handle: (msg) => handleTick({ ...ctx, progress: () => msg.working() }, msg),
  });
  deps.health.add('reporter', () => ({
    ok: !signal.aborted,
    detail: `watching ${config.watchList.length} stocks`,
  }));
  log.info({ job: config.job, watchList: config.watchList.length }, 'reporter started');
  return lifecycle;
}
