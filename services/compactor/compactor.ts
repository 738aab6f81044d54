import { hostname } from 'node:os';
import { type KV, Kvm } from '@nats-io/kv';
import type { Dataset } from '../../contracts/index.ts';
import { consumerNames, kvBuckets, streamNames } from '../../streams/index.ts';
import { migrateCatalog, readWatermark } from '../catalog/index.ts';
import {
  createLease,
  type Logger,
  type Service,
  type ServiceDeps,
  sleep,
  stageLifecycle,
} from '../runtime/index.ts';
import { Committer, type DatasetContext } from './committer.ts';
import type { CompactorConfig } from './config.ts';
import { type CompactorMetrics, compactorMetrics } from './metrics.ts';
import { pullRaw } from './pull.ts';
import { RunTracker } from './runs.ts';
import { runSchedule } from './schedule.ts';
import { cleanSpool } from './spool.ts';
import { untilDone } from './until-done.ts';

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
  const lifecycle = stageLifecycle('compactor', log, deps, {
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

  const onFailure = (err: unknown) => {
    if (!signal.aborted) lifecycle.fail(err);
  };

  const loops = [
    ...config.datasets.map((d) =>
      runDataset({ deps, config, m, writerId, log, signal, forced, kv, owned, onFailure, cleanSpoolDir }, d),
    ),
    runSchedule({ deps, config, writerId, owned, signal, log, m, cleanSpoolDir }),
  ];
  deps.health.add('compactor', () => ({ ok: !signal.aborted }));
  return lifecycle;
}

/** What the dataset loops of one compactor share. */
interface Shared {
  deps: ServiceDeps;
  config: CompactorConfig;
  m: CompactorMetrics;
  writerId: string;
  log: Logger;
  /** Aborted when the compactor starts closing. */
  signal: AbortSignal;
  /** Aborted only by the forced phase: the final flush of a graceful stop runs under it. */
  forced: AbortController;
  /** The leases bucket; undefined when `leaseTtlMs` is 0. */
  kv: KV | undefined;
  /** Datasets this process owns now: merges run only for these. */
  owned: Set<Dataset>;
  onFailure: (err: unknown) => void;
  cleanSpoolDir: () => Promise<void>;
}

/**
 * One dataset's loop: while this process holds the dataset's lease (always, without leases) it
 * pulls, batches and commits; a standby retries the lease. On close: the final flush, open run
 * events handed back, the lease released.
 */
async function runDataset(shared: Shared, dataset: Dataset): Promise<void> {
  const { deps, config, m, writerId, log, signal, forced, kv, owned, onFailure, cleanSpoolDir } = shared;
  const consumer = consumerNames.compactor(dataset);
  const dlog = log.child({ dataset });
  const watermark = await untilDone(() => readWatermark(deps.pool, consumer), {
    signal,
    maxMs: config.commitRetryMaxMs,
    log: dlog,
    what: 'read watermark',
  });
  const lease = kv && createLease(kv, `compactor.${dataset}`, writerId, config.leaseTtlMs);
  const ctx: DatasetContext = {
    deps,
    config,
    m,
    writerId,
    dataset,
    consumer,
    dlog,
    lease: lease || undefined,
    signal,
    onFailure,
    cleanSpoolDir,
  };
  const committer = new Committer(ctx, watermark);
  const runs = new RunTracker(ctx, committer);

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
    for (const b of [committer.batch, committer.committing]) b?.working(deps.nc);
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
    const runsLoop = runs.consume(both);
    try {
      await pullRaw(ctx, committer, runs, both);
    } finally {
      clearInterval(renew);
      await runsLoop;
    }
    if (!signal.aborted) {
      dlog.warn('dataset lease lost; committing what is buffered and standing by');
      await committer
        .serial(() => committer.flush('lease lost'))
        .catch((err) =>
          dlog.warn({ err }, 'flush after losing the lease failed; messages will be redelivered'),
        );
      await committer.serial(async () => runs.release());
    }
  };

  try {
    while (!signal.aborted) {
      if (await tryLease()) await consumeWhileOwner();
      else await sleep(renewEveryMs, signal).catch(() => {});
    }
  } finally {
    clearTimeout(committer.batch.ageTimer);
    clearInterval(keepAlive);
    await committer.idle();
  }
  // Graceful stop: the signal is aborted, so retries stop; what cannot be committed now is redelivered later.
  await committer
    .serial(() => committer.flush('shutdown', forced.signal))
    .catch((err) => dlog.warn({ err }, 'final flush failed; messages will be redelivered'));
  await committer.serial(async () => runs.release());
  // Hand the dataset over at once instead of letting a standby wait out the TTL.
  await lease?.release().catch(() => {});
  m.leaseHeld.set({ dataset }, 0);
}
