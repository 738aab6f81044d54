import type { Dataset } from '../../contracts/index.ts';
import { markRunsInGold, markSent, unsentOutbox } from '../catalog/index.ts';
import { type Logger, type ServiceDeps, sleep } from '../runtime/index.ts';
import type { CompactorConfig } from './config.ts';
import { mergePartitions } from './merge.ts';
import type { CompactorMetrics } from './metrics.ts';
import { sweepOrphans } from './sweep.ts';

/** Publishes the commit events the catalog transaction wrote to the outbox; returns how many. */
export async function publishOutbox(deps: Pick<ServiceDeps, 'pool' | 'js'>): Promise<number> {
  const items = await unsentOutbox(deps.pool);
  const sent: number[] = [];
  for (const item of items) {
    await deps.js.publish(item.subject, JSON.stringify(item.payload), { msgID: item.msgId });
    sent.push(item.id);
  }
  await markSent(deps.pool, sent);
  return sent.length;
}

export interface ScheduleContext {
  deps: ServiceDeps;
  config: CompactorConfig;
  writerId: string;
  /** Datasets this process owns now (its leases): merges and gold checks run only for these. */
  owned: ReadonlySet<Dataset>;
  signal: AbortSignal;
  log: Logger;
  m: CompactorMetrics;
  /** Removes spool files no live writer owns (after each merge round). */
  cleanSpoolDir: () => Promise<void>;
}

/**
 * The compactor's background schedule, every `outboxEveryMs` until `signal` aborts: publish the
 * outbox, observe runs that reached gold, merge small files every `mergeEveryMs`, sweep orphans
 * and stale temp files. A failed round is logged and retried on the next one.
 */
export async function runSchedule(ctx: ScheduleContext): Promise<void> {
  const { deps, config, writerId, owned, signal, log, m, cleanSpoolDir } = ctx;
  /** Runs of the datasets this process owns whose data just reached gold: observed once each. */
  const observeGold = async () => {
    if (!owned.size) return;
    try {
      for (const r of await markRunsInGold(deps.pool, [...owned])) {
        m.runToGold.observe({ dataset: r.dataset }, r.seconds);
        log.info({ dataset: r.dataset, run: r.runId, seconds: r.seconds }, 'run in gold');
      }
    } catch (err) {
      // No transformer yet (no transform_files table) or Postgres down: next round.
      log.debug({ err }, 'gold freshness not checked');
    }
  };

  let lastMerge = Date.now();
  let lastSweep = 0;
  while (!signal.aborted) {
    await sleep(config.outboxEveryMs, signal).catch(() => {});
    if (signal.aborted) break;
    try {
      await publishOutbox(deps);
      await observeGold();
      if (config.mergeEveryMs > 0 && Date.now() - lastMerge >= config.mergeEveryMs) {
        lastMerge = Date.now();
        for (const dataset of owned) {
          const merged = await mergePartitions(deps, config, dataset, writerId, signal);
          if (merged.length) m.filesCommitted.inc({ dataset, kind: 'merge' }, merged.length);
        }
        await cleanSpoolDir();
      }
      if (Date.now() - lastSweep >= Math.max(config.sweepGraceMs, 60_000)) {
        lastSweep = Date.now();
        for (const dataset of config.datasets) await sweepOrphans(deps, dataset, config.sweepGraceMs, log);
        // Temp files of uploads a killed process left in an fs lake (no live put is that old).
        const temps = (await deps.store.sweepTemp?.(config.sweepGraceMs)) ?? 0;
        if (temps) log.info({ removed: temps }, 'removed stale temporary files of the lake');
      }
    } catch (err) {
      log.warn({ err }, 'background work failed; retrying next round');
    }
  }
}
