import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';

/** Most messages one clean-up round reads (they are crash leftovers: normally none, after a crash a few). */
const MAX_PER_ROUND = 1_000;

/**
 * Removes messages a work-queue stream still holds at or below its consumer's ack floor whose work
 * the owner has recorded as finished, and returns how many. A work-queue stream deletes a message
 * when it is acked, but after nats-server is killed (kill -9, OOM) the stream can come back holding
 * messages whose acks the consumer's state already records: the ack floor is past them, they are
 * never delivered again and never deleted, and the stream's message count stays above zero forever
 * although every job is done.
 *
 * The ack floor alone does not prove a message was acked: right after such a restart nats-server
 * 2.9 reports an ack floor past messages it still redelivers (delivered before the crash, nak'd with
 * a delay after it). Purging by the floor lost those jobs (seen in CI: 8 of 200 jobs never done).
 * So each candidate is read and removed only when `finished` says its work is recorded as done:
 * the owner's record, not the subject, decides what goes.
 */
export async function dropFinishedWorkQueueMessages(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
  finished: (msgs: StoredMsg[]) => Promise<Set<number>>,
): Promise<number> {
  const ci = await jsm.consumers.info(stream, consumer);
  const floor = ci.ack_floor?.stream_seq ?? 0;
  const si = await jsm.streams.info(stream);
  if (si.state.messages === 0 || si.state.first_seq > floor) return 0;
  const candidates: StoredMsg[] = [];
  const last = Math.min(floor, si.state.first_seq + MAX_PER_ROUND - 1);
  for (let seq = si.state.first_seq; seq <= last; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) candidates.push(m);
  }
  if (!candidates.length) return 0;
  const done = await finished(candidates);
  let dropped = 0;
  for (const m of candidates) {
    if (done.has(m.seq) && (await jsm.streams.deleteMessage(stream, m.seq, false).catch(() => false)))
      dropped++;
  }
  return dropped;
}
