import { streamNames } from '../../streams/index.ts';
import { PULL_EXPIRES_MS, sleep } from '../runtime/index.ts';
import type { Committer, DatasetContext } from './committer.ts';
import type { RunTracker } from './runs.ts';

const PULL_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Pulls the dataset's RAW messages into the batch until `both` aborts (closing, or the lease
 * lost), re-binding after a failure. Each message is added and its runs settled under `serial`.
 */
export async function pullRaw(
  ctx: DatasetContext,
  committer: Committer,
  runs: RunTracker,
  both: AbortSignal,
): Promise<void> {
  const { deps, consumer, dlog } = ctx;
  while (!both.aborted) {
    try {
      const c = await deps.js.consumers.get(streamNames.raw, consumer);
      // Deliveries not acked at (re)bind belong to a previous holder or pull: they come back later.
      const bound = await deps.jsm.consumers.info(streamNames.raw, consumer);
      runs.deliveredAtBind = Math.max(runs.deliveredAtBind, bound.delivered.stream_seq);
      if (bound.delivered.stream_seq > bound.ack_floor.stream_seq)
        runs.uncleanBelow = Math.max(runs.uncleanBelow, bound.delivered.stream_seq);
      // Pull by bytes, not messages: 1 000 large envelopes overflow nats-server's per-client
      // buffer, the server cuts the connection and in-flight messages wait out ack_wait.
      const messages = await c.consume({ max_bytes: PULL_MAX_BYTES, expires: PULL_EXPIRES_MS });
      const stop = () => messages.stop();
      both.addEventListener('abort', stop, { once: true });
      try {
        for await (const msg of messages) {
          if (both.aborted) {
            // Not in any batch: hand it back now rather than after ack_wait.
            msg.nak();
            break;
          }
          await committer.serial(async () => {
            await committer.add(msg);
            await runs.afterAdd(msg.seq);
          });
        }
      } finally {
        both.removeEventListener('abort', stop);
      }
    } catch (err) {
      if (!both.aborted) dlog.warn({ err }, 'consumer failed; re-binding shortly');
    }
    if (!both.aborted) await sleep(1000, both).catch(() => {});
  }
}
