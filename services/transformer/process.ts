import type { JetStreamClient } from '@nats-io/jetstream';
import type pg from 'pg';
import {
  DATASETS,
  ErrorCodes,
  type GoldUpdated,
  HarbourError,
  type LakeCommitted,
  SCHEMA_VERSION,
} from '../../contracts/index.ts';
import { subjects } from '../../streams/index.ts';
import { type CatalogFile, catalogFile } from '../catalog/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import type { Logger } from '../runtime/index.ts';
import {
  type CcassLake,
  discardBatchUploads,
  dropPrebuilt,
  type PrebuiltSilver,
  prebuildCcassSilver,
  refreshCcassDate,
  sweepLakehouseGarbage,
} from './ccass-lake.ts';
import type { Duck } from './duck.ts';
import { fetchLakeFile, inputOf, lakeRowGroups } from './lake.ts';
import type { TransformerMetrics } from './metrics.ts';
import type { Model } from './models.ts';
import {
  analyzeIfGrown,
  emptyRun,
  type InputFile,
  lockTransformer,
  ModelRunError,
  type ModelRunResult,
  ModelTestFailure,
  newBatchId,
  recordRun,
  runModels,
} from './runner.ts';
import { createSilverScopes, loadSilverFile } from './silver.ts';

export interface TransformContext {
  pool: pg.Pool;
  store: ObjectStore;
  /** The embedded DuckDB that computes CCASS silver and gold (ccass-lake.ts). */
  duck: Duck;
  logger: Logger;
  models: Model[];
  metrics: TransformerMetrics;
  statementTimeoutMs?: number;
  workMem?: string;
}

export type EventOutcome =
  | { kind: 'duplicate' }
  | { kind: 'replaced'; replacedBy: string | null }
  | { kind: 'loaded'; batchId: string; silverRows: number; changedKeys: number; runs: ModelRunResult[] };

async function alreadyLoaded(db: pg.Pool | pg.PoolClient, fileKey: string): Promise<boolean> {
  const { rowCount } = await db.query('select 1 from transform_files where file_key = $1', [fileKey]);
  return (rowCount ?? 0) > 0;
}

/**
 * Records that the transformer is done with a lake file (its details stay in the catalog's
 * `lake_files`, joined by key). Called after the gold models, just before the commit: loaded_at is
 * clock_timestamp(), not now() (the transaction's start), so it says when the file's silver AND gold
 * were done (the run → gold freshness the catalog derives from it).
 */
export async function markFile(
  client: pg.PoolClient,
  fileKey: string,
  outcome: 'loaded' | 'skipped_replaced',
  batchId: string,
  changedKeys: number,
): Promise<void> {
  await client.query(
    `insert into transform_files (file_key, outcome, batch_id, changed_keys, loaded_at)
     values ($1, $2, $3, $4, clock_timestamp())
     on conflict (file_key) do update set outcome = excluded.outcome, batch_id = excluded.batch_id,
       changed_keys = excluded.changed_keys, loaded_at = excluded.loaded_at`,
    [fileKey, outcome, batchId, changedKeys],
  );
}

/**
 * Begins an event's transaction under the transformer lock and settles what needs no work: a file
 * already loaded (rolled back: duplicate) or replaced by a merge since (recorded as skipped). The
 * catalog row is re-read under the lock; otherwise the open transaction's file is returned.
 */
async function beginEvent(
  ctx: TransformContext,
  client: pg.PoolClient,
  entry: CatalogFile,
  batchId: string,
): Promise<EventOutcome | CatalogFile> {
  await client.query('begin');
  await tuneTransaction(client, ctx);
  await lockTransformer(client);
  if (await alreadyLoaded(client, entry.fileKey)) {
    await client.query('rollback');
    return { kind: 'duplicate' };
  }
  const now = await catalogFile(client, entry.fileKey);
  if (!now || now.status === 'replaced') {
    await markFile(client, entry.fileKey, 'skipped_replaced', batchId, 0);
    await client.query('commit');
    return { kind: 'replaced', replacedBy: now?.replacedBy ?? entry.replacedBy };
  }
  return now;
}

export async function processLakeEvent(
  ctx: TransformContext,
  event: LakeCommitted,
  signal?: AbortSignal,
): Promise<EventOutcome> {
  if (await alreadyLoaded(ctx.pool, event.file_key)) return { kind: 'duplicate' };
  const entry = await catalogFile(ctx.pool, event.file_key);
  if (!entry) {
    throw new HarbourError(ErrorCodes.LakeFile, `lake file ${event.file_key} is not in the catalog (yet)`, {
      detail: { fileKey: event.file_key },
    });
  }
  if (entry.dataset !== event.dataset) {
    throw new HarbourError(
      ErrorCodes.LakeFile,
      `lake file ${event.file_key} is ${entry.dataset} in the catalog, the event says ${event.dataset}`,
      { detail: { fileKey: event.file_key } },
    );
  }
  if (entry.dataset === 'ccass') {
    const lake = { pool: ctx.pool, store: ctx.store, duck: ctx.duck, ...(signal ? { signal } : {}) };
    // A failed prebuild fails again under the lock, where the event's error handling takes it.
    const pre =
      entry.status === 'active'
        ? await prebuildCcassSilver(lake, entry.partitionDate, entry.fileKey).catch(() => undefined)
        : undefined;
    try {
      return await inEventTransaction(ctx, entry, (client, now, batchId) =>
        ccassWork(client, lake, ctx.models, now, batchId, pre),
      );
    } finally {
      if (pre) await dropPrebuilt(ctx.duck, pre);
    }
  }
  const dataset = entry.dataset;
  let bytes: Uint8Array | null = null;
  if (entry.status === 'active') bytes = await fetchLakeFile(ctx.store, entry, signal);
  return inEventTransaction(ctx, entry, async (client, now, batchId) => {
    // A file read as replaced is still replaced under the lock (settled by beginEvent): bytes are there.
    const data = bytes ?? (await fetchLakeFile(ctx.store, now, signal));
    await createSilverScopes(client, DATASETS);
    const silver = await loadSilverFile(client, dataset, now.fileKey, lakeRowGroups(dataset, data), {
      detectChanges: true,
    });
    await analyzeIfGrown(client, `silver.${dataset}`, silver.rows);
    const runs =
      silver.changedKeys > 0
        ? await runModels(client, { batchId, trigger: 'event', models: ctx.models, inputs: [inputOf(now)] })
        : [];
    return { silverRows: silver.rows, changedKeys: silver.changedKeys, runs };
  });
}

/** What an event's work did, for its outcome and metrics. */
interface EventWork {
  silverRows: number;
  changedKeys: number;
  runs: ModelRunResult[];
}

/**
 * Runs an event's work in one transaction under the transformer lock (`beginEvent` settles
 * duplicates and replaced files first), marks the file loaded and commits; then deletes the lake
 * objects the commit replaced. On failure: rollback, what the batch uploaded to the lake deleted,
 * the failed run recorded, the error rethrown (the consumer retries, then dead-letters).
 */
async function inEventTransaction(
  ctx: TransformContext,
  entry: CatalogFile,
  work: (client: pg.PoolClient, now: CatalogFile, batchId: string) => Promise<EventWork>,
): Promise<EventOutcome> {
  const batchId = newBatchId('event');
  const client = await ctx.pool.connect();
  try {
    const now = await beginEvent(ctx, client, entry, batchId);
    if ('kind' in now) return now;
    const done = await work(client, now, batchId);
    await markFile(client, now.fileKey, 'loaded', batchId, done.changedKeys);
    await client.query('commit');
    ctx.metrics.silverRows.inc({ dataset: now.dataset }, done.silverRows);
    for (const r of done.runs) ctx.metrics.observeRun(r, 'event');
    await sweepLakehouseGarbage(ctx.pool, ctx.store).catch((err) =>
      ctx.logger.warn({ err }, 'replaced lake objects not deleted yet; retried after the next event'),
    );
    return { kind: 'loaded', batchId, ...done };
  } catch (err) {
    await client.query('rollback').catch(() => {});
    await discardBatchUploads(ctx.pool, ctx.store, batchId).catch(() => {}); // else swept in an hour
    await recordFailure(ctx, { batchId, trigger: 'event', inputs: [inputOf(entry)] }, err);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * A CCASS file: its partition's silver (the files already accepted plus this one) is rebuilt as
 * Parquet by DuckDB and the gold it changes recomputed (ccass-lake.ts); the Postgres models that
 * read CCASS run on the changed stocks.
 */
async function ccassWork(
  client: pg.PoolClient,
  lake: CcassLake,
  models: Model[],
  now: CatalogFile,
  batchId: string,
  prebuilt: PrebuiltSilver | undefined,
): Promise<EventWork> {
  const inputs = [inputOf(now)];
  await createSilverScopes(client, DATASETS);
  const refreshed = await refreshCcassDate(client, lake, {
    date: now.partitionDate,
    own: now.fileKey,
    batchId,
    trigger: 'event',
    models,
    prebuilt,
  });
  const changedKeys = refreshed.changedCodes.length;
  const runs = changedKeys
    ? [...refreshed.runs, ...(await runModels(client, { batchId, trigger: 'event', models, inputs }))]
    : [];
  return { silverRows: refreshed.silverRows, changedKeys, runs };
}

/** Per-transaction settings: work_mem for the big sorts, an optional statement timeout. */
export async function tuneTransaction(
  client: pg.PoolClient,
  opts: { statementTimeoutMs?: number | undefined; workMem?: string | undefined },
): Promise<void> {
  if (opts.workMem && /^[0-9]+(kB|MB|GB)$/.test(opts.workMem))
    await client.query(`set local work_mem = '${opts.workMem}'`);
  if (opts.statementTimeoutMs)
    await client.query(`set local statement_timeout = ${Math.floor(opts.statementTimeoutMs)}`);
}

/** After a rollback: the failed run goes to the run history (own transaction) and to the metrics. */
export async function recordFailure(
  ctx: Pick<TransformContext, 'pool' | 'metrics' | 'logger'>,
  batch: { batchId: string; trigger: 'event' | 'rebuild'; inputs: InputFile[] },
  err: unknown,
): Promise<void> {
  let run: ModelRunResult | null = null;
  let message = (err as Error)?.message ?? String(err);
  if (err instanceof ModelTestFailure) {
    run = err.run;
    for (const t of err.failed) ctx.metrics.testFailures.inc({ model: err.run.model, test: t.test });
  } else if (err instanceof ModelRunError) {
    message = err.message;
    run = {
      ...emptyRun(err.runId, err.model, err.startedAt),
      durationMs: Date.now() - err.startedAt.getTime(),
    };
  }
  if (!run) return;
  ctx.metrics.runs.inc({ model: run.model, status: 'failed' });
  ctx.logger.error(
    { model: run.model, runId: run.runId, err: message },
    'model run failed; batch rolled back',
  );
  await recordRun(ctx.pool, batch, run, 'failed', message.slice(0, 4000)).catch((e) =>
    ctx.logger.warn({ err: e }, 'could not record the failed run'),
  );
}

interface OutboxRow {
  run_id: string;
  model: string;
  codes: string[];
  date_from: string | null;
  date_to: string | null;
  rows_written: string;
  finished_at: Date;
}

/**
 * Publishes `harbour.gold.updated.<model>` for committed runs not yet announced (msgID = run id,
 * so a re-publish after a crash collapses in JetStream's dedup window) and marks them published.
 */
export async function flushOutbox(pool: pg.Pool, js: JetStreamClient, limit = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<OutboxRow>(
      `select run_id, model, codes, to_char(date_from, 'YYYY-MM-DD') as date_from, to_char(date_to, 'YYYY-MM-DD') as date_to,
         rows_written, finished_at
       from transform_runs where publish and published_at is null order by finished_at, run_id limit $1`,
      [limit],
    );
    if (!rows.length) return total;
    for (const r of rows) {
      const day = r.finished_at.toISOString().slice(0, 10);
      const msg: GoldUpdated = {
        schema_version: SCHEMA_VERSION,
        model: r.model,
        run_id: r.run_id,
        codes: r.codes,
        from: r.date_from ?? day,
        to: r.date_to ?? r.date_from ?? day,
        rows: Number(r.rows_written),
        finished_at: r.finished_at.toISOString(),
      };
      await js.publish(subjects.goldUpdated(r.model), JSON.stringify(msg), { msgID: r.run_id });
    }
    await pool.query('update transform_runs set published_at = now() where run_id = any($1)', [
      rows.map((r) => r.run_id),
    ]);
    total += rows.length;
    if (rows.length < limit) return total;
  }
}
