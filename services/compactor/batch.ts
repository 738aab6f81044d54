import type { JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import type { PartitionFile } from './partition-file.ts';

let batchCounter = 0;

/**
 * JetStream's acknowledgement bodies, what `JsMsg.ack()`, `nak()` and `working()` publish to the
 * delivery's reply subject. A batch acks this way, not through `JsMsg` or the shared `settle`:
 * holding each `JsMsg` until the commit would hold every payload of the batch in memory (up to
 * `maxBatchMessages` envelopes), which the spool exists to avoid; the reply subject is all acking
 * needs. Messages settled one at a time use `msg.ack()`, `msg.nak()` and `settle`.
 */
const ACK = '+ACK';
const NAK = '-NAK';
const WORKING = '+WPI';

/** The delivery's `$JS.ACK.…` reply subject (public on nats.js's JsMsg implementation, not on its interface). */
export function replyOf(msg: JsMsg): string {
  const reply = (msg as JsMsg & { reply?: string }).reply;
  if (!reply) {
    throw new HarbourError(ErrorCodes.Unexpected, `message ${msg.seq} has no reply subject to acknowledge`);
  }
  return reply;
}

/**
 * The batch of one dataset's consumer: messages delivered and not yet committed, and the open
 * partition files their rows went into. Nothing here is acked until `commitBatch` returned.
 */
export class Batch {
  readonly id = `${Date.now().toString(36)}${(batchCounter++).toString(36)}`;
  /** Reply subject per RAW sequence: what acking needs, without keeping the payload in memory. */
  readonly msgs = new Map<number, string>();
  readonly files = new Map<string, PartitionFile>();
  /** Commits the batch `flushAgeMs` after its first message; cleared when it is flushed for another reason. */
  ageTimer: NodeJS.Timeout | undefined;

  get size() {
    return this.msgs.size;
  }
  rows() {
    let n = 0;
    for (const f of this.files.values()) n += f.rows;
    return n;
  }
  maxFileBytes() {
    let n = 0;
    for (const f of this.files.values()) n = Math.max(n, f.estimatedBytes);
    return n;
  }
  maxFileRows() {
    let n = 0;
    for (const f of this.files.values()) n = Math.max(n, f.rows);
    return n;
  }
  /** Acks every message of the batch (after its commit); the caller flushes the connection. */
  ackAll(nc: NatsConnection): void {
    for (const reply of this.msgs.values()) nc.publish(reply, ACK);
  }
  /** Hands every message back for redelivery now (the commit found them committed elsewhere). */
  nakAll(nc: NatsConnection): void {
    for (const reply of this.msgs.values()) nc.publish(reply, NAK);
  }
  /** Resets `ack_wait` of every message: buffered messages outlive it while they wait for the commit. */
  working(nc: NatsConnection): void {
    for (const reply of this.msgs.values()) nc.publish(reply, WORKING);
  }
  /** Moves the files of `dates` and their messages into a new batch; this one keeps the rest and its age timer. */
  take(dates: ReadonlySet<string>): Batch {
    const part = new Batch();
    for (const [date, file] of this.files) {
      if (!dates.has(date)) continue;
      part.files.set(date, file);
      this.files.delete(date);
      for (const seq of file.seqs) {
        const reply = this.msgs.get(seq);
        if (reply === undefined) continue;
        part.msgs.set(seq, reply);
        this.msgs.delete(seq);
      }
    }
    return part;
  }
}
