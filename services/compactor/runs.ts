import type { JsMsg } from '@nats-io/jetstream';
import { type RunCompleted, runCompletedValidator } from '../../contracts/index.ts';
import { consumerNames, streamNames } from '../../streams/index.ts';
import { recordRunInLake } from '../catalog/index.ts';
import { PULL_EXPIRES_MS, sleep } from '../runtime/index.ts';
import { type Committer, type DatasetContext, refuse } from './committer.ts';
import { untilDone } from './until-done.ts';

/**
 * After a run's completion found records of it still to come (redeliveries after a crash), its
 * partitions are committed this long after the last such record arrived: redeliveries come in a
 * burst, and one file for them beats one per message.
 */
const STRAGGLER_SETTLE_MS = 500;

/** A run-completed event being worked on: its message stays unacked until the run is confirmed in the lake. */
interface OpenRun {
  event: RunCompleted;
  msg: JsMsg;
  /** Consumed past its last sequence, but records of it may still be redelivered (a previous holder crashed). */
  straggling: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Run settlement of one dataset (issue #20): commits a completed run's partitions and acks its
 * run-completed event once every record of the run is in the lake.
 */
export class RunTracker {
  // Run completion (issue #20). JetStream hands a consumer's new messages out in sequence order,
  // so once this process has consumed past a run's last RAW sequence every record of the run is
  // committed or in its batch, unless some were delivered before (to a holder that crashed, a
  // pull lost to a re-bind, a batch handed back) and are still unacked: those come back as
  // redeliveries after ack_wait. `uncleanBelow` is the highest sequence that may still come back
  // that way (0 = none); it clears once the ack floor passes it or, with the lease (one holder),
  // once every unacked delivery is in this batch.
  readonly runs = new Map<string, OpenRun>();
  consumedSeq = 0;
  deliveredAtBind = 0;
  // Shared consumer (no lease): others hold deliveries too.
  uncleanBelow: number;

  /**
   * Commits the run's open partitions (one file each) and acks its event once every record of
   * it is in the lake. While records of it may still be redelivered it commits nothing (that
   * would split the partition) and waits for them: `straggling`, re-armed by each redelivery.
   */
  async settle(r: OpenRun): Promise<void> {
    const { deps, config, m, dlog, consumer, dataset, lease, signal } = this.ctx;
    clearTimeout(r.timer);
    if (!this.runs.has(r.event.run_id)) return;
    let floor = 0;
    if (this.uncleanBelow > 0) {
      const info = await untilDone(
        async () => {
          await deps.nc.flush(); // acks of skipped messages first
          return deps.jsm.consumers.info(streamNames.raw, consumer);
        },
        { signal, maxMs: config.commitRetryMaxMs, log: dlog, what: 'consumer info' },
      );
      floor = info.ack_floor.stream_seq;
      if (floor >= this.uncleanBelow || (lease && info.num_ack_pending <= this.committer.batch.size))
        this.uncleanBelow = 0;
    }
    const consumedNow = (x: OpenRun) =>
      x.event.last_raw_seq <= floor ||
      (this.uncleanBelow === 0 &&
        (x.event.last_raw_seq <= this.consumedSeq || x.event.last_raw_seq <= this.deliveredAtBind));
    if (!consumedNow(r)) {
      r.straggling = this.uncleanBelow > 0; // otherwise simply not consumed yet: afterAdd settles it
      // Shared consumer: commit this process's share; the ack floor tells when the others did theirs.
      if (!lease && r.event.last_raw_seq <= this.consumedSeq)
        await this.committer.flush('run completed', signal, new Set(r.event.partitions));
      return;
    }
    // Every run consumed by now goes in the same commit (a backfill's days finish together).
    const ready = [...this.runs.values()].filter(consumedNow);
    await this.committer.flush('run completed', signal, new Set(ready.flatMap((x) => x.event.partitions)));
    for (const x of ready) {
      clearTimeout(x.timer);
      this.runs.delete(x.event.run_id);
      if (!x.event.partitions.length) {
        x.msg.ack(); // published nothing: nothing to put in the lake or gold
        continue;
      }
      const seconds = await untilDone(() => recordRunInLake(deps.pool, x.event), {
        signal,
        maxMs: config.commitRetryMaxMs,
        log: dlog,
        what: 'record run in lake',
      });
      if (seconds !== null) m.runToLake.observe({ dataset }, seconds);
      x.msg.ack();
      dlog.info({ run: x.event.run_id, seconds, partitions: x.event.partitions.length }, 'run in lake');
    }
  }
  arm(r: OpenRun): void {
    clearTimeout(r.timer);
    r.timer = setTimeout(
      () => this.committer.serial(() => this.settle(r)).catch(this.ctx.onFailure),
      STRAGGLER_SETTLE_MS,
    );
  }
  private async onRun(event: RunCompleted, msg: JsMsg): Promise<void> {
    const known = this.runs.get(event.run_id);
    if (known) {
      known.msg = msg; // a redelivery (not confirmed within ack_wait): ack the newest handle, look again
      if (known.straggling) this.arm(known);
      return;
    }
    const r: OpenRun = { event, msg, straggling: false, timer: undefined };
    this.runs.set(event.run_id, r);
    const last = event.last_raw_seq;
    if (last <= this.consumedSeq || last <= this.deliveredAtBind) await this.settle(r);
  }
  /** After each RAW message: settle runs this one completes, re-arm straggling runs it may belong to. */
  async afterAdd(seq: number): Promise<void> {
    this.consumedSeq = Math.max(this.consumedSeq, seq);
    for (const r of this.runs.values()) {
      if (r.straggling) {
        if (seq <= r.event.last_raw_seq) this.arm(r);
      } else if (r.event.last_raw_seq <= this.consumedSeq) await this.settle(r);
    }
  }
  /** Hands open run events back (shutdown, lease lost) so the next holder gets them at once. */
  release(): void {
    for (const r of this.runs.values()) {
      clearTimeout(r.timer);
      r.msg.nak();
    }
    this.runs.clear();
  }

  /** Pulls run-completed events of this dataset while `both` is not aborted. */
  async consume(both: AbortSignal): Promise<void> {
    const { deps, dlog, dataset } = this.ctx;
    while (!both.aborted) {
      try {
        const c = await deps.js.consumers.get(streamNames.runs, consumerNames.compactorRuns(dataset));
        const messages = await c.consume({ max_messages: 256, expires: PULL_EXPIRES_MS });
        const stop = () => messages.stop();
        both.addEventListener('abort', stop, { once: true });
        try {
          for await (const msg of messages) {
            if (both.aborted) break;
            let event: RunCompleted;
            try {
              event = runCompletedValidator.parse(msg.json());
            } catch (err) {
              await refuse(this.ctx, msg, err);
              continue;
            }
            await this.committer.serial(() => this.onRun(event, msg));
          }
        } finally {
          both.removeEventListener('abort', stop);
        }
      } catch (err) {
        if (!both.aborted) dlog.warn({ err }, 'run events consumer failed; re-binding shortly');
      }
      if (!both.aborted) await sleep(1000, both).catch(() => {});
    }
  }

  constructor(
    private readonly ctx: DatasetContext,
    private readonly committer: Committer,
  ) {
    this.uncleanBelow = ctx.lease ? 0 : Number.MAX_SAFE_INTEGER;
    // A commit may be what held a straggling run's confirmation back (the ack floor).
    committer.onCommitted = () => {
      for (const r of this.runs.values()) if (r.straggling) this.arm(r);
    };
    // A batch handed back comes back as redeliveries: runs must not count them as consumed meanwhile.
    committer.onHandedBack = (maxSeq) => {
      this.uncleanBelow = Math.max(this.uncleanBelow, maxSeq);
    };
  }
}
