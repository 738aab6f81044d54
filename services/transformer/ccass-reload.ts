import type pg from 'pg';
import type { CatalogFile } from '../catalog/index.ts';
import {
  addCcassScope,
  addServed,
  buildSilverFrom,
  type CcassLake,
  ccassPasses,
  computeModel,
  type DerivedUpload,
  dateList,
  indexSilverSets,
  modelError,
  newRunAcc,
  type RunAcc,
  recordDerived,
  serveModel,
  writeDerived,
} from './ccass-lake.ts';
import { parquetFiles } from './duck.ts';
import { inputOf } from './lake.ts';
import type { Model } from './models.ts';
import { markFile } from './process.ts';
import { type ModelRunResult, recordRun } from './runner.ts';

/**
 * CCASS in a silver reload (a full rebuild, or one from a date): the silver of every holding date
 * from every active bronze file, and the DuckDB models' gold, computed while the rebuild's
 * Postgres work goes on and served into its transaction afterwards.
 *
 * - **Computing** (`startCcassReload`): a DuckDB connection of its own (`Duck.fork`) goes through
 *   the dates in passes of consecutive holding dates (`ccassPasses`), as `refreshCcassDate` does
 *   for an event and with its SQL: silver built from the bronze files, written and uploaded; each
 *   set's previous holding date from the sets already built (and, from a date, the latest set of
 *   each stock before it); the models computed over `cur`/`prev`/`sets`, tested, their gold
 *   written and uploaded. It reads nothing from Postgres the rebuild writes: a reload cleared every
 *   set and derived file of its dates, so every set is new and none has a later one.
 * - **Serving** (`finish`, on the rebuild's connection once it is free): pass by pass, the derived
 *   files recorded, the sets indexed, the scope of the Postgres models filled, the models' rows
 *   served, all from the pass's local Parquet files; then one run per model with the reload's files
 *   as inputs.
 *
 * A failed test or error in the computing fails the rebuild (`finish`); a failed rebuild
 * `stop`s it before the rollback, so that what it uploaded is discarded with the batch.
 */
export interface CcassReload {
  /**
   * Serves every pass as it is computed; resolves once all are, with the models' runs, or rejects
   * with the computing's error once the passes computed before it are served.
   */
  finish(client: pg.PoolClient): Promise<ModelRunResult[]>;
  /** Stops the computing and waits for it (and its DuckDB connection) to end. */
  stop(): Promise<void>;
}

/** A computed pass, waiting to be served. */
interface Pass {
  dates: string[];
  files: CatalogFile[];
  silver: { dir: string; files: DerivedUpload[] };
  /** Per model: its gold files; none when the pass has no set. */
  gold: Map<string, { dir: string; files: DerivedUpload[] }>;
  /** Every set of the pass (code, holding date): the scope of the Postgres models reading CCASS. */
  sets: { codes: string[]; days: string[] };
}

export interface CcassReloadOptions {
  files: CatalogFile[];
  batchId: string;
  passRows: number;
  /** Passes computed and not yet served, at most (`rebuildPassesAhead`). */
  passesAhead: number;
  /** Every model (the DuckDB ones are computed). */
  models: Model[];
  /** After each holding date is served, with its files. */
  onDate: (date: string, files: CatalogFile[]) => void;
}

/**
 * Starts computing the CCASS silver and gold of `files` (every active CCASS file of the dates
 * reloaded). `client` is the rebuild's, after it cleared those dates; it is read here only, before
 * anything else uses it.
 */
export async function startCcassReload(
  client: pg.PoolClient,
  lake: CcassLake,
  o: CcassReloadOptions,
): Promise<CcassReload> {
  const byDate = new Map<string, CatalogFile[]>();
  for (const f of o.files.filter((x) => x.dataset === 'ccass'))
    byDate.set(f.partitionDate, [...(byDate.get(f.partitionDate) ?? []), f]);
  const dates = [...byDate]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([date, of]) => ({ date, of, rows: of.reduce((a, f) => a + f.rows, 0), objects: of.length }));
  const models = dates.length ? o.models.filter((m) => m.engine === 'duckdb') : [];
  // What stays of CCASS before the reloaded dates: each stock's latest set, the silver files.
  const { rows: latest } = await client.query<{ code: string; holding_date: string }>(
    `select code, to_char(max(holding_date), 'YYYY-MM-DD') as holding_date from silver.ccass_sets group by code`,
  );
  const { rows: kept } = await client.query<{ date: string; key: string; checksum: string }>(
    `select to_char(partition_date, 'YYYY-MM-DD') as date, file_key as key, checksum from lakehouse_files
     where layer = 'silver' and name = 'ccass'`,
  );
  const duck = await lake.duck.fork();
  // The computed passes' files are in the fork's directory: it closes once they are served.
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= duck.close();
    return closing;
  };
  const abort = new AbortController();
  const signal = lake.signal ? AbortSignal.any([lake.signal, abort.signal]) : abort.signal;
  const own: CcassLake = { ...lake, duck, signal };
  const acc = new Map(models.map((m) => [m.name, newRunAcc(o.batchId, m.name)]));
  const queue: Pass[] = [];
  // The serving waits on `wake` for a pass; the computing, `passesAhead` passes ahead, on `room`.
  let wake = () => {};
  let room = () => {};
  let failure: { err: unknown } | null = null;
  let ended = false;
  const computing = (async () => {
    try {
      await duck.table('latest', { code: 'varchar', holding_date: 'date' }, latest);
      const silverFiles = new Map(kept.map((k) => [k.date, k]));
      let lastDates: string[] = [];
      for (const pass of ccassPasses(dates, o.passRows)) {
        while (queue.length >= o.passesAhead && !signal.aborted)
          await new Promise<void>((resolve) => {
            room = resolve;
          });
        signal.throwIfAborted();
        const computed = await computePass(own, pass, {
          models,
          acc,
          silverFiles,
          lastDates,
          batchId: o.batchId,
        });
        queue.push(computed);
        for (const f of computed.silver.files) silverFiles.set(f.date, f);
        lastDates = computed.dates;
        wake();
      }
    } catch (err) {
      failure = { err };
    } finally {
      ended = true;
      wake();
    }
  })();

  return {
    async stop() {
      abort.abort();
      room();
      await computing;
      await close();
    },
    async finish(db) {
      for (;;) {
        const pass = queue.shift();
        room();
        if (pass) {
          await servePass(db, lake, pass, { models, acc, batchId: o.batchId });
          for (const d of pass.dates) o.onDate(d, byDate.get(d) ?? []);
          continue;
        }
        if (failure) throw failure.err;
        if (ended) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      await close();
      const inputs = o.files.filter((f) => f.dataset === 'ccass').map(inputOf);
      const runs: ModelRunResult[] = [];
      for (const { result, t0 } of acc.values()) {
        result.durationMs = performance.now() - t0;
        await recordRun(db, { batchId: o.batchId, trigger: 'rebuild', inputs }, result, 'succeeded', null);
        runs.push(result);
      }
      return runs;
    },
  };
}

/**
 * One pass on the computing connection: silver `s_new` built, written, uploaded; `sets` with each
 * set's previous holding date (`latest` then moves on); the models computed, tested, their gold
 * written and uploaded. `s_new` is kept as `s_last`, where the next pass finds its first
 * comparison bases; older ones are read from their silver files.
 */
async function computePass(
  lake: CcassLake,
  pass: { date: string; of: CatalogFile[] }[],
  o: {
    models: Model[];
    acc: Map<string, RunAcc>;
    silverFiles: ReadonlyMap<string, { key: string; checksum: string }>;
    /** The dates of the pass before, whose silver is `s_last`. */
    lastDates: readonly string[];
    batchId: string;
  },
): Promise<Pass> {
  const { duck } = lake;
  const dates = pass.map((d) => d.date);
  const files = pass.flatMap((d) => d.of);
  await buildSilverFrom(lake, files, 's_new');
  const silver = await writeDerived(lake, {
    layer: 'silver',
    name: 'ccass',
    dates,
    dateColumn: 'holding_date',
    batchId: o.batchId,
    select: 'select * from s_new',
  });
  const gold = new Map<string, { dir: string; files: DerivedUpload[] }>();
  const held: string[] = [];
  try {
    await duck.run(`
      create or replace temp table sets as
      select code, holding_date, prev_holding_date from (
        select code, holding_date, fresh,
          lag(holding_date) over (partition by code order by holding_date) as prev_holding_date
        from (select distinct code, holding_date, true as fresh from s_new
              union all select code, holding_date, false from latest))
      where fresh;
      create or replace temp table latest as
      select code, max(holding_date) as holding_date
      from (select code, holding_date from latest union all select code, holding_date from sets) group by code`);
    const setRows = await duck.rows(
      `select code, strftime(holding_date, '%Y-%m-%d') as day from sets order by holding_date, code`,
    );
    const sets = {
      codes: setRows.map((r) => String(r['code'])),
      days: setRows.map((r) => String(r['day'])),
    };
    const xs = [...new Set(sets.days)];
    if (xs.length) {
      await definePrev(lake, dates, o, held);
      const codes = [...new Set(sets.codes)].sort();
      for (const model of o.models) {
        const run = o.acc.get(model.name)!;
        try {
          const table = await computeModel(duck, model, run, { xs, sets: setRows.length, codes });
          gold.set(
            model.name,
            await writeDerived(lake, {
              layer: 'gold',
              name: model.name,
              dates: xs,
              dateColumn: model.scopeDate ?? 'holding_date',
              batchId: o.batchId,
              select: `select ${model.columns.join(', ')} from ${table}`,
            }),
          );
          await duck.run(`drop table ${table}`);
        } catch (err) {
          throw modelError(model, run, err);
        }
      }
    }
    await duck.run('drop table if exists s_last; alter table s_new rename to s_last');
    return { dates, files, silver, gold, sets };
  } catch (err) {
    await forgetPass(lake, { silver, gold });
    throw err;
  } finally {
    duck.release(held);
  }
}

/**
 * Views `cur` (the pass's silver) and `prev` (the silver of each set's previous holding date): in
 * this pass, in the last (`s_last`), or in an earlier silver file, whose local copy is held.
 */
async function definePrev(
  lake: CcassLake,
  dates: readonly string[],
  o: {
    silverFiles: ReadonlyMap<string, { key: string; checksum: string }>;
    lastDates: readonly string[];
  },
  held: string[],
): Promise<void> {
  const { duck } = lake;
  const inPass = new Set(dates);
  const last = new Set(o.lastDates);
  const prevDates = (
    await duck.rows(
      `select distinct strftime(prev_holding_date, '%Y-%m-%d') as d from sets where prev_holding_date is not null`,
    )
  ).map((r) => String(r['d']));
  const inLast = prevDates.filter((d) => last.has(d));
  const parts = ['select * from s_new'];
  if (inLast.length) parts.push(`select * from s_last where holding_date in ${dateList(inLast)}`);
  for (const d of prevDates.filter((x) => !inPass.has(x) && !last.has(x))) {
    const f = o.silverFiles.get(d);
    if (!f) continue; // a set whose base has no silver file: no rows, as in refreshCcassDate
    const path = await duck.local(lake.store, f.key, f.checksum, { signal: lake.signal, hold: true });
    held.push(path);
    parts.push(`select * from ${parquetFiles([path])}`);
  }
  await duck.run(`
    create or replace temp view cur as select * from s_new;
    create or replace temp view prev as select p.* from (${parts.join(' union all ')}) p
      join sets s on s.code = p.code and s.prev_holding_date = p.holding_date`);
}

/**
 * Serves a computed pass in the rebuild's transaction (`duck`: the rebuild's own connection, which
 * reads the pass's local files): derived files recorded, sets indexed, the Postgres models' scope,
 * the models' rows; then its local files go.
 */
async function servePass(
  client: pg.PoolClient,
  lake: CcassLake,
  pass: Pass,
  o: { models: Model[]; acc: Map<string, RunAcc>; batchId: string },
): Promise<void> {
  const { duck } = lake;
  try {
    await recordDerived(client, { layer: 'silver', name: 'ccass', batchId: o.batchId }, pass.silver.files);
    const silver = parquetFiles(pass.silver.files.map((f) => f.path));
    await indexSilverSets(client, duck, pass.dates, silver);
    await addCcassScope(client, pass.sets.codes, pass.sets.days);
    for (const model of o.models) {
      const gold = pass.gold.get(model.name);
      if (!gold) continue;
      const run = o.acc.get(model.name)!;
      try {
        await recordDerived(client, { layer: 'gold', name: model.name, batchId: o.batchId }, gold.files);
        const xs = gold.files.map((f) => f.date);
        const rows = parquetFiles(gold.files.map((f) => f.path));
        addServed(run, await serveModel(client, duck, model, rows, xs, silver));
      } catch (err) {
        throw modelError(model, run, err);
      }
    }
    for (const f of pass.files) await markFile(client, f.fileKey, 'loaded', o.batchId, 0);
  } finally {
    await forgetPass(lake, pass);
  }
}

async function forgetPass(lake: CcassLake, pass: Pick<Pass, 'silver' | 'gold'>): Promise<void> {
  await lake.duck.forget([pass.silver.dir, ...[...pass.gold.values()].map((g) => g.dir)]);
}
