import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { DATASETS, type Dataset, ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { copyFromDuck, type Duck, mirrorTable } from './duck.ts';
import { datasetOfSilver, type Model, type ModelTest } from './models.ts';
import { scopeTable, silverScopeName } from './silver.ts';

/** A lake file a batch consumed (run lineage: every run of the batch lists them). */
export interface InputFile {
  file_key: string;
  dataset: Dataset;
  partition_date: string;
  first_seq: number;
  last_seq: number;
  rows: number;
}

export interface TestResult {
  test: string;
  severity: 'error' | 'warn';
  failures: number;
  /** Set when Postgres itself guarantees the property (a duplicate key could not have been written). */
  enforcedBy?: 'primary key';
}

export interface ModelRunResult {
  runId: string;
  model: string;
  rowsWritten: number;
  rowsDeleted: number;
  scopeKeys: number;
  /** Stock codes whose rows were written or deleted (empty for the data-quality models). */
  codes: string[];
  from: string | null;
  to: string | null;
  startedAt: Date;
  durationMs: number;
  tests: TestResult[];
  /** Whether a `harbour.gold.updated.<model>` event goes out for it (the table changed). */
  publish: boolean;
}

/** A model test of severity error failed: the whole batch is rolled back; nothing wrong is published. */
export class ModelTestFailure extends HarbourError {
  constructor(
    readonly run: ModelRunResult,
    readonly failed: TestResult[],
  ) {
    super(
      ErrorCodes.ModelTestFailed,
      `model ${run.model} failed ${failed.length} test(s): ${failed.map((t) => `${t.test} (${t.failures} rows)`).join('; ')}`,
      { detail: { model: run.model, tests: failed.map((t) => t.test) } },
    );
    this.name = 'ModelTestFailure';
  }
}

/** A failed model (SQL error or test failure) with what is known of its run, for the run history. */
export class ModelRunError extends HarbourError {
  constructor(
    readonly model: string,
    readonly runId: string,
    readonly startedAt: Date,
    override readonly cause: unknown,
  ) {
    super(ErrorCodes.ModelFailed, `model ${model} failed: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
      detail: { model, runId },
    });
    this.name = 'ModelRunError';
  }
}

/** A run that has written nothing yet (results accumulate into it, or it records a failure). */
export const emptyRun = (runId: string, model: string, startedAt: Date): ModelRunResult => ({
  runId,
  model,
  rowsWritten: 0,
  rowsDeleted: 0,
  scopeKeys: 0,
  codes: [],
  from: null,
  to: null,
  startedAt,
  durationMs: 0,
  tests: [],
  publish: false,
});

export const newBatchId = (trigger: 'event' | 'rebuild') =>
  `${trigger === 'event' ? 'ev' : 'rb'}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;
export const runIdOf = (batchId: string, model: string) => `${batchId}:${model}`;

export const TRANSFORMER_LOCK = 'harbour-transformer';

/** Serialises every writer of silver and gold (service instances and rebuilds) for the transaction. */
export async function lockTransformer(client: pg.PoolClient): Promise<void> {
  await client.query('select pg_advisory_xact_lock(hashtext($1))', [TRANSFORMER_LOCK]);
}

/** `{{changed:X}}` for `model`: X's narrowed changes when `model` reads only some of X's columns. */
const narrowedTable = (upstream: string, model: string) => scopeTable(`${upstream}__for__${model}`);

function substitute(sql: string, model: Model, narrowed: ReadonlySet<string>): string {
  return sql
    .replace(/\{\{scope\}\}/g, scopeTable(model.name))
    .replace(/\{\{changed:([a-z_.]+)\}\}/g, (_, name: string) => {
      if (narrowed.has(narrowedTable(name, model.name))) return narrowedTable(name, model.name);
      const ds = datasetOfSilver(name);
      return scopeTable(ds ? silverScopeName(ds) : name);
    });
}

/**
 * For each later model that `reads` only some columns of `model`: the keys (and date range) whose
 * rows of `model` appeared, disappeared or changed in those columns, from the scoped rows before
 * (`old`) and now.
 */
async function narrowChanges(
  client: pg.PoolClient,
  model: Model,
  old: string,
  watchers: readonly Model[],
  narrowed: Set<string>,
): Promise<void> {
  const now = scopedRows(model, 'g', `g.*`);
  const d = model.scopeDate ?? null;
  for (const w of watchers) {
    const cols = [
      ...new Set([...model.key, model.scopeKey, ...(d ? [d] : []), ...w.reads[model.name]!]),
    ].join(', ');
    const table = narrowedTable(model.name, w.name);
    await client.query(`drop table if exists ${table}`);
    await client.query(
      `create temp table ${table} on commit drop as
       select ${model.scopeKey}::text as k, ${d ? `min(${d})::date` : `'-infinity'::date`} as lo,
         ${d ? `max(${d})::date` : `'infinity'::date`} as hi
       from (
         (select ${cols} from ${old} except all select ${cols} from ${now})
         union all
         (select ${cols} from ${now} except all select ${cols} from ${old})
       ) x group by 1`,
    );
    narrowed.add(table);
  }
}

function scopeJoin(model: Model, alias: string): string {
  const s = scopeTable(model.name);
  const date = model.scopeDate ? ` and ${alias}.${model.scopeDate} between s.lo and s.hi` : '';
  return `join ${s} s on ${alias}.${model.scopeKey} = s.k${date}`;
}

/**
 * The gold rows in a model's scope, read key by key through the primary-key index (`offset 0`
 * keeps Postgres from flattening it into a hash join over the whole table, whose cost would grow
 * with the history instead of with the scope).
 */
function scopedRows(model: Model, alias: string, columns = `${alias}.*`): string {
  const date = model.scopeDate ? ` and x.${model.scopeDate} between s.lo and s.hi` : '';
  return `${scopeTable(model.name)} s cross join lateral (
    select ${columns.replaceAll(`${alias}.`, 'x.')} from ${model.table} x where x.${model.scopeKey} = s.k${date} offset 0) ${alias}`;
}

/** The condition a row `g` violating the test meets (Postgres and DuckDB read it alike). */
export function testViolation(t: Exclude<ModelTest, { kind: 'unique' }>): string {
  switch (t.kind) {
    case 'not_null':
      return t.columns.map((c) => `g.${c} is null`).join(' or ');
    case 'range': {
      const parts: string[] = [];
      if (t.min !== null) parts.push(`g.${t.column} < ${t.min}`);
      if (t.max !== null) parts.push(`g.${t.column} > ${t.max}`);
      return parts.length ? parts.join(' or ') : 'false';
    }
    case 'accepted':
      return `g.${t.column} is not null and g.${t.column} not in (${t.values.map((v) => `'${v}'`).join(', ')})`;
    case 'expect':
      // Unqualified columns resolve to the gold row `g` (the scope `s` has only k, lo, hi); null fails.
      return `not coalesce((${t.condition}), false)`;
  }
}

/**
 * ANALYZEs `table` when `written` rows are a large share of what its statistics say it holds
 * (never analysed, or a bulk load in this very transaction): otherwise the planner plans the
 * following statements for the near-empty table it last saw, and a join over a full-market day
 * turns into minutes of nested loops.
 */
export async function analyzeIfGrown(
  client: pg.PoolClient,
  table: string,
  written: number,
): Promise<boolean> {
  if (written < 10_000) return false;
  const { rows } = await client.query<{ n: number }>(
    'select reltuples::float8 as n from pg_class where oid = $1::regclass',
    [table],
  );
  const known = rows[0]?.n ?? -1;
  if (known >= 0 && written < 0.2 * known) return false;
  await client.query(`analyze ${table}`);
  return true;
}

/**
 * Runs `load` on an empty `table` with its indexes (primary key and unique constraints included)
 * dropped, then builds them again: one sort per index instead of one index insertion per row, which
 * is most of the cost of writing a whole table (a full rebuild). A duplicate key fails when its
 * constraint is built, i.e. inside the caller's transaction as the insert would have. The table
 * must not be referenced by foreign keys; the caller holds it locked (it was truncated).
 */
export async function withIndexesRebuilt<T>(
  client: pg.PoolClient,
  table: string,
  load: () => Promise<T>,
): Promise<T> {
  const { rows } = await client.query<{ drop: string; create: string }>(
    `select case when c.oid is null then format('drop index %s', i.indexrelid::regclass)
         else format('alter table %s drop constraint %I', i.indrelid::regclass, c.conname) end as drop,
       case when c.oid is null then pg_get_indexdef(i.indexrelid)
         else format('alter table %s add constraint %I %s', i.indrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) end as create
     from pg_index i
     left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid and c.contype in ('p', 'u')
     where i.indrelid = $1::regclass`,
    [table],
  );
  for (const r of rows) await client.query(r.drop);
  const result = await load();
  for (const r of rows) await client.query(r.create);
  return result;
}

/** Primary-key columns of every gold table (a `unique` test on exactly them is enforced by Postgres). */
async function goldPrimaryKeys(client: pg.PoolClient): Promise<Map<string, string>> {
  const { rows } = await client.query<{ t: string; cols: string }>(
    `select c.conrelid::regclass::text as t, string_agg(a.attname, ',' order by a.attname) as cols
     from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
     where c.contype = 'p' and c.connamespace = 'gold'::regnamespace
     group by c.conrelid`,
  );
  return new Map(rows.map((r) => [r.t, r.cols]));
}

/**
 * The model's tests over its scoped rows; `whole`: over the whole table, which after a truncate
 * holds exactly the rows this run wrote (one scan instead of a look-up per scoped key).
 */
async function runTests(
  client: pg.PoolClient,
  model: Model,
  pks: Map<string, string>,
  whole: boolean,
): Promise<TestResult[]> {
  const source = whole ? `${model.table} g` : scopedRows(model, 'g');
  const results: TestResult[] = [];
  const rowTests = model.tests.filter(
    (t): t is Exclude<ModelTest, { kind: 'unique' }> => t.kind !== 'unique',
  );
  if (rowTests.length) {
    const sql = `select ${rowTests.map((t, i) => `count(*) filter (where ${testViolation(t)})::int as t${i}`).join(', ')}
      from ${source}`;
    const { rows } = await client.query<Record<string, number>>(sql);
    rowTests.forEach((t, i) => {
      results.push({ test: t.label, severity: t.severity, failures: rows[0]?.[`t${i}`] ?? 0 });
    });
  }
  for (const t of model.tests) {
    if (t.kind !== 'unique') continue;
    if (pks.get(model.table) === [...t.columns].sort().join(',')) {
      results.push({ test: t.label, severity: t.severity, failures: 0, enforcedBy: 'primary key' });
      continue;
    }
    const cols = t.columns.map((c) => `g.${c}`).join(', ');
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from ${source} group by ${cols} having count(*) > 1) y`,
    );
    results.push({ test: t.label, severity: t.severity, failures: rows[0]?.n ?? 0 });
  }
  return results;
}

/** What a model run's delete or insert touched: rows, their first and last date, their stock codes. */
interface Touched {
  n: number;
  lo: string | null;
  hi: string | null;
  codes: string[] | null;
}

const UNTOUCHED: Touched = { n: 0, lo: null, hi: null, codes: null };

/** Sums up the rows `(d, c)` (a row's date and code) of relation `t` as a `Touched`. */
const summarize = (t: string) =>
  `select count(*)::int as n, to_char(min(d), 'YYYY-MM-DD') as lo, to_char(max(d), 'YYYY-MM-DD') as hi,
     array_agg(distinct c) filter (where c is not null) as codes
   from ${t}`;

/** Runs `dml` (a delete or insert `returning d, c`) and sums up what it touched. */
async function touched(client: pg.PoolClient, dml: string): Promise<Touched> {
  const { rows } = await client.query<Touched>(`with t as (${dml}) ${summarize('t')}`);
  return rows[0] ?? UNTOUCHED;
}

/**
 * Writes `rowsSql` (the model's rows for its scope) as changes against `old` (the scoped rows
 * before, with their `_tid`): deletes the rows the model no longer yields, updates those whose
 * values changed, inserts new keys, and leaves equal rows alone. A day's second event (a
 * fundamentals file after the quotes) changes a column or two of rows that already exist, or none
 * (the month's high and low): rewriting them whole added an entry to every index for every row and
 * left a dead one behind; an update of columns no index reads is a HOT update on a table with room
 * on its pages (migration 009). One statement: its parts see the same snapshot and touch disjoint
 * rows. A key the model yields twice fails the run, as the primary key would on an insert.
 */
async function writeChanges(
  client: pg.PoolClient,
  model: Model,
  old: string,
  rowsSql: string,
  ret: string,
): Promise<{ deleted: Touched; written: Touched }> {
  const on = (a: string, b: string) => model.key.map((k) => `${a}.${k} = ${b}.${k}`).join(' and ');
  const values = model.columns.filter((c) => !model.key.includes(c));
  const row = (a: string) => `(${values.map((c) => `${a}.${c}`).join(', ')})`;
  const { rows } = await client.query<{ deleted: Touched; written: Touched; duplicates: number }>(
    `with n as materialized (${rowsSql}),
     del as (
       delete from ${model.table} g using ${old} o
       where g.ctid = o._tid and not exists (select 1 from n where ${on('n', 'o')})
       returning ${ret}),
     upd as (
       update ${model.table} g set ${values.map((c) => `${c} = n.${c}`).join(', ')}
       from ${old} o join n on ${on('n', 'o')}
       where g.ctid = o._tid and ${row('o')} is distinct from ${row('n')}
       returning ${ret}),
     ins as (
       insert into ${model.table} as g (${model.columns.join(', ')})
       select ${model.columns.map((c) => `n.${c}`).join(', ')} from n
       where not exists (select 1 from ${old} o where ${on('n', 'o')})
       returning ${ret}),
     w as (select * from upd union all select * from ins)
     select (select row_to_json(x) from (${summarize('del')}) x) as deleted,
       (select row_to_json(x) from (${summarize('w')}) x) as written,
       (select count(*)::int from n) - (select count(*)::int from (select distinct ${model.key.join(', ')} from n) k) as duplicates`,
  );
  const { deleted, written, duplicates } = rows[0]!;
  if (duplicates > 0) {
    throw new HarbourError(
      ErrorCodes.ModelFailed,
      `${duplicates} key(s) of (${model.key.join(', ')}) yielded more than once`,
    );
  }
  return { deleted, written };
}

export interface RunModelsOptions {
  batchId: string;
  trigger: 'event' | 'rebuild';
  models: Model[];
  /** Models to run; the others only derive their scope (default: all). */
  only?: ReadonlySet<string>;
  /** Full rebuild of the chosen models: empty their tables instead of a scoped delete. */
  truncate?: boolean;
  inputs: InputFile[];
  /**
   * With `truncate`: a DuckDB holding the silver tables the `rebuild: duckdb` models read (and
   * into which their rows go, for the models after them), mirrored with `mirrorTable`. Those
   * models are then computed there and COPYed in.
   */
  duck?: Duck;
  onModel?: (model: string, phase: 'start' | 'done', result?: ModelRunResult) => void;
}

/** Whether `runModels` computes `model` in its DuckDB. */
export const computedInDuck = (model: Model, opts: Pick<RunModelsOptions, 'duck' | 'truncate'>): boolean =>
  opts.duck !== undefined && opts.truncate === true && model.rebuildEngine === 'duckdb';

/**
 * Computes a model's rows (`rowsSql`, scoped by the Postgres scope tables it names, copied over) in
 * `duck` into its mirrored table there and COPYs them into its (empty) Postgres table.
 */
async function writeFromDuck(
  client: pg.PoolClient,
  duck: Duck,
  model: Model,
  rowsSql: string,
  ret: { d: string; c: string },
): Promise<Touched> {
  for (const table of new Set(rowsSql.match(/\b_scope_[a-z0-9_]+/g))) {
    const { rows } = await client.query(`select k, lo::text as lo, hi::text as hi from ${table}`);
    await duck.table(table, { k: 'varchar', lo: 'date', hi: 'date' }, rows);
  }
  await mirrorTable(client, duck, model.table);
  const cols = model.columns.join(', ');
  await duck.run(`insert into ${model.table} (${cols}) ${rowsSql}`);
  await copyFromDuck(client, duck, `select ${cols} from ${model.table}`, model.table, model.columns);
  const [r] = await duck.rows(
    `select count(*)::int as n, strftime(min(d), '%Y-%m-%d') as lo, strftime(max(d), '%Y-%m-%d') as hi,
       list(distinct c) filter (where c is not null) as codes
     from (select ${ret.d}, ${ret.c} from ${model.table} g)`,
  );
  return {
    n: Number(r?.['n'] ?? 0),
    lo: (r?.['lo'] as string | null) ?? null,
    hi: (r?.['hi'] as string | null) ?? null,
    codes: (r?.['codes'] as string[] | null) ?? null,
  };
}

/**
 * Runs the models in dependency order inside the caller's transaction (silver scope tables must
 * exist, see `createSilverScopes`). Each model: derive its scope from its dependencies' scopes,
 * delete its scoped rows, insert the model's rows for that scope, run its tests, record the run.
 * Throws `ModelTestFailure` (test) or `ModelRunError` (SQL): the caller rolls back.
 */
export async function runModels(client: pg.PoolClient, opts: RunModelsOptions): Promise<ModelRunResult[]> {
  const results: ModelRunResult[] = [];
  const narrowed = new Set<string>();
  const pks = await goldPrimaryKeys(client);
  for (const ds of DATASETS) {
    await client.query(`analyze ${scopeTable(silverScopeName(ds))}`);
  }
  // DuckDB models (CCASS) run in ccass-lake.ts, before these, on the same batch.
  for (const model of opts.models.filter((m) => m.engine === 'postgres')) {
    const scope = scopeTable(model.name);
    const runId = runIdOf(opts.batchId, model.name);
    const startedAt = new Date();
    const t0 = performance.now();
    try {
      await client.query(`drop table if exists ${scope}`);
      await client.query(
        `create temp table ${scope} on commit drop as
         select k::text as k, min(lo)::date as lo, max(hi)::date as hi
         from (${substitute(model.scopeSql, model, narrowed)}) x (k, lo, hi)
         where k is not null group by k`,
      );
      const { rows: sc } = await client.query<{ n: number }>(`select count(*)::int as n from ${scope}`);
      const scopeKeys = sc[0]?.n ?? 0;
      if (scopeKeys === 0 || (opts.only && !opts.only.has(model.name))) continue;
      await client.query(`analyze ${scope}`);
      opts.onModel?.(model.name, 'start');

      const dateCol = model.scopeDate;
      const codeCol = model.columns.includes('code') ? 'code' : null;
      const ret = {
        d: dateCol ? `g.${dateCol} as d` : 'null::date as d',
        c: codeCol ? `g.${codeCol} as c` : 'null::text as c',
      };
      const cols = model.columns.join(', ');
      const rowsSql = `select ${model.columns.map((c) => `m.${c}`).join(', ')}
        from (${substitute(model.modelSql, model, narrowed)}) m
        ${scopeJoin(model, 'm')}`;
      // The scoped rows before the write (with their ctid): what the write compares with, and what
      // later models that read only some columns compare with too.
      const watchers = opts.truncate ? [] : opts.models.filter((m) => m.reads[model.name]);
      const old = scopeTable(`${model.name}__before`);
      let deleted: Touched;
      let written: Touched;
      if (opts.truncate) {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${model.table}`);
        await client.query(`truncate ${model.table}`);
        deleted = { ...UNTOUCHED, n: rows[0]?.n ?? 0 };
        // A truncated table is written whole: its indexes are cheaper built afterwards.
        const duck = computedInDuck(model, opts) ? opts.duck : undefined;
        written = await withIndexesRebuilt(client, model.table, () =>
          duck
            ? writeFromDuck(client, duck, model, rowsSql, ret)
            : touched(
                client,
                `insert into ${model.table} as g (${cols}) ${rowsSql} returning ${ret.d}, ${ret.c}`,
              ),
        );
      } else {
        await client.query(`drop table if exists ${old}`);
        await client.query(
          `create temp table ${old} on commit drop as select g.* from ${scopedRows(model, 'g', 'g.ctid as _tid, g.*')}`,
        );
        ({ deleted, written } = await writeChanges(client, model, old, rowsSql, `${ret.d}, ${ret.c}`));
      }
      if (watchers.length) await narrowChanges(client, model, old, watchers, narrowed);
      // Later models read this table: after a bulk rewrite, give the planner its real size.
      const readLater = opts.models.some(
        (m) => m.depends.includes(model.name) && (!opts.only || opts.only.has(m.name)),
      );
      if (readLater) {
        if (opts.truncate) await client.query(`analyze ${model.table}`);
        else await analyzeIfGrown(client, model.table, written.n + deleted.n);
      }
      const tests = await runTests(client, model, pks, opts.truncate === true);
      const codes = [...new Set([...(written.codes ?? []), ...(deleted.codes ?? [])])].sort();
      const dates = [written.lo, written.hi, deleted.lo, deleted.hi]
        .filter((d): d is string => d !== null)
        .sort();
      const inputDates = opts.inputs.map((f) => f.partition_date).sort();
      const result: ModelRunResult = {
        runId,
        model: model.name,
        rowsWritten: written.n,
        rowsDeleted: deleted.n,
        scopeKeys,
        codes,
        from: dates[0] ?? inputDates[0] ?? null,
        to: dates.at(-1) ?? inputDates.at(-1) ?? null,
        startedAt,
        durationMs: performance.now() - t0,
        tests,
        publish: written.n + deleted.n > 0,
      };
      const failed = tests.filter((t) => t.severity === 'error' && t.failures > 0);
      if (failed.length) throw new ModelTestFailure(result, failed);
      await recordRun(client, opts, result, 'succeeded', null);
      results.push(result);
      opts.onModel?.(model.name, 'done', result);
    } catch (err) {
      if (err instanceof ModelTestFailure) throw err;
      throw new ModelRunError(model.name, runId, startedAt, err);
    }
  }
  return results;
}

/** Inserts a run and its inputs (the caller's transaction, or its own after a rollback). */
export async function recordRun(
  client: pg.PoolClient | pg.Pool,
  opts: { batchId: string; trigger: 'event' | 'rebuild'; inputs: InputFile[] },
  r: ModelRunResult,
  status: 'succeeded' | 'failed',
  error: string | null,
): Promise<void> {
  await client.query(
    `insert into transform_runs (run_id, batch_id, trigger, model, status, started_at, finished_at, duration_ms,
       rows_written, rows_deleted, scope_keys, codes, date_from, date_to, tests, error, publish)
     values ($1, $2, $3, $4, $5, $6, now(), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     on conflict (run_id) do update set status = excluded.status, finished_at = excluded.finished_at,
       tests = excluded.tests, error = excluded.error, publish = excluded.publish`,
    [
      r.runId,
      opts.batchId,
      opts.trigger,
      r.model,
      status,
      r.startedAt,
      r.durationMs,
      r.rowsWritten,
      r.rowsDeleted,
      r.scopeKeys,
      r.codes,
      r.from,
      r.to,
      JSON.stringify(r.tests),
      error,
      status === 'succeeded' && r.publish,
    ],
  );
  if (opts.inputs.length) {
    await client.query(
      `insert into transform_run_inputs (run_id, file_key, dataset, partition_date, first_seq, last_seq, rows)
       select $1, f.file_key, f.dataset, f.partition_date::date, f.first_seq, f.last_seq, f.rows
       from jsonb_to_recordset($2::jsonb) as f(file_key text, dataset text, partition_date text, first_seq bigint, last_seq bigint, rows bigint)
       on conflict do nothing`,
      [r.runId, JSON.stringify(opts.inputs)],
    );
  }
}
