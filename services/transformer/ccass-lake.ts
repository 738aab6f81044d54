import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { type CatalogFile, listFiles } from '../catalog/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import { type Duck, parquetFiles, sqlString } from './duck.ts';
import { inputOf } from './lake.ts';
import type { Model, ModelTest } from './models.ts';
import {
  emptyRun,
  type InputFile,
  ModelRunError,
  type ModelRunResult,
  ModelTestFailure,
  recordRun,
  runIdOf,
  type TestResult,
  testViolation,
} from './runner.ts';
import { clearServedCcassChanges, dropServedSets, participantIds } from './served-ccass.ts';
import { scopeTable, silverScopeName } from './silver.ts';

/**
 * CCASS in the lake: silver and gold computed by DuckDB over Parquet, one holding date at a time.
 *
 * - **Silver** `silver/ccass/date=D/part-<batch>.parquet`: every active bronze file of partition D
 *   (the catalog's), one set per stock: the rows of its latest fetch (by `_fetched_at`, `_run_id`,
 *   base `_key`: a total order on the fetch, so parts of one page merge and an older fetch arriving
 *   late loses), each (row_type, participant_key) once (latest `_seq`). Rebuilt whole from the
 *   bronze files each time the partition gains a file, so arrival order and duplicates do not matter.
 *   Postgres keeps an index of it: `silver.ccass_sets` (one row per set: its fetch, participant rows,
 *   participants its page promised) and `silver.ccass_set_files` (lake files and RAW sequences behind
 *   each set: lineage).
 * - **Gold** `gold/<model>/date=X/part-<batch>.parquet` for the `engine: duckdb` models, recomputed
 *   for every stock of X when X's silver changed and for the next holding date of each stock whose
 *   set changed (its comparison base). Their tests run in DuckDB before anything is uploaded or
 *   served; a failure throws and the caller's transaction publishes nothing.
 * - **Served** into Postgres in the caller's transaction: gold.ccass_concentration rows, and
 *   gold.ccass_changes in its compact shape (served-ccass.ts).
 *
 * The derived files in force are rows of `lakehouse_files`, replaced by the caller's commit; an
 * object is registered as pending garbage before its upload (a crash before the commit leaves it
 * to the sweep) and the file it replaces becomes garbage in the same commit (`sweepLakehouseGarbage`).
 */
export interface CcassLake {
  pool: pg.Pool;
  store: ObjectStore;
  duck: Duck;
  signal?: AbortSignal;
}

export interface CcassRefresh {
  silverRows: number;
  /** The partition's files the silver was built from (`acceptedFiles`). */
  files: CatalogFile[];
  /** Stocks whose set changed (fetch or values); the dq models' scope. */
  changedCodes: string[];
  runs: ModelRunResult[];
}

interface DerivedFile {
  fileKey: string;
  checksum: string;
}

/** What decides that a stock's set changed: its values and the fetch they come from (not where they are stored). */
const SILVER_VALUES = [
  'code',
  'row_type',
  'participant_key',
  'participant_id',
  'participant_name',
  'address',
  'shareholding',
  'pct_issued',
  'participants',
  '_fetched_at',
  '_run_id',
  'fetch_key',
];
const SILVER_LINEAGE = ['_seq', '_file_key'];

const derivedKey = (layer: 'silver' | 'gold', name: string, date: string, batchId: string) =>
  `${layer}/${name}/date=${date}/part-${batchId}.parquet`;

async function derivedFile(
  db: pg.Pool | pg.PoolClient,
  layer: 'silver' | 'gold',
  name: string,
  date: string,
): Promise<DerivedFile | null> {
  const { rows } = await db.query<DerivedFile>(
    `select file_key as "fileKey", checksum from lakehouse_files where layer = $1 and name = $2 and partition_date = $3`,
    [layer, name, date],
  );
  return rows[0] ?? null;
}

/**
 * Writes `select` to Parquet with DuckDB, uploads it as the layer's file for (name, date) and
 * records it in the caller's transaction (the file it replaces becomes garbage at the commit).
 */
async function publishDerived(
  client: pg.PoolClient,
  lake: CcassLake,
  file: { layer: 'silver' | 'gold'; name: string; date: string; batchId: string; select: string },
): Promise<number> {
  const out = lake.duck.scratch(`${file.name}-${file.date}.parquet`);
  await lake.duck.run(
    `copy (${file.select}) to ${sqlString(out)} (format parquet, compression zstd, row_group_size 122880)`,
  );
  const bytes = await readFile(out);
  const [{ n } = { n: 0 }] = await lake.duck.rows(
    `select num_rows::double as n from parquet_file_metadata(${sqlString(out)})`,
  );
  await lake.duck.forget([out]);
  const key = derivedKey(file.layer, file.name, file.date, file.batchId);
  await lake.pool.query(
    `insert into lakehouse_garbage (file_key, reason) values ($1, 'pending') on conflict (file_key) do nothing`,
    [key],
  );
  await lake.store.put(key, bytes, lake.signal ? { signal: lake.signal } : {});
  const old = await derivedFile(client, file.layer, file.name, file.date);
  await client.query(
    `insert into lakehouse_files (layer, name, partition_date, file_key, rows, bytes, checksum, batch_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (layer, name, partition_date) do update set file_key = excluded.file_key, rows = excluded.rows,
       bytes = excluded.bytes, checksum = excluded.checksum, batch_id = excluded.batch_id, built_at = clock_timestamp()`,
    [
      file.layer,
      file.name,
      file.date,
      key,
      Number(n),
      bytes.length,
      createHash('sha256').update(bytes).digest('hex'),
      file.batchId,
    ],
  );
  await client.query('delete from lakehouse_garbage where file_key = $1', [key]);
  if (old && old.fileKey !== key)
    await client.query(
      `insert into lakehouse_garbage (file_key, reason) values ($1, 'replaced')
       on conflict (file_key) do update set reason = 'replaced', since = now()`,
      [old.fileKey],
    );
  return Number(n);
}

/** Deletes garbage objects (replaced ones at once, pending ones after an hour) and their rows. */
export async function sweepLakehouseGarbage(pool: pg.Pool, store: ObjectStore): Promise<number> {
  const { rows } = await pool.query<{ file_key: string }>(
    `select file_key from lakehouse_garbage
     where reason = 'replaced' or since < now() - interval '1 hour' order by since limit 1000`,
  );
  await deleteGarbage(pool, store, rows);
  return rows.length;
}

async function deleteGarbage(pool: pg.Pool, store: ObjectStore, rows: { file_key: string }[]): Promise<void> {
  for (const r of rows) {
    await store.delete(r.file_key);
    await pool.query('delete from lakehouse_garbage where file_key = $1', [r.file_key]);
  }
}

/**
 * After a rollback: deletes what the batch uploaded (its pending garbage) at once, instead of
 * leaving it for the hour-old sweep that exists for crashes.
 */
export async function discardBatchUploads(pool: pg.Pool, store: ObjectStore, batchId: string): Promise<void> {
  const { rows } = await pool.query<{ file_key: string }>(
    `select file_key from lakehouse_garbage where reason = 'pending' and file_key like $1`,
    [`%/part-${batchId}.parquet`],
  );
  await deleteGarbage(pool, store, rows);
}

/** DuckDB table `name` = the silver rows of `date` (its file in force), or nothing. */
async function loadSilver(
  client: pg.PoolClient,
  lake: CcassLake,
  name: string,
  date: string,
): Promise<boolean> {
  const f = await derivedFile(client, 'silver', 'ccass', date);
  if (!f) {
    await lake.duck.run(`create or replace temp table ${name} as select * from s_new where false`);
    return false;
  }
  const path = await lake.duck.local(lake.store, f.fileKey, f.checksum, lake.signal);
  await lake.duck.run(`create or replace temp table ${name} as select * from ${parquetFiles([path])}`);
  return true;
}

/**
 * The partition's files silver is built from: in a rebuild (`own` null) every active file; for an
 * event, the active files already accepted (loaded by their own events, or merged from files that
 * all were) plus the event's own file. A file whose event failed — unreadable, or rows failing a
 * model test — thus never holds its partition back: only its own event retries and dead-letters.
 */
async function acceptedFiles(
  client: pg.PoolClient,
  date: string,
  own: string | null,
): Promise<CatalogFile[]> {
  const all = await listFiles(client, { dataset: 'ccass', partitionDate: date, status: 'all' });
  const active = all.filter((f) => f.status === 'active');
  if (own === null) return active;
  const { rows } = await client.query<{ file_key: string }>(
    `select file_key from transform_files where outcome = 'loaded' and file_key = any($1)`,
    [all.map((f) => f.fileKey)],
  );
  const loaded = new Set(rows.map((r) => r.file_key));
  const mergedFromLoaded = (f: CatalogFile) => {
    const inputs = all.filter((o) => o.replacedBy?.split(',').includes(f.fileKey));
    return inputs.length > 0 && inputs.every((o) => loaded.has(o.fileKey));
  };
  return active.filter((f) => f.fileKey === own || loaded.has(f.fileKey) || mergedFromLoaded(f));
}

/** Builds `s_new`: the silver rows of `date` from its accepted bronze files (`acceptedFiles`). */
async function buildSilver(
  client: pg.PoolClient,
  lake: CcassLake,
  date: string,
  own: string | null,
): Promise<{ rows: number; files: CatalogFile[] }> {
  const files = await acceptedFiles(client, date, own);
  // Callers hold the lock and saw an active file of the partition: none is a broken catalog.
  if (!files.length)
    throw new HarbourError(ErrorCodes.LakeFile, `CCASS partition ${date} has no active lake file`, {
      detail: { partitionDate: date },
    });
  const paths: string[] = [];
  for (const f of files) paths.push(await lake.duck.local(lake.store, f.fileKey, f.checksum, lake.signal));
  const prefix = `${lake.duck.lakeRoot}/`;
  const source = parquetFiles(paths, { filename: true });
  await lake.duck.run(`
    create or replace temp table s_new as
    with raw as (
      select r.code, r.holding_date, r.row_type,
        case when r.row_type = 'participant' then coalesce(r.participant_id, r.participant_name, '') else '' end as participant_key,
        r.participant_id, r.participant_name, r.address, r.shareholding, r.pct_issued, r.participants,
        r._seq, substr(r.filename, ${prefix.length + 1}) as _file_key, r._fetched_at, r._run_id,
        regexp_replace(r._key, '#[0-9]+/[0-9]+$', '') as fetch_key
      from ${source} r
      where r.holding_date = date ${sqlString(date)}
    ),
    win as (
      -- the latest fetch of each stock (a struct compares field by field; no column is null)
      select code, max({'at': _fetched_at, 'run': _run_id, 'key': fetch_key}) as f from raw group by code
    )
    select raw.code, raw.holding_date, raw.row_type, raw.participant_key, raw.participant_id, raw.participant_name,
      raw.address, raw.shareholding, raw.pct_issued, raw.participants, raw._seq, raw._file_key, raw._fetched_at,
      raw._run_id, raw.fetch_key
    from raw join win on raw.code = win.code and raw._fetched_at = win.f.at
      and raw._run_id = win.f.run and raw.fetch_key = win.f.key
    qualify row_number() over (
      partition by raw.code, raw.row_type, raw.participant_key order by raw._seq desc, raw.shareholding desc) = 1
    order by raw.code, raw.row_type, raw.participant_key`);
  const [{ n } = { n: 0 }] = await lake.duck.rows('select count(*)::double as n from s_new');
  return { rows: Number(n), files };
}

/**
 * Stocks whose set differs between `s_old` and `s_new` (values or fetch), and whether lineage moved.
 * Compared per stock by an order-independent digest of its rows (xor of 64-bit row hashes; rows are
 * unique per stock), one pass over each side.
 */
async function diffSilver(duck: Duck): Promise<{ codes: string[]; moved: boolean }> {
  const digest = (t: string) => `select code, count(*) as n, bit_xor(hash(${SILVER_VALUES.join(', ')})) as hv,
      bit_xor(hash(${[...SILVER_VALUES, ...SILVER_LINEAGE].join(', ')})) as hl
    from ${t} group by code`;
  const rows = await duck.rows(`
    select coalesce(a.code, b.code) as code,
      (a.n is distinct from b.n or a.hv is distinct from b.hv) as changed
    from (${digest('s_new')}) a full join (${digest('s_old')}) b on a.code = b.code
    where a.n is distinct from b.n or a.hv is distinct from b.hv or a.hl is distinct from b.hl
    order by 1`);
  return {
    codes: rows.filter((r) => r['changed'] === true).map((r) => String(r['code'])),
    moved: rows.length > 0,
  };
}

/** Replaces the Postgres index of the date's silver sets (sets and their lake files) from `s_new`. */
async function indexSilverSets(client: pg.PoolClient, duck: Duck, date: string): Promise<void> {
  const sets = await duck.rows(`
    select code, max(_fetched_at) as fetched_at, max(_run_id) as run_id, max(fetch_key) as fetch_key,
      arg_max(_file_key, _seq) as file_key,
      (count(*) filter (where row_type = 'participant'))::double as participant_rows,
      coalesce(sum(participants) filter (where row_type in ('intermediaries', 'consenting')), 0)::double as promised
    from s_new group by code`);
  const files = await duck.rows(`
    select code, _file_key as file_key, min(_seq)::double as first_seq, max(_seq)::double as last_seq,
      count(*)::double as rows
    from s_new group by code, _file_key`);
  await client.query('delete from silver.ccass_sets where holding_date = $1', [date]);
  await client.query('delete from silver.ccass_set_files where holding_date = $1', [date]);
  await client.query(
    `insert into silver.ccass_sets (code, holding_date, fetched_at, run_id, fetch_key, _file_key, participant_rows, promised)
     select code, $2::date, fetched_at, run_id, fetch_key, file_key, participant_rows, promised
     from jsonb_to_recordset($1::jsonb) as x(code text, fetched_at timestamptz, run_id text, fetch_key text,
       file_key text, participant_rows integer, promised integer)`,
    [JSON.stringify(sets), date],
  );
  await client.query(
    `insert into silver.ccass_set_files (code, holding_date, file_key, first_seq, last_seq, rows)
     select code, $2::date, file_key, first_seq, last_seq, rows
     from jsonb_to_recordset($1::jsonb) as x(code text, file_key text, first_seq bigint, last_seq bigint, rows bigint)`,
    [JSON.stringify(files), date],
  );
}

/** COPYs the rows of a DuckDB query into a Postgres table (CSV: DuckDB writes NULL empty and '' quoted). */
export async function copyFromDuck(
  client: pg.PoolClient,
  duck: Duck,
  select: string,
  target: string,
  columns: readonly string[],
): Promise<number> {
  const csv = duck.scratch('copy.csv');
  await duck.run(`copy (${select}) to ${sqlString(csv)} (format csv, header false)`);
  try {
    const sink = client.query(
      copyFrom(`copy ${target} (${columns.join(', ')}) from stdin with (format csv)`),
    );
    await pipeline(createReadStream(csv), sink);
    return sink.rowCount;
  } finally {
    await duck.forget([csv]);
  }
}

async function runDuckTests(duck: Duck, model: Model, table: string): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const rowTests = model.tests.filter(
    (t): t is Exclude<ModelTest, { kind: 'unique' }> => t.kind !== 'unique',
  );
  if (rowTests.length) {
    const [row = {}] = await duck.rows(
      `select ${rowTests.map((t, i) => `(count(*) filter (where ${testViolation(t)}))::double as t${i}`).join(', ')} from ${table} g`,
    );
    rowTests.forEach((t, i) => {
      results.push({ test: t.label, severity: t.severity, failures: Number(row[`t${i}`] ?? 0) });
    });
  }
  for (const t of model.tests) {
    if (t.kind !== 'unique') continue;
    const [row] = await duck.rows(
      `select count(*)::double as n from (select 1 from ${table} g group by ${t.columns.map((c) => `g.${c}`).join(', ')} having count(*) > 1)`,
    );
    results.push({ test: t.label, severity: t.severity, failures: Number(row?.['n'] ?? 0) });
  }
  return results;
}

/** Loads `cur`, `sets` and `prev` for holding date X (X's silver is `s_new` when X is the refreshed date). */
async function loadDate(
  client: pg.PoolClient,
  lake: CcassLake,
  x: string,
  refreshed: string | null,
): Promise<string[]> {
  const { duck } = lake;
  if (x === refreshed) await duck.run('create or replace temp table cur as select * from s_new');
  else await loadSilver(client, lake, 'cur', x);
  const { rows: sets } = await client.query<{ code: string; prev: string | null }>(
    `select x.code, to_char((select max(p.holding_date) from silver.ccass_sets p
        where p.code = x.code and p.holding_date < x.holding_date), 'YYYY-MM-DD') as prev
     from silver.ccass_sets x where x.holding_date = $1 order by x.code`,
    [x],
  );
  await duck.table(
    'sets',
    { code: 'varchar', holding_date: 'date', prev_holding_date: 'date' },
    sets.map((s) => ({ code: s.code, holding_date: x, prev_holding_date: s.prev })),
  );
  const prevDates = [...new Set(sets.map((s) => s.prev).filter((d): d is string => d !== null))].sort();
  const sources: string[] = [];
  for (const d of prevDates) {
    if (d === refreshed) {
      sources.push('select * from s_new');
      continue;
    }
    const f = await derivedFile(client, 'silver', 'ccass', d);
    if (f)
      sources.push(
        `select * from ${parquetFiles([await duck.local(lake.store, f.fileKey, f.checksum, lake.signal)])}`,
      );
  }
  await duck.run(
    `create or replace temp table prev as select p.* from (${sources.length ? sources.join(' union all ') : 'select * from s_new where false'}) p
     join sets s on s.code = p.code and s.prev_holding_date = p.holding_date`,
  );
  return sets.map((s) => s.code);
}

/**
 * Serves ccass_changes of date X: the participants it names get their dimension ids, DuckDB folds
 * each stock's rows into the per-set arrays (Postgres array literals, ordered by participant_key;
 * NULL = absent now / before) and they are COPYed in place of the date's sets.
 */
async function serveChanges(
  client: pg.PoolClient,
  duck: Duck,
  table: string,
  x: string,
): Promise<{ deleted: number; written: number }> {
  const triples = await duck.rows(
    `select distinct participant_key, participant_id, participant_name from ${table}`,
  );
  const ids = await participantIds(client, triples);
  await duck.table(
    'dim',
    { id: 'integer', participant_key: 'varchar', participant_id: 'varchar', participant_name: 'varchar' },
    ids,
  );
  // One list per set in participant order (one sort), written as Postgres array literals.
  const arr = (field: string) =>
    `'{' || array_to_string(list_transform(l, p -> coalesce(p.${field}::varchar, 'NULL')), ',') || '}'`;
  const deleted = await dropServedSets(client, [x]);
  await copyFromDuck(
    client,
    duck,
    `select code, holding_date, prev_holding_date, issued_shares, ${arr('id')}, ${arr('now')}, ${arr('before')}
     from (
       select g.code, g.holding_date, max(g.prev_holding_date) as prev_holding_date,
         max(i.shareholding) as issued_shares,
         list({'id': d.id,
               'now': case when g.kind <> 'exited' then g.shareholding end,
               'before': case when g.kind <> 'new' then g.prev_shareholding end} order by g.participant_key) as l
       from ${table} g
       join dim d on d.participant_key = g.participant_key and d.participant_name = g.participant_name
         and coalesce(d.participant_id, '') = coalesce(g.participant_id, '')
       left join cur i on i.code = g.code and i.row_type = 'issued_shares' and i.participant_key = ''
       group by g.code, g.holding_date)`,
    'gold.ccass_change_sets',
    [
      'code',
      'holding_date',
      'prev_holding_date',
      'issued_shares',
      'participant',
      'shareholding',
      'prev_shareholding',
    ],
  );
  const [{ n } = { n: 0 }] = await duck.rows(`select count(*)::double as n from ${table}`);
  return { deleted, written: Number(n) };
}

/** Serves one model's rows of date X into Postgres; returns rows deleted and written. */
async function serveModel(
  client: pg.PoolClient,
  duck: Duck,
  model: Model,
  table: string,
  x: string,
): Promise<{ deleted: number; written: number }> {
  if (model.name === 'ccass_changes') return serveChanges(client, duck, table, x);
  const del = await client.query(`delete from ${model.table} where ${model.scopeDate} = $1`, [x]);
  const written = await copyFromDuck(
    client,
    duck,
    `select ${model.columns.join(', ')} from ${table}`,
    model.table,
    model.columns,
  );
  return { deleted: del.rowCount ?? 0, written };
}

interface RunAcc {
  result: ModelRunResult;
  t0: number;
}

/**
 * Recomputes the DuckDB models for holding date X (every stock of it), tests them, writes their
 * gold Parquet and serves them. Results accumulate into `acc` (one run per model per batch).
 */
async function refreshGoldDate(
  client: pg.PoolClient,
  lake: CcassLake,
  models: Model[],
  x: string,
  refreshed: string | null,
  batchId: string,
  acc: Map<string, RunAcc>,
): Promise<void> {
  const codes = await loadDate(client, lake, x, refreshed);
  for (const model of models) {
    const run = acc.get(model.name)!;
    const table = `g_${model.name}`;
    try {
      await lake.duck.run(`create or replace temp table ${table} as ${model.modelSql}`);
      const tests = await runDuckTests(lake.duck, model, table);
      const r = run.result;
      r.tests = mergeTests(r.tests, tests);
      r.scopeKeys += codes.length;
      r.codes = [...new Set([...r.codes, ...codes])].sort();
      r.from = r.from && r.from < x ? r.from : x;
      r.to = r.to && r.to > x ? r.to : x;
      const failed = tests.filter((t) => t.severity === 'error' && t.failures > 0);
      if (failed.length) {
        r.durationMs = performance.now() - run.t0;
        throw new ModelTestFailure(r, failed);
      }
      await publishDerived(client, lake, {
        layer: 'gold',
        name: model.name,
        date: x,
        batchId,
        select: `select ${model.columns.join(', ')} from ${table} order by ${model.key.join(', ')}`,
      });
      const served = await serveModel(client, lake.duck, model, table, x);
      r.rowsDeleted += served.deleted;
      r.rowsWritten += served.written;
      r.publish = r.rowsWritten + r.rowsDeleted > 0;
    } catch (err) {
      if (err instanceof ModelTestFailure) throw err;
      throw new ModelRunError(model.name, run.result.runId, run.result.startedAt, err);
    }
  }
}

function mergeTests(a: TestResult[], b: TestResult[]): TestResult[] {
  if (!a.length) return b;
  return a.map((t, i) => ({ ...t, failures: t.failures + (b[i]?.failures ?? 0) }));
}

type BatchOptions = { batchId: string; trigger: 'event' | 'rebuild'; inputs: InputFile[]; models: Model[] };

/** Recomputes the DuckDB models for each date (ascending) and records one run per model. */
async function runGold(
  client: pg.PoolClient,
  lake: CcassLake,
  dates: readonly string[],
  refreshed: string | null,
  opts: BatchOptions,
): Promise<ModelRunResult[]> {
  const models = opts.models.filter((m) => m.engine === 'duckdb');
  const acc = new Map<string, RunAcc>();
  for (const m of models) {
    acc.set(m.name, {
      t0: performance.now(),
      result: emptyRun(runIdOf(opts.batchId, m.name), m.name, new Date()),
    });
  }
  for (const x of dates) await refreshGoldDate(client, lake, models, x, refreshed, opts.batchId, acc);
  const runs: ModelRunResult[] = [];
  for (const { result, t0 } of acc.values()) {
    result.durationMs = performance.now() - t0;
    await recordRun(client, opts, result, 'succeeded', null);
    runs.push(result);
  }
  return runs;
}

/**
 * Refreshes CCASS holding date `date` inside the caller's transaction (which holds the transformer
 * lock): rebuilds its silver from the lake, and when a set changed, the DuckDB models' gold for it
 * and for the next holding date of each changed stock; fills the silver.ccass scope table for the
 * Postgres models (createSilverScopes must have run) and records the runs.
 */
export async function refreshCcassDate(
  client: pg.PoolClient,
  lake: CcassLake,
  opts: Omit<BatchOptions, 'inputs'> & {
    date: string;
    /** The event's file; null in a rebuild. */
    own: string | null;
  },
): Promise<CcassRefresh> {
  const { duck } = lake;
  const { date, batchId } = opts;
  const { rows: silverRows, files } = await buildSilver(client, lake, date, opts.own);
  // The runs' lineage: the files the silver was built from.
  const batch: BatchOptions = { ...opts, inputs: files.map(inputOf) };
  const hadOld = await loadSilver(client, lake, 's_old', date);
  const diff = await diffSilver(duck);
  if (hadOld && !diff.moved) return { silverRows, files, changedCodes: [], runs: [] };
  await publishDerived(client, lake, {
    layer: 'silver',
    name: 'ccass',
    date,
    batchId,
    select: 'select * from s_new',
  });
  await indexSilverSets(client, duck, date);
  if (!diff.codes.length) return { silverRows, files, changedCodes: [], runs: [] };

  await client.query(
    `insert into ${scopeTable(silverScopeName('ccass'))} (k, lo, hi) select unnest($1::text[]), $2::date, $2::date`,
    [diff.codes, date],
  );
  const { rows: next } = await client.query<{ d: string }>(
    `select distinct to_char(n.d, 'YYYY-MM-DD') as d from unnest($1::text[]) c(code)
     cross join lateral (select min(x.holding_date) as d from silver.ccass_sets x
       where x.code = c.code and x.holding_date > $2::date) n
     where n.d is not null order by 1`,
    [diff.codes, date],
  );
  const runs = await runGold(client, lake, [date, ...next.map((r) => r.d)], date, batch);
  return { silverRows, files, changedCodes: diff.codes, runs };
}

/** Holding dates with CCASS silver (from `from`), ascending. */
export async function ccassSilverDates(client: pg.PoolClient, from: string | null): Promise<string[]> {
  const { rows } = await client.query<{ d: string }>(
    `select to_char(partition_date, 'YYYY-MM-DD') as d from lakehouse_files
     where layer = 'silver' and name = 'ccass' and ($1::date is null or partition_date >= $1::date) order by 1`,
    [from],
  );
  return rows.map((r) => r.d);
}

/** Rebuild of the DuckDB models alone: their gold for every silver date (from `from`), silver untouched. */
export async function rebuildCcassGold(
  client: pg.PoolClient,
  lake: CcassLake,
  from: string | null,
  opts: BatchOptions,
): Promise<ModelRunResult[]> {
  const dates = await ccassSilverDates(client, from);
  if (!dates.length) return [];
  return runGold(client, lake, dates, null, opts);
}

/**
 * Forgets CCASS silver and the DuckDB models' gold from `from` (all when null), in the caller's
 * transaction: the index rows, the served rows, the derived files in force (garbage at the commit).
 * A rebuild then refreshes every partition again in date order.
 */
export async function clearCcass(client: pg.PoolClient, from: string | null, models: Model[]): Promise<void> {
  const cond = (col: string) => `($1::date is null or ${col} >= $1::date)`;
  await client.query(`delete from silver.ccass_sets where ${cond('holding_date')}`, [from]);
  await client.query(`delete from silver.ccass_set_files where ${cond('holding_date')}`, [from]);
  for (const m of models.filter((x) => x.engine === 'duckdb')) {
    if (m.name === 'ccass_changes') await clearServedCcassChanges(client, from);
    else await client.query(`delete from ${m.table} where ${cond(m.scopeDate ?? 'holding_date')}`, [from]);
  }
  await client.query(
    `with gone as (
       delete from lakehouse_files where (layer = 'silver' and name = 'ccass' or layer = 'gold' and name = any($2))
         and ${cond('partition_date')} returning file_key)
     insert into lakehouse_garbage (file_key, reason) select file_key, 'replaced' from gone
     on conflict (file_key) do update set reason = 'replaced', since = now()`,
    [from, models.filter((x) => x.engine === 'duckdb').map((m) => m.name)],
  );
}
