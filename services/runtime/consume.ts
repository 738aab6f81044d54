import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { type Disposition, settle } from './disposition.ts';
import { sleep } from './service.ts';

/**
 * Lifetime of one pull request. After a reconnect (e.g. a cluster node died) the client re-checks
 * its consumer only when a pull expires; the client's 30 s default stalled work for up to 47 s
 * in the 3-node cluster test, 5 s keeps that near 10 s.
 */
export const PULL_EXPIRES_MS = 5_000;

export interface ConsumeLoopOptions {
  js: JetStreamClient;
  stream: string;
  consumer: string;
  /** Messages handled at once. */
  concurrency: number;
  /** Stage name used for the DLQ subject `harbour.dlq.<stage>`. */
  stage: string;
  logger: Logger;
  signal: AbortSignal;
  /** Decides a message's fate; `'aborted'` = shutting down mid-work, hand it back at once. */
  handle: (msg: JsMsg) => Promise<Disposition | 'aborted'>;
  onDlq?: (code: string) => void;
}

/**
 * Pulls from a durable consumer until `signal` aborts, at most `concurrency` handlers at a time.
 * Every message ends in `settle` (ack / retry-after / DLQ) or, when work was aborted by shutdown,
 * a plain nak so another instance takes it now. Resolves once in-flight work has finished.
 */
export async function consumeLoop(opts: ConsumeLoopOptions): Promise<void> {
  const { js, signal, logger } = opts;
  const settleCtx = { js, stage: opts.stage, logger, ...(opts.onDlq ? { onDlq: opts.onDlq } : {}) };
  while (!signal.aborted) {
    const inflight = new Set<Promise<void>>();
    try {
      const consumer = await js.consumers.get(opts.stream, opts.consumer);
      const messages = await consumer.consume({
        max_messages: Math.max(2 * opts.concurrency, 4),
        expires: PULL_EXPIRES_MS,
      });
      const stop = () => messages.stop();
      signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const msg of messages) {
          while (inflight.size >= opts.concurrency) await Promise.race(inflight);
          if (signal.aborted) {
            msg.nak();
            continue;
          }
          const work: Promise<void> = (async () => {
            try {
              const d = await opts.handle(msg);
              if (d === 'aborted') msg.nak();
              else await settle(msg, d, settleCtx);
            } catch (err) {
              // A handler bug or a lost connection while settling: leave the message to redelivery.
              logger.error({ err, subject: msg.subject, seq: msg.seq }, 'message handling failed');
            }
          })().finally(() => inflight.delete(work));
          inflight.add(work);
        }
      } finally {
        signal.removeEventListener('abort', stop);
      }
    } catch (err) {
      if (!signal.aborted)
        logger.warn({ err, consumer: opts.consumer }, 'consumer failed; re-binding shortly');
    }
    await Promise.allSettled(inflight);
    if (!signal.aborted) await sleep(1000, signal).catch(() => {});
  }
}
