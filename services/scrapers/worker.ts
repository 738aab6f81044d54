import { createHash } from 'node:crypto';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  type Envelope,
  type RunCompleted,
  SCHEMA_VERSION,
  type ScrapeJob,
  scrapeJobValidator,
} from '../../contracts/index.ts';
import { msgIds, subjects } from '../../streams/index.ts';
import { type Disposition, dispositionFor, retryTransient } from '../runtime/index.ts';
import type { SourcesConfig } from './config.ts';
import { type HttpClient, isAbortError } from './http/index.ts';
import { parseOutcome } from './parsers/index.ts';
import { completeRunIfFinished, type JobOutcome, type JobStatus, recordJobOutcome } from './run-history.ts';
import { type Fetched, fetchForJob } from './sources.ts';

export interface WorkerContext {
  js: JetStreamClient;
  pool: pg.Pool;
  http: HttpClient;
  sources: SourcesConfig;
  maxAttempts: number;
  retryBaseDelayMs: number;
  maxRowsPerEnvelope: number;
  /** How often an in-flight job tells JetStream it is still being worked on (a third of the consumer's ack_wait). */
  keepAliveMs: number;
  logger: Logger;
  signal: AbortSignal;
  onOutcome?: (dataset: string, status: JobStatus | 'aborted') => void;
  onPublished?: (dataset: string, envelopes: number, rows: number) => void;
}

/**
 * How long a job waits for Postgres to come back to record its outcome (the job keeps telling
 * JetStream it is in work meanwhile). Without the wait, each delivery during a restart fetched the
 * page again and failed at the record, burning the consumer's max_deliver: a 20 s outage could leave
 * a published job never recorded as done.
 */
const RECORD_OUTAGE_MAX_MS = 120_000;

/** Splits a fetched unit into envelopes of at most `maxRows` rows (NATS payload limit); keys get `#i/n` when split. */
export function toEnvelopes(f: Fetched, runId: string, maxRows: number, fetchedAt = new Date()): Envelope[] {
  const parts = Math.max(1, Math.ceil(f.rows.length / maxRows));
  return Array.from({ length: parts }, (_, i) => ({
    schema_version: SCHEMA_VERSION,
    dataset: f.dataset,
    key: parts === 1 ? f.key : `${f.key}#${i + 1}/${parts}`,
    as_of: f.asOf,
    source_url: f.sourceUrl,
    fetched_at: fetchedAt.toISOString(),
    run_id: runId,
    rows: f.rows.slice(i * maxRows, (i + 1) * maxRows),
  })) as Envelope[];
}

/**
 * Publishes envelopes and waits for every PubAck: only then is the job's data durable. Returns the
 * highest RAW sequence (a duplicate's PubAck names the sequence of the message it duplicates).
 */
export async function publishEnvelopes(js: JetStreamClient, envelopes: Envelope[]): Promise<number> {
  const acks = await Promise.all(
    envelopes.map((env) => {
      const hash = createHash('sha256').update(JSON.stringify(env.rows)).digest('hex').slice(0, 16);
      return js.publish(subjects.raw(env.dataset), JSON.stringify(env), {
        msgID: msgIds.raw(env.dataset, env.key, env.as_of, hash),
      });
    }),
  );
  return acks.reduce((max, a) => Math.max(max, a.seq), 0);
}

/**
 * After a job's terminal outcome: if it was the run's last open job, publish the run-completed
 * event (deduplicated by run id). Throws when it could not, so the job is retried and the check repeats.
 */
export async function announceRunIfComplete(
  ctx: Pick<WorkerContext, 'js' | 'pool' | 'logger'>,
  runId: string,
): Promise<RunCompleted | null> {
  const completed = await completeRunIfFinished(ctx.pool, runId);
  if (!completed) return null;
  await ctx.js.publish(subjects.runCompleted(completed.dataset), JSON.stringify(completed), {
    msgID: msgIds.runCompleted(runId),
  });
  ctx.logger.info(
    { run: runId, partitions: completed.partitions.length, lastRawSeq: completed.last_raw_seq },
    'run completed',
  );
  return completed;
}

/**
 * Works one job message end to end and decides its fate. Order matters: envelopes are published
 * (PubAck awaited) before the outcome is recorded and the job acked, so a crash anywhere leaves
 * the job unacked and JetStream hands it out again; re-published envelopes collapse by msg id.
 */
export async function handleJob(ctx: WorkerContext, msg: JsMsg): Promise<Disposition | 'aborted'> {
  let job: ScrapeJob;
  try {
    job = scrapeJobValidator.parse(msg.json());
  } catch (err) {
    return dispositionFor(err, 1, 1);
  }
  const attempt = msg.info.deliveryCount;
  const log = ctx.logger.child({ job: job.job_id, attempt });
  const record = async (status: JobStatus, extra: Omit<JobOutcome, 'status' | 'attempts'> = {}) => {
    await retryTransient(
      () => recordJobOutcome(ctx.pool, job.job_id, { status, attempts: attempt, ...extra }),
      { logger: log, what: 'job outcome', maxOutageMs: RECORD_OUTAGE_MAX_MS, signal: ctx.signal },
    );
    ctx.onOutcome?.(job.dataset, status);
  };
  const keepAlive = setInterval(() => msg.working(), ctx.keepAliveMs);
  try {
    const fetched = await fetchForJob({ http: ctx.http, sources: ctx.sources, signal: ctx.signal }, job);
    const envelopes = toEnvelopes(fetched, job.run_id, ctx.maxRowsPerEnvelope);
    const rawLastSeq = await publishEnvelopes(ctx.js, envelopes);
    ctx.onPublished?.(job.dataset, envelopes.length, fetched.rows.length);
    await record('done', {
      rows: fetched.rows.length,
      envelopes: envelopes.length,
      sourceUrl: fetched.sourceUrl,
      ...(envelopes.length && fetched.rows.length ? { partitionDate: fetched.asOf, rawLastSeq } : {}),
    });
    log.debug({ rows: fetched.rows.length }, 'job done');
    await announceRunIfComplete(ctx, job.run_id);
    return { kind: 'ack' };
  } catch (err) {
    if (isAbortError(err) || ctx.signal.aborted) {
      ctx.onOutcome?.(job.dataset, 'aborted');
      return 'aborted';
    }
    const outcome = parseOutcome(err);
    const code = (err as { code?: string }).code;
    const message = (err as Error).message;
    try {
      if (outcome === 'no_data' || outcome === 'unknown_stock') {
        await record(outcome, { code, error: message });
        log.info({ outcome, code }, 'job finished without data');
        await announceRunIfComplete(ctx, job.run_id);
        return { kind: 'ack' };
      }
      const d = dispositionFor(err, attempt, ctx.maxAttempts, ctx.retryBaseDelayMs);
      await record(d.kind === 'dlq' ? 'dlq' : 'retrying', { code, error: message });
      if (d.kind === 'dlq') await announceRunIfComplete(ctx, job.run_id);
      return d;
    } catch (recordErr) {
      // Postgres unreachable: keep the job, try again later.
      log.warn({ err: recordErr }, 'could not record job outcome');
      return { kind: 'retry', delayMs: ctx.retryBaseDelayMs, reason: (recordErr as Error).message };
    }
  } finally {
    clearInterval(keepAlive);
  }
}
