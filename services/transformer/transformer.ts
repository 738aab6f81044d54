import type { JsMsg } from '@nats-io/jetstream';
import { type LakeCommitted, lakeCommittedValidator } from '../../contracts/index.ts';
import { consumerNames, streamNames } from '../../streams/index.ts';
import {
  consumeLoop,
  type Disposition,
  dispositionFor,
  type Service,
  type ServiceDeps,
  stageLifecycle,
} from '../runtime/index.ts';
import type { TransformerConfig } from './config.ts';
import { duckOptionsOf, openDuck } from './duck.ts';
import { transformerMetrics } from './metrics.ts';
import { loadModels } from './models.ts';
import { flushOutbox, processLakeEvent, type TransformContext } from './process.ts';
import { migrateTransformer } from './schema.ts';

/**
 * The transformer: consumes `harbour.lake.committed.>` (durable `transformer` on EVENTS), loads each
 * committed file into silver and recomputes the gold rows it affects, then announces every model
 * run that changed a table on `harbour.gold.updated.<model>` (msgID = run id, from an outbox).
 */
export async function startTransformer(config: TransformerConfig, deps: ServiceDeps): Promise<Service> {
  const log = deps.logger.child({ component: 'transformer' });
  await migrateTransformer(deps.pool);
  const models = loadModels();
  const metrics = transformerMetrics(deps.registry);
  const duck = await openDuck(duckOptionsOf(config));
  const ctx: TransformContext = {
    pool: deps.pool,
    store: deps.store,
    duck,
    logger: log,
    models,
    metrics,
    statementTimeoutMs: config.statementTimeoutMs,
    workMem: config.workMem,
  };

  let outboxBusy: Promise<void> | null = null;
  const publishOutbox = (): Promise<void> => {
    outboxBusy ??= flushOutbox(deps.pool, deps.js, config.outboxBatch)
      .then(() => {})
      .catch((err) => log.warn({ err }, 'gold.updated outbox not flushed; retried after the next event'))
      .finally(() => {
        outboxBusy = null;
      });
    return outboxBusy;
  };

  const lifecycle = stageLifecycle('transformer', log, deps, {
    drain: async () => {
      await loop;
      await outboxBusy;
      await duck.close();
    },
  });
  const { signal } = lifecycle;

  const handle = async (msg: JsMsg): Promise<Disposition | 'aborted'> => {
    let event: LakeCommitted;
    try {
      event = lakeCommittedValidator.parse(msg.json());
    } catch (err) {
      return dispositionFor(err, 1, 1);
    }
    const keepAlive = setInterval(() => msg.working(), config.workingEveryMs);
    try {
      const outcome = await processLakeEvent(ctx, event, signal);
      metrics.events.inc({ dataset: event.dataset, outcome: outcome.kind });
      if (outcome.kind === 'loaded') {
        const latency = (Date.now() - Date.parse(event.committed_at)) / 1000;
        metrics.eventToGold.observe({ dataset: event.dataset }, Math.max(0, latency));
        log.info(
          {
            file: event.file_key,
            batch: outcome.batchId,
            rows: outcome.silverRows,
            changedKeys: outcome.changedKeys,
            runs: outcome.runs.map((r) => `${r.model}:${r.rowsWritten}`),
          },
          'lake file transformed',
        );
      } else {
        log.debug({ file: event.file_key, outcome: outcome.kind }, 'lake event needs no work');
      }
      await publishOutbox();
      return { kind: 'ack' };
    } catch (err) {
      if (signal.aborted) return 'aborted';
      metrics.events.inc({ dataset: event.dataset, outcome: 'failed' });
      log.warn({ err, file: event.file_key, attempt: msg.info.deliveryCount }, 'lake event failed');
      return dispositionFor(err, msg.info.deliveryCount, config.maxAttempts, config.retryBaseDelayMs);
    } finally {
      clearInterval(keepAlive);
    }
  };

  // Runs committed before a crash may still be unannounced.
  void publishOutbox();
  const loop = consumeLoop({
    js: deps.js,
    stream: streamNames.events,
    consumer: consumerNames.transformer,
    concurrency: config.concurrency,
    stage: 'transformer',
    logger: log,
    signal,
    handle,
    onDlq: (code) => metrics.dlq.inc({ stage: 'transformer', code }),
  });
  deps.health.add('transformer', () => ({ ok: !signal.aborted, detail: `${models.length} models` }));
  return lifecycle;
}
