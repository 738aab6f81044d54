import type { JetStreamClient } from '@nats-io/jetstream';
import { Value } from '@sinclair/typebox/value';
import type pg from 'pg';
import { DATASETS, type Dataset, ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { activeFiles, type CatalogFile } from '../catalog/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import type { Logger, Registry } from '../runtime/index.ts';
import {
  type CcassLake,
  clearCcass,
  discardBatchUploads,
  rebuildCcassGold,
  sweepLakehouseGarbage,
} from './ccass-lake.ts';
import { type CcassReload, startCcassReload } from './ccass-reload.ts';
import { TransformerConfig } from './config.ts';
import {
  copyCsv,
  duckCsv,
  duckOptionsOf,
  mirrorTable,
  OBJECTS_AT_ONCE,
  openDuck,
  parquetFiles,
} from './duck.ts';
import { inputOf } from './lake.ts';
import { transformerMetrics } from './metrics.ts';
import { datasetOfSilver, downstreamOf, loadModels, type Model, splitByCcass } from './models.ts';
import { flushOutbox, markFile, recordFailure, tuneTransaction } from './process.ts';
import {
  computedInDuck,
  type InputFile,
  lockTransformer,
  type ModelRunResult,
  newBatchId,
  type RunModelsOptions,
  runModels,
  withIndexesRebuilt,
} from './runner.ts';
import { migrateTransformer, SILVER_TABLES } from './schema.ts';
import {
  createSilverScopes,
  KEYED_DATASETS,
  type KeyedDataset,
  loadSilverWinners,
  rebuildWinnersSql,
  seedSilverScope,
  silverDates,
  silverTableOf,
  stageColumns,
} from './silver.ts';

export interface RebuildOptions {
  /** Rebuild only this gold model (and the models downstream of it) from the current silver. */
  model?: string;
  /** Only business dates from this day (yyyy-mm-dd): silver rows of those dates are reloaded from the lake, gold recomputed from there. */
  from?: string;
  signal?: AbortSignal;
}

export type RebuildProgress =
  | { phase: 'start'; batchId: string; files: number; models: string[] }
  | {
      phase: 'silver';
      done: number;
      total: number;
      file: string;
      dataset: Dataset;
      rows: number;
      elapsedMs: number;
    }
  | {
      phase: 'gold';
      model: string;
      state: 'start' | 'done';
      /** Where the model's rows are computed: its own engine, or DuckDB for a `rebuild: duckdb` model in a full rebuild. */
      engine: 'postgres' | 'duckdb';
      rows?: number;
      elapsedMs: number;
    }
  | { phase: 'commit'; elapsedMs: number }
  | {
      phase: 'done';
      batchId: string;
      files: number;
      silverRows: number;
      runs: ModelRunResult[];
      elapsedMs: number;
    };

export interface RebuildResult {
  batchId: string;
  files: number;
  silverRows: number;
  runs: ModelRunResult[];
  elapsedMs: number;
}

/** Deps rebuild needs: a pool and the object store; with `js`, the gold.updated events go out after commit. */
export interface RebuildDeps {
  pool: pg.Pool;
  store: ObjectStore;
  logger: Logger;
  js?: JetStreamClient;
  registry?: Registry;
}

/**
 * Empties what a silver reload rewrites: everything (from = null), or the silver rows and loaded-file
 * records from `from` on, after scoping the keys that had rows there (they are recomputed even if
 * the reload brings none back).
 */
async function clearSilver(client: pg.PoolClient, from: string | null, models: Model[]): Promise<void> {
  if (from === null) {
    await client.query(`truncate ${SILVER_TABLES.join(', ')}, transform_files`);
    await clearCcass(client, null, models);
    return;
  }
  for (const ds of DATASETS) await seedSilverScope(client, ds, from);
  await clearCcass(client, from, models);
  for (const ds of KEYED_DATASETS) {
    const { table, dateColumn } = silverDates(ds);
    await client.query(`delete from ${table} where ${dateColumn} >= $1`, [from]);
  }
  await client.query(
    `delete from transform_files t using lake_files f where f.file_key = t.file_key and f.partition_date >= $1`,
    [from],
  );
}

/**
 * Rebuilds silver from every active lake file of the catalog and gold from scratch, in ONE
 * transaction under the transformer lock (events wait; readers keep seeing the old tables until the
 * commit — except that a full rebuild truncates, so readers of a truncated table wait for the commit).
 * The result equals what the incremental path gives for the same files (same SQL, same keys).
 *
 * - no options: everything (silver truncated and reloaded, every gold table recomputed);
 * - `from`: silver rows dated from that day are reloaded from the files of partitions from that day,
 *   gold recomputed for dates from that day (and what their windows reach);
 * - `model`: silver untouched, that model and those downstream of it recomputed (from `from` if given).
 *
 * In order: the keyed silver; the Postgres models that read no CCASS (in a full rebuild those marked
 * `rebuild: duckdb` computed by DuckDB over the silver staged there, then COPYed in); CCASS silver
 * and its gold, served; the models that read CCASS. A silver reload computes CCASS on a DuckDB
 * connection of its own from the start (ccass-reload.ts), so that only its serving follows the
 * models.
 *
 * `onProgress` gets one call per keyed file, per CCASS holding date and per model. A failed model
 * test rolls everything back.
 */
export async function rebuild(
  config: Partial<TransformerConfig>,
  deps: RebuildDeps,
  onProgress: (p: RebuildProgress) => void = () => {},
  opts: RebuildOptions = {},
): Promise<RebuildResult> {
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  await migrateTransformer(deps.pool);
  const { all, chosen } = chooseModels(opts);
  const { rebuildPassRows: passRows, rebuildPassesAhead: passesAhead } = withDefaults(config);
  const from = opts.from ?? null;
  const reloadSilver = !opts.model;
  const metrics = deps.registry ? transformerMetrics(deps.registry) : null;
  const batchId = newBatchId('rebuild');
  const duck = await openDuck(duckOptionsOf(config));
  const lake = { pool: deps.pool, store: deps.store, duck, ...(opts.signal ? { signal: opts.signal } : {}) };
  const client = await deps.pool.connect();
  let inputs: InputFile[] = [];
  let reload: CcassReload | null = null;
  try {
    await client.query('begin');
    await tuneTransaction(client, {
      workMem: config.workMem ?? '256MB',
      statementTimeoutMs: config.statementTimeoutMs,
    });
    await lockTransformer(client);
    await createSilverScopes(client, DATASETS);
    const files = reloadSilver ? await activeFiles(client, { from }) : [];
    // Lineage: a gold-only rebuild reads silver, i.e. every active file (from `from`).
    const sources = reloadSilver ? files : await activeFiles(client, { from });
    inputs = sources.map(inputOf);
    onProgress({ phase: 'start', batchId, files: files.length, models: chosen.map((m) => m.name) });

    // A full rebuild computes the `rebuild: duckdb` models in DuckDB, over the silver it stages there.
    const inDuck = reloadSilver && from === null ? chosen.filter((m) => m.rebuildEngine === 'duckdb') : [];
    const mirrored = new Set(
      inDuck.flatMap((m) => m.depends.map(datasetOfSilver)).filter((d): d is KeyedDataset => d !== null),
    );
    const progress = silverProgress(files.length, onProgress, elapsed, metrics);
    if (reloadSilver) {
      await clearSilver(client, from, all);
      reload = await reloadSilverFiles(client, lake, {
        files,
        from,
        batchId,
        passRows,
        passesAhead,
        all,
        chosen,
        mirrored,
        progress,
        onProgress,
        elapsed,
      });
    }
    for (const ds of KEYED_DATASETS) await seedSilverScope(client, ds, from);
    const gold = goldRunner(client, {
      batchId,
      all,
      chosen,
      inputs,
      placement: { truncate: from === null, ...(inDuck.length ? { duck } : {}) },
      onProgress,
      elapsed,
    });
    // The Postgres models that read no CCASS first (DuckDB then holds only their silver and rows),
    // then CCASS, then the models that read it.
    const { apart, after } = splitByCcass(all);
    const runs = await gold(apart);
    if (inDuck.length)
      await duck.run('drop schema if exists silver cascade; drop schema if exists gold cascade');
    runs.push(
      ...(reload
        ? await serveCcass(client, reload, onProgress, elapsed)
        : await rebuildCcassGold(client, lake, from, {
            batchId,
            passRows,
            trigger: 'rebuild',
            inputs,
            models: chosen,
          })),
    );
    await seedSilverScope(client, 'ccass', from);
    runs.push(...(await gold(after)));
    onProgress({ phase: 'commit', elapsedMs: elapsed() });
    await client.query('commit');
    for (const r of runs) metrics?.observeRun(r, 'rebuild');
    await afterCommit(deps);
    const result = { batchId, files: files.length, silverRows: progress.rows(), runs, elapsedMs: elapsed() };
    onProgress({ phase: 'done', ...result });
    return result;
  } catch (err) {
    await reload?.stop(); // before the batch's uploads are discarded
    await client.query('rollback').catch(() => {});
    await discardBatchUploads(deps.pool, deps.store, batchId).catch(() => {}); // else swept in an hour
    if (metrics)
      await recordFailure(
        { pool: deps.pool, metrics, logger: deps.logger },
        { batchId, trigger: 'rebuild', inputs },
        err,
      );
    throw err;
  } finally {
    client.release();
    await duck.close();
  }
}

/** Reports silver steps: one per keyed file, one per CCASS holding date (its files at once). */
function silverProgress(
  total: number,
  onProgress: (p: RebuildProgress) => void,
  elapsed: () => number,
  metrics: ReturnType<typeof transformerMetrics> | null,
): { step(file: string, dataset: Dataset, rows: number, files?: number): void; rows(): number } {
  let done = 0;
  let silverRows = 0;
  return {
    step(file, dataset, rows, files = 1) {
      silverRows += rows;
      done += files;
      metrics?.silverRows.inc({ dataset }, rows);
      onProgress({ phase: 'silver', done, total, file, dataset, rows, elapsedMs: elapsed() });
    },
    rows: () => silverRows,
  };
}

/**
 * Reloads the cleared silver from `files`: starts computing CCASS on a DuckDB connection of its
 * own (served later through the reload returned), then loads the keyed files.
 */
async function reloadSilverFiles(
  client: pg.PoolClient,
  lake: CcassLake,
  o: {
    files: CatalogFile[];
    from: string | null;
    batchId: string;
    passRows: number;
    passesAhead: number;
    all: Model[];
    chosen: Model[];
    mirrored: ReadonlySet<KeyedDataset>;
    progress: ReturnType<typeof silverProgress>;
    onProgress: (p: RebuildProgress) => void;
    elapsed: () => number;
  },
): Promise<CcassReload> {
  const reload = await startCcassReload(client, lake, {
    files: o.files,
    batchId: o.batchId,
    passRows: o.passRows,
    passesAhead: o.passesAhead,
    models: o.all,
    onDate: (date, of) =>
      o.progress.step(
        `silver/ccass/date=${date}`,
        'ccass',
        of.reduce((a, f) => a + f.rows, 0),
        of.length,
      ),
  });
  try {
    if (o.files.some((f) => f.dataset === 'ccass'))
      for (const m of o.chosen.filter((x) => x.engine === 'duckdb'))
        o.onProgress({
          phase: 'gold',
          model: m.name,
          state: 'start',
          engine: 'duckdb',
          elapsedMs: o.elapsed(),
        });
    const keyed = o.files.filter((f): f is KeyedFile => f.dataset !== 'ccass');
    await loadFiles(client, lake, keyed, o, (f) => o.progress.step(f.fileKey, f.dataset, f.rows));
    // Fresh statistics: the planner must not plan millions of rows as the empty tables it saw.
    await client.query(`analyze ${KEYED_SILVER_TABLES.join(', ')}`);
    return reload;
  } catch (err) {
    await reload.stop();
    throw err;
  }
}

/** Serves the reloaded CCASS into the transaction (`CcassReload.finish`); returns the models' runs. */
async function serveCcass(
  client: pg.PoolClient,
  reload: CcassReload,
  onProgress: (p: RebuildProgress) => void,
  elapsed: () => number,
): Promise<ModelRunResult[]> {
  const runs = await reload.finish(client);
  for (const r of runs)
    onProgress({
      phase: 'gold',
      model: r.model,
      state: 'done',
      engine: 'duckdb',
      rows: r.rowsWritten,
      elapsedMs: elapsed(),
    });
  await client.query(`analyze ${SILVER_TABLES.filter((t) => !KEYED_SILVER_TABLES.includes(t)).join(', ')}`);
  return runs;
}

/** Runs the chosen ones of the given models on the batch (every model derives its scope). */
function goldRunner(
  client: pg.PoolClient,
  o: {
    batchId: string;
    all: Model[];
    chosen: Model[];
    inputs: InputFile[];
    placement: Pick<RunModelsOptions, 'truncate' | 'duck'>;
    onProgress: (p: RebuildProgress) => void;
    elapsed: () => number;
  },
): (run: readonly Model[]) => Promise<ModelRunResult[]> {
  return (run) =>
    runModels(client, {
      batchId: o.batchId,
      trigger: 'rebuild',
      models: o.all,
      only: new Set(run.filter((m) => o.chosen.includes(m)).map((m) => m.name)),
      inputs: o.inputs,
      ...o.placement,
      onModel: (model, state, r) =>
        o.onProgress({
          phase: 'gold',
          model,
          state,
          engine: o.all.some((m) => m.name === model && computedInDuck(m, o.placement))
            ? 'duckdb'
            : 'postgres',
          ...(r ? { rows: r.rowsWritten } : {}),
          elapsedMs: o.elapsed(),
        }),
    });
}

/** The silver tables of the keyed datasets (the others index CCASS silver, which is in the lake). */
const KEYED_SILVER_TABLES: readonly string[] = KEYED_DATASETS.map((d) => silverDates(d).table);

const withDefaults = (config: Partial<TransformerConfig>) =>
  Value.Default(TransformerConfig, Value.Clone(config)) as TransformerConfig;

/** The models a rebuild recomputes: all, or `model` and those downstream of it; checks `from`. */
function chooseModels(opts: RebuildOptions): { all: Model[]; chosen: Model[] } {
  const all = loadModels();
  if (opts.from !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(opts.from))
    throw new HarbourError(ErrorCodes.BadParameter, `from must be yyyy-mm-dd, got ${opts.from}`, {
      detail: { parameter: 'from' },
    });
  if (!opts.model) return { all, chosen: all };
  if (!all.some((m) => m.name === opts.model))
    throw new HarbourError(
      ErrorCodes.BadParameter,
      `unknown model ${opts.model}; models: ${all.map((m) => m.name).join(', ')}`,
      { detail: { parameter: 'model' } },
    );
  return { all, chosen: downstreamOf(all, opts.model) };
}

/** After the commit: replaced lake objects go, gold.updated events out (both retried by the service). */
async function afterCommit(deps: RebuildDeps): Promise<void> {
  await sweepLakehouseGarbage(deps.pool, deps.store).catch((err) =>
    deps.logger.warn({ err }, 'replaced lake objects not deleted yet; the transformer deletes them'),
  );
  if (!deps.js) return;
  await flushOutbox(deps.pool, deps.js).catch((err) =>
    deps.logger.warn(
      { err },
      'gold.updated events not published yet; the transformer service publishes them',
    ),
  );
}

type KeyedFile = CatalogFile & { dataset: KeyedDataset };

/**
 * Loads the keyed files dataset by dataset: DuckDB reads a dataset's files (local copies,
 * sha256-checked) into one stage, each row with its file's key and load order, and its winners go
 * to Postgres in ONE COPY (`loadSilverWinners`): the silver rows loading the files one by one in
 * this order would leave (`rebuildWinnersSql`). A truncated table is written without its indexes,
 * built afterwards. DuckDB stages the next dataset and writes its winners while Postgres loads one.
 * The `mirrored` datasets' winners stay in DuckDB as their silver table (`mirrorTable`), for the
 * models a full rebuild computes there. `onFile` comes as each file is staged; the files are marked
 * loaded after their dataset's COPY.
 */
async function loadFiles(
  client: pg.PoolClient,
  lake: CcassLake,
  files: KeyedFile[],
  o: { from: string | null; batchId: string; mirrored: ReadonlySet<KeyedDataset> },
  onFile: (f: KeyedFile) => void,
): Promise<void> {
  const { from, batchId } = o;
  const stage = async (dataset: KeyedDataset, of: KeyedFile[]): Promise<string> => {
    const table = `rebuild_${dataset}`;
    // -0 as 0, as an event's COPY text of it ('0') loads it
    const columns = stageColumns(dataset).map((c) =>
      c.type === 'double'
        ? `case when s.${c.name} = 0 then 0 else s.${c.name} end as ${c.name}`
        : `s.${c.name}`,
    );
    for (let i = 0; i < of.length; i += OBJECTS_AT_ONCE) {
      lake.signal?.throwIfAborted();
      const chunk = of.slice(i, i + OBJECTS_AT_ONCE);
      const paths: string[] = [];
      for (const f of chunk)
        paths.push(await lake.duck.local(lake.store, f.fileKey, f.checksum, { signal: lake.signal }));
      await lake.duck.table(
        'rebuild_files',
        { path: 'VARCHAR', file_key: 'VARCHAR', ord: 'INTEGER' },
        chunk.map((f, j) => ({ path: paths[j], file_key: f.fileKey, ord: i + j })),
      );
      await lake.duck.run(
        `${i === 0 ? `create or replace temp table ${table} as` : `insert into ${table}`}
         select ${columns.join(', ')}, f.file_key as _file_key, f.ord as _ord
         from ${parquetFiles(paths, { filename: true })} s join rebuild_files f on f.path = s.filename`,
      );
      await lake.duck.forget(paths);
      for (const f of chunk) onFile(f);
    }
    return table;
  };
  // DuckDB: the winners as a CSV for Postgres (and, mirrored, kept as the silver table there).
  const prepare = async (dataset: KeyedDataset, staged: string): Promise<string> => {
    const { table, columns, key } = silverTableOf(dataset);
    let select = rebuildWinnersSql(dataset, staged, { ordered: true });
    if (o.mirrored.has(dataset)) {
      await lake.duck.run(
        `insert into ${table} by name ${rebuildWinnersSql(dataset, staged, { ordered: false })}`,
      );
      // in key order (a DuckDB table keeps none)
      select = `select ${columns.join(', ')} from ${table} order by ${key.join(', ')}`;
    }
    const csv = await duckCsv(lake.duck, select);
    await lake.duck.run(`drop table ${staged}`);
    return csv;
  };
  // Postgres alone (DuckDB prepares the next dataset meanwhile).
  const load = async (dataset: KeyedDataset, of: KeyedFile[], csv: string): Promise<void> => {
    const write = () =>
      loadSilverWinners(client, dataset, (table, cols) => copyCsv(client, lake.duck, csv, table, cols), {
        empty: from === null,
      });
    if (from === null) await withIndexesRebuilt(client, silverDates(dataset).table, write);
    else await write();
    for (const f of of) await markFile(client, f.fileKey, 'loaded', batchId, 0);
  };
  // Mirrored tables are made first: their column types come from Postgres, busy with COPYs later.
  for (const dataset of o.mirrored) await mirrorTable(client, lake.duck, silverTableOf(dataset).table);
  let loading: Promise<void> | null = null;
  try {
    for (const dataset of KEYED_DATASETS) {
      const of = files.filter((f) => f.dataset === dataset);
      if (!of.length) continue;
      const csv = await prepare(dataset, await stage(dataset, of));
      await loading;
      loading = load(dataset, of, csv);
    }
    await loading;
  } finally {
    await loading?.catch(() => {}); // a failed stage: the client is free again before the rollback
  }
}
