import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import {
  type DlqMessage,
  ErrorCodes,
  errorCodeOf,
  isHarbourError,
  SCHEMA_VERSION,
} from '../../contracts/index.ts';
import { subjects } from '../../streams/index.ts';
import { backoffMs } from './backoff.ts';
import { isTransientPgError } from './pg.ts';

/** What a message handler decided; `settle` carries it out. The only place messages are acked, delayed or dead-lettered. */
export type Disposition =
  | { kind: 'ack' }
  | { kind: 'retry'; delayMs: number; reason: string }
  | { kind: 'dlq'; code: string; reason: string; detail?: Record<string, unknown> };

/** Codes that will fail the same way however often we retry: straight to the DLQ. */
const PERMANENT = new Set<string>([
  ErrorCodes.SchemaInvalid,
  ErrorCodes.NotJson,
  ErrorCodes.ParseLayout,
  ErrorCodes.ParseUnknownStock,
  ErrorCodes.HttpBodyTooLarge,
  ErrorCodes.SourceWindow,
]);

/**
 * The default decision for a failed message: permanent errors go to the DLQ at once, anything else
 * is retried with back-off until `maxAttempts`, then goes to the DLQ with its last error. A lost or
 * refused Postgres connection (a restart, an outage) says nothing about the message: it is retried
 * with back-off however long the outage lasts, and never dead-lettered for it.
 */
export function dispositionFor(
  err: unknown,
  attempt: number,
  maxAttempts: number,
  retryBaseDelayMs = 1000,
): Disposition {
  const code = errorCodeOf(err);
  const reason = err instanceof Error ? err.message : String(err);
  const detail = isHarbourError(err) ? (err.detail ?? {}) : {};
  if (isTransientPgError(err)) {
    return { kind: 'retry', delayMs: backoffMs(attempt, retryBaseDelayMs, 60_000), reason };
  }
  if (PERMANENT.has(code) || attempt >= maxAttempts) {
    return { kind: 'dlq', code, reason, detail: { ...detail, attempts: attempt } };
  }
  return {
    kind: 'retry',
    delayMs: backoffMs(attempt, retryBaseDelayMs, Math.max(60_000, retryBaseDelayMs * 16)),
    reason,
  };
}

/**
 * Carries out a disposition. A DLQ copy is published (and its PubAck awaited) BEFORE the original
 * is terminated, so a refused message is never lost.
 */
export async function settle(
  msg: JsMsg,
  d: Disposition,
  ctx: { js: JetStreamClient; stage: string; logger: Logger; onDlq?: (code: string) => void },
): Promise<void> {
  switch (d.kind) {
    case 'ack':
      msg.ack();
      return;
    case 'retry':
      ctx.logger.warn(
        { subject: msg.subject, seq: msg.seq, delayMs: d.delayMs, reason: d.reason },
        'retrying message',
      );
      msg.nak(d.delayMs);
      return;
    case 'dlq': {
      const dlq: DlqMessage = {
        schema_version: SCHEMA_VERSION,
        stage: ctx.stage,
        code: /^HARBOUR_ERR_[A-Z_]+$/.test(d.code) ? d.code : ErrorCodes.Unexpected,
        reason: d.reason,
        detail: d.detail ?? {},
        original_subject: msg.subject,
        original_seq: msg.seq,
        payload_base64: Buffer.from(msg.data).toString('base64'),
        failed_at: new Date().toISOString(),
      };
      await ctx.js.publish(subjects.dlq(ctx.stage), JSON.stringify(dlq), {
        msgID: `dlq:${ctx.stage}:${msg.info.stream}:${msg.seq}`,
      });
      ctx.logger.error(
        { subject: msg.subject, seq: msg.seq, code: dlq.code, reason: d.reason },
        'message sent to DLQ',
      );
      ctx.onDlq?.(dlq.code);
      // No reason on the TERM: nats-server 2.9 ignores `+TERM <reason>` and would redeliver forever
      // (the reason is in the DLQ copy).
      msg.term();
      return;
    }
  }
}
