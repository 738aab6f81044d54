import type { JetStreamManager } from '@nats-io/jetstream';

/**
 * Removes messages a work-queue stream still holds at or below its consumer's ack floor, and returns
 * how many. A work-queue stream deletes a message when it is acked, but after nats-server is killed
 * (kill -9, OOM) the stream can come back holding messages whose acks the consumer's state already
 * records: the ack floor is past them, they are never delivered again and never deleted, and the
 * stream's message count stays above zero forever although every job is done. Every message at or
 * below the ack floor has been acked by definition, so dropping them loses nothing. Only messages
 * matching the consumer's filter subject are touched.
 */
export async function dropAckedWorkQueueMessages(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): Promise<number> {
  const ci = await jsm.consumers.info(stream, consumer);
  const floor = ci.ack_floor?.stream_seq ?? 0;
  const si = await jsm.streams.info(stream);
  if (si.state.messages === 0 || si.state.first_seq > floor) return 0;
  const filter = ci.config.filter_subject;
  const r = await jsm.streams.purge(stream, { seq: floor + 1, ...(filter ? { filter } : {}) });
  return r.purged;
}
