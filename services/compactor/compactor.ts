import { createReadStream } from 'node:fs';
import { hostname } from 'node:os';
import type { JsMsg } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import {
  type Dataset,
  decodeEnvelope,
  type Envelope,
  ErrorCodes,
  HarbourError,
  type RunCompleted,
  runCompletedValidator,
} from '../../contracts/index.ts';
import { consumerNames, kvBuckets, streamNames } from '../../streams/index.ts';
import {
  backoffMs,
  createLease,
  createLifecycle,
  dispositionFor,
  type Logger,
  PULL_EXPIRES_MS,
  type Service,
  type ServiceDeps,
  settle,
  sleep,
} from '../runtime/index.ts';
import { Batch, replyOf } from './batch.ts';
import {
  type CommittedFile,
  commitBatch,
  committedAmong,
  migrateCatalog,
  pruneCommittedSeqs,
  readWatermark,
} from './catalog.ts';
import type { CompactorConfig } from './config.ts';
import { fileKeyFor } from './file-key.ts';
import { compactorMetrics } from './metrics.ts';
import { type FinishedFile, PartitionFile } from './partition-file.ts';
import { recordRunInLake } from './run-freshness.ts';
import { publishOutbox, runSchedule } from './schedule.ts';
import { cleanSpool } from './spool.ts';

/**
 * After a run's completion found records of it still to come (redeliveries after a crash), its
 * partitions are committed this long after the last such record arrived: redeliveries come in a
 * burst, and one file for them beats one per message.
 */
const STRAGGLER_SETTLE_MS = 500;

const PULL_MAX_BYTES = 16 * 1024 * 1024;

/** Runs `fn` until it succeeds, backing off; gives up only when `signal` aborts. */
async function untilDone<T>(
  fn: () => Promise<T>,
  opts: { signal: AbortSignal; maxMs: number; log: Logger; what: string; onRetry?: () => void },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (opts.signal.aborted) throw err;
      const delay = backoffMs(attempt, 200, opts.maxMs);
      opts.log.warn({ err, attempt, delayMs: delay }, `${opts.what} failed; retrying`);
      opts.onRetry?.();
      await sleep(delay, opts.signal);
    }
  }
}

/** A run-completed event being worked on: its message stays unacked until the run is confirmed in the lake. */
interface OpenRun {
  event: RunCompleted;
  msg: JsMsg;
  /** Consumed past its last sequence, but records of it may still be redelivered (a previous holder crashed). */
  straggling: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Compacts `harbour.raw.<dataset>` into Parquet files in the lake, exactly once: rows are written
 * to spool files, uploaded, then made visible in ONE Postgres transaction that also records their
 * RAW sequences; only then are the messages acked. A redelivered message whose sequence is
 * already committed is acked and skipped. With `leaseTtlMs` one compactor at a time consumes a
 * dataset (others stand by), which keeps files large; correctness never depends on the lease, so a
 * holder that loses it commits what it has buffered and stops pulling.
 */
export async function startCompactor(config: CompactorConfig, deps: ServiceDeps): Promise<Service> {
  const writerId = (config.writerId || `${hostname()}-${process.pid}`).replace(/[^A-Za-z0-9_.-]/g, '_');
  const log = deps.logger.child({ component: 'compactor', writer: writerId });
  const m = compactorMetrics(deps);
  // Aborted only by the forced phase: the final flush of a graceful stop runs under it.
  const forced = new AbortController();
  const lifecycle = createLifecycle({
    name: 'compactor',
    logger: log,
    drainTimeoutMs: deps.drainTimeoutMs,
    drain: async () => {
      await Promise.allSettled(loops);
    },
    force: async () => forced.abort(),
  });
  const { signal } = lifecycle;
  await untilDone(() => migrateCatalog(deps.pool), {
    signal,
    maxMs: config.commitRetryMaxMs,
    log,
    what: 'catalog migration',
  });

  /** Removes spool files no live writer owns (at start, after each commit and merge round). */
  const cleanSpoolDir = async () => {
    try {
      const state = await cleanSpool(config.spoolDir);
      m.spoolFiles.set(state.files);
      m.spoolBytes.set(state.bytes);
      if (state.removed) {
        m.spoolRemoved.inc(state.removed);
        log.info({ removed: state.removed, dir: config.spoolDir }, 'removed stale spool files');
      }
    } catch (err) {
      log.warn({ err, dir: config.spoolDir }, 'spool clean-up failed; retrying after the next commit');
    }
  };
  await cleanSpoolDir();

  const kv = config.leaseTtlMs > 0 ? await new Kvm(deps.js).open(kvBuckets.leases) : undefined;
  /** Datasets this process owns now (all of them without leases): merges run only for these. */
  const owned = new Set<Dataset>(kv ? [] : config.datasets);

  const runDataset = async (dataset: Dataset) => {
    const consumer = consumerNames.compactor(dataset);
    const dlog = log.child({ dataset });
    let watermark = await untilDone(() => readWatermark(deps.pool, consumer), {
      signal,
      maxMs: config.commitRetryMaxMs,
      log: dlog,
      what: 'read watermark',
    });
    const lease = kv && createLease(kv, `compactor.${dataset}`, writerId, config.leaseTtlMs);
    let batch = new Batch();
    // The batch being committed: a redelivery of one of its messages must not enter the next batch.
    let committing: Batch | null = null;
    // Appends and flushes never interleave: both run through this chain.
    let chain: Promise<unknown> = Promise.resolve();
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      const p = chain.then(fn);
      chain = p.catch(() => {});
      return p;
    };

    /** Commits the batch, or with `only` just those partitions (the rest keeps buffering). */
    const flush = async (reason: string, sig: AbortSignal = signal, only?: ReadonlySet<string>) => {
      if (!batch.size) return;
      let current = batch;
      if (only && [...batch.files.keys()].some((d) => !only.has(d))) {
        current = batch.take(only);
        if (!current.size) return;
      } else {
        clearTimeout(current.ageTimer);
        batch = new Batch();
      }
      committing = current;
      try {
        await commitCurrent(current, reason, sig);
      } finally {
        committing = null;
        for (const f of current.files.values()) await f.discard();
        await cleanSpoolDir();
      }
      // A commit may be what held a straggling run's confirmation back (the ack floor).
      for (const r of runs.values()) if (r.straggling) armRun(r);
    };

    const commitCurrent = async (current: Batch, reason: string, sig: AbortSignal) => {
      const t0 = performance.now();
      const finished: FinishedFile[] = [];
      for (const f of current.files.values()) finished.push(await f.finish());
      const files = finished.map((f) => ({
        finished: f,
        file: {
          fileKey: fileKeyFor(f, writerId, current.id),
          dataset,
          partitionDate: f.partitionDate,
          firstSeq: f.firstSeq,
          lastSeq: f.lastSeq,
          rows: f.rows,
          bytes: f.bytes,
          checksum: f.checksum,
          writer: writerId,
        } satisfies CommittedFile,
      }));
      for (const { finished: f, file } of files) {
        await untilDone(() => deps.store.put(file.fileKey, createReadStream(f.spoolPath), { signal: sig }), {
          signal: sig,
          maxMs: config.commitRetryMaxMs,
          log: dlog,
          what: `upload ${file.fileKey}`,
          onRetry: () => m.retries.inc({ dataset, step: 'upload' }),
        });
      }
      const outcome = await untilDone(
        () =>
          commitBatch(
            deps.pool,
            consumer,
            dataset,
            files.map(({ file, finished: f }) => ({ file, seqs: f.seqs })),
          ),
        {
          signal: sig,
          maxMs: config.commitRetryMaxMs,
          log: dlog,
          what: 'catalog commit',
          onRetry: () => m.retries.inc({ dataset, step: 'commit' }),
        },
      );
      if (outcome === 'conflict') {
        // Some sequences were committed meanwhile: hand everything back; redelivery sorts it out.
        dlog.warn(
          { messages: current.size },
          'batch overlaps committed sequences; handing it back for redelivery',
        );
        current.nakAll(deps.nc);
        // They come back as redeliveries: runs must not count them as consumed meanwhile.
        uncleanBelow = Math.max(uncleanBelow, ...current.msgs.keys());
        return;
      }
      current.ackAll(deps.nc);
      await deps.nc.flush();
      for (const { file } of files) {
        watermark = Math.max(watermark, file.lastSeq);
        m.filesCommitted.inc({ dataset, kind: 'batch' });
        m.rowsCommitted.inc({ dataset }, file.rows);
        m.fileBytes.observe({ dataset }, file.bytes);
      }
      m.flushSeconds.observe({ dataset }, (performance.now() - t0) / 1000);
      m.lastCommit.set({ dataset }, Date.now() / 1000);
      m.bufferedRows.set({ dataset }, batch.rows());
      m.bufferedBytes.set({ dataset }, batch.maxFileBytes());
      dlog.info(
        {
          reason,
          outcome,
          files: files.map((f) => ({ key: f.file.fileKey, rows: f.file.rows, bytes: f.file.bytes })),
          messages: current.size,
        },
        'batch committed',
      );
      await publishOutbox(deps).catch((err) =>
        dlog.warn({ err }, 'commit events not published yet; outbox will retry'),
      );
      await pruneSeqs();
    };

    const pruneSeqs = async () => {
      try {
        const info = await deps.jsm.consumers.info(streamNames.raw, consumer);
        await pruneCommittedSeqs(deps.pool, consumer, info.ack_floor.stream_seq);
      } catch (err) {
        dlog.debug({ err }, 'pruning committed sequences skipped');
      }
    };

    const add = async (msg: JsMsg) => {
      const seq = msg.seq;
      // Redelivered while its batch is still open or committing: keep the newest handle for the ack.
      for (const b of [batch, committing]) {
        if (b?.msgs.has(seq)) {
          b.msgs.set(seq, replyOf(msg));
          return;
        }
      }
      if (
        seq <= watermark &&
        (
          await untilDone(() => committedAmong(deps.pool, consumer, [seq]), {
            signal,
            maxMs: config.commitRetryMaxMs,
            log: dlog,
            what: 'committed check',
          })
        ).has(seq)
      ) {
        m.skipped.inc({ dataset });
        msg.ack();
        return;
      }
      let env: Envelope;
      try {
        env = decodeEnvelope(msg.data);
        if (env.dataset !== dataset) {
          throw new HarbourError(
            ErrorCodes.SchemaInvalid,
            `envelope of dataset ${env.dataset} on the ${dataset} subject`,
            { detail: { path: '/dataset' } },
          );
        }
      } catch (err) {
        await settle(msg, dispositionFor(err, 1, 1), {
          js: deps.js,
          stage: 'compactor',
          logger: dlog,
          onDlq: (code) => m.dlq.inc({ stage: 'compactor', code }),
        });
        return;
      }
      if (!env.rows.length) {
        msg.ack();
        return;
      }
      let file = batch.files.get(env.as_of);
      if (!file) {
        file = await PartitionFile.open({
          spoolDir: config.spoolDir,
          dataset,
          partitionDate: env.as_of,
          rowGroupRows: config.rowGroupRows,
          writerId,
        });
        batch.files.set(env.as_of, file);
      }
      if (!batch.size) {
        const started = batch;
        started.ageTimer = setTimeout(() => {
          serial(() => (batch === started ? flush('age') : Promise.resolve())).catch(onFailure);
        }, config.flushAgeMs);
      }
      await file.append(seq, env);
      batch.msgs.set(seq, replyOf(msg));
      m.bufferedRows.set({ dataset }, batch.rows());
      m.bufferedBytes.set({ dataset }, batch.maxFileBytes());
      if (batch.maxFileBytes() >= config.targetFileBytes) await flush('bytes');
      else if (batch.maxFileRows() >= config.maxFileRows) await flush('rows');
      else if (batch.size >= config.maxBatchMessages) await flush('messages');
      else if (msg.info.pending === 0 && batch.rows() >= config.drainFlushMinRows) await flush('drained');
    };
    const onFailure = (err: unknown) => {
      if (!signal.aborted) lifecycle.fail(err);
    };

    // Run completion (issue #20). JetStream hands a consumer's new messages out in sequence order,
    // so once this process has consumed past a run's last RAW sequence every record of the run is
    // committed or in its batch, unless some were delivered before (to a holder that crashed, a
    // pull lost to a re-bind, a batch handed back) and are still unacked: those come back as
    // redeliveries after ack_wait. `uncleanBelow` is the highest sequence that may still come back
    // that way (0 = none); it clears once the ack floor passes it or, with the lease (one holder),
    // once every unacked delivery is in this batch.
    const runs = new Map<string, OpenRun>();
    let consumedSeq = 0;
    let deliveredAtBind = 0;
    let uncleanBelow = lease ? 0 : Number.MAX_SAFE_INTEGER; // shared consumer: others hold deliveries too

    /**
     * Commits the run's open partitions (one file each) and acks its event once every record of
     * it is in the lake. While records of it may still be redelivered it commits nothing (that
     * would split the partition) and waits for them: `straggling`, re-armed by each redelivery.
     */
    const settleRun = async (r: OpenRun) => {
      clearTimeout(r.timer);
      if (!runs.has(r.event.run_id)) return;
      let floor = 0;
      if (uncleanBelow > 0) {
        const info = await untilDone(
          async () => {
            await deps.nc.flush(); // acks of skipped messages first
            return deps.jsm.consumers.info(streamNames.raw, consumer);
          },
          { signal, maxMs: config.commitRetryMaxMs, log: dlog, what: 'consumer info' },
        );
        floor = info.ack_floor.stream_seq;
        if (floor >= uncleanBelow || (lease && info.num_ack_pending <= batch.size)) uncleanBelow = 0;
      }
      const consumedNow = (x: OpenRun) =>
        x.event.last_raw_seq <= floor ||
        (uncleanBelow === 0 &&
          (x.event.last_raw_seq <= consumedSeq || x.event.last_raw_seq <= deliveredAtBind));
      if (!consumedNow(r)) {
        r.straggling = uncleanBelow > 0; // otherwise simply not consumed yet: afterAdd settles it
        // Shared consumer: commit this process's share; the ack floor tells when the others did theirs.
        if (!lease && r.event.last_raw_seq <= consumedSeq)
          await flush('run completed', signal, new Set(r.event.partitions));
        return;
      }
      // Every run consumed by now goes in the same commit (a backfill's days finish together).
      const ready = [...runs.values()].filter(consumedNow);
      await flush('run completed', signal, new Set(ready.flatMap((x) => x.event.partitions)));
      for (const x of ready) {
        clearTimeout(x.timer);
        runs.delete(x.event.run_id);
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
    };
    const armRun = (r: OpenRun) => {
      clearTimeout(r.timer);
      r.timer = setTimeout(() => serial(() => settleRun(r)).catch(onFailure), STRAGGLER_SETTLE_MS);
    };
    const onRun = async (event: RunCompleted, msg: JsMsg) => {
      const known = runs.get(event.run_id);
      if (known) {
        known.msg = msg; // a redelivery (not confirmed within ack_wait): ack the newest handle, look again
        if (known.straggling) armRun(known);
        return;
      }
      const r: OpenRun = { event, msg, straggling: false, timer: undefined };
      runs.set(event.run_id, r);
      const last = event.last_raw_seq;
      if (last <= consumedSeq || last <= deliveredAtBind) await settleRun(r);
    };
    /** After each RAW message: settle runs this one completes, re-arm straggling runs it may belong to. */
    const afterAdd = async (seq: number) => {
      consumedSeq = Math.max(consumedSeq, seq);
      for (const r of runs.values()) {
        if (r.straggling) {
          if (seq <= r.event.last_raw_seq) armRun(r);
        } else if (r.event.last_raw_seq <= consumedSeq) await settleRun(r);
      }
    };
    /** Hands open run events back (shutdown, lease lost) so the next holder gets them at once. */
    const releaseRuns = () => {
      for (const r of runs.values()) {
        clearTimeout(r.timer);
        r.msg.nak();
      }
      runs.clear();
    };

    /** Pulls run-completed events of this dataset while `both` is not aborted. */
    const consumeRuns = async (both: AbortSignal) => {
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
                await settle(msg, dispositionFor(err, 1, 1), {
                  js: deps.js,
                  stage: 'compactor',
                  logger: dlog,
                  onDlq: (code) => m.dlq.inc({ stage: 'compactor', code }),
                });
                continue;
              }
              await serial(() => onRun(event, msg));
            }
          } finally {
            both.removeEventListener('abort', stop);
          }
        } catch (err) {
          if (!both.aborted) dlog.warn({ err }, 'run events consumer failed; re-binding shortly');
        }
        if (!both.aborted) await sleep(1000, both).catch(() => {});
      }
    };

    const { config: consumerConfig } = await untilDone(
      () => deps.jsm.consumers.info(streamNames.raw, consumer),
      {
        signal,
        maxMs: config.commitRetryMaxMs,
        log: dlog,
        what: 'consumer info',
      },
    );
    const ackWaitMs = Math.max(300, Number(consumerConfig.ack_wait ?? 30e9) / 1e6);
    // `working()` so buffered messages outlive ack_wait while they wait for their batch's commit.
    const keepAlive = setInterval(() => {
      for (const b of [batch, committing]) b?.working(deps.nc);
    }, ackWaitMs / 3);

    let held = !lease;
    // An unreachable bucket changes nothing: no one else can take the lease meanwhile, so a holder
    // keeps compacting (stopping would strand its in-flight deliveries until ack_wait) and a standby waits.
    const tryLease = async () => {
      if (lease) {
        try {
          held = await lease.tryAcquire(Date.now());
        } catch (err) {
          dlog.debug({ err }, 'lease bucket unreachable; keeping the current lease state');
        }
      }
      m.leaseHeld.set({ dataset }, held ? 1 : 0);
      if (held) owned.add(dataset);
      else owned.delete(dataset);
      return held;
    };
    const renewEveryMs = Math.max(100, Math.floor(config.leaseTtlMs / 3));

    /** Pulls until the signal aborts or the lease is lost (`tenure` aborted by the renewal). */
    const consumeWhileOwner = async () => {
      const tenure = new AbortController();
      const renew = lease
        ? setInterval(() => {
            void tryLease().then((held) => {
              if (!held) tenure.abort();
            });
          }, renewEveryMs)
        : undefined;
      const both = AbortSignal.any([signal, tenure.signal]);
      const runsLoop = consumeRuns(both);
      try {
        while (!both.aborted) {
          try {
            const c = await deps.js.consumers.get(streamNames.raw, consumer);
            // Deliveries not acked at (re)bind belong to a previous holder or pull: they come back later.
            const bound = await deps.jsm.consumers.info(streamNames.raw, consumer);
            deliveredAtBind = Math.max(deliveredAtBind, bound.delivered.stream_seq);
            if (bound.delivered.stream_seq > bound.ack_floor.stream_seq)
              uncleanBelow = Math.max(uncleanBelow, bound.delivered.stream_seq);
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
                await serial(async () => {
                  await add(msg);
                  await afterAdd(msg.seq);
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
      } finally {
        clearInterval(renew);
        await runsLoop;
      }
      if (!signal.aborted) {
        dlog.warn('dataset lease lost; committing what is buffered and standing by');
        await serial(() => flush('lease lost')).catch((err) =>
          dlog.warn({ err }, 'flush after losing the lease failed; messages will be redelivered'),
        );
        await serial(async () => releaseRuns());
      }
    };

    try {
      while (!signal.aborted) {
        if (await tryLease()) await consumeWhileOwner();
        else await sleep(renewEveryMs, signal).catch(() => {});
      }
    } finally {
      clearTimeout(batch.ageTimer);
      clearInterval(keepAlive);
      await chain;
    }
    // Graceful stop: the signal is aborted, so retries stop; what cannot be committed now is redelivered later.
    await serial(() => flush('shutdown', forced.signal)).catch((err) =>
      dlog.warn({ err }, 'final flush failed; messages will be redelivered'),
    );
    await serial(async () => releaseRuns());
    // Hand the dataset over at once instead of letting a standby wait out the TTL.
    await lease?.release().catch(() => {});
    m.leaseHeld.set({ dataset }, 0);
  };

  const loops = [
    ...config.datasets.map((d) => runDataset(d)),
    runSchedule({ deps, config, writerId, owned, signal, log, m, cleanSpoolDir }),
  ];
  deps.health.add('compactor', () => ({ ok: !signal.aborted }));
  return lifecycle;
}
