import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { type CatalogFile, listFiles } from '../catalog/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import { copyFromDuck, type Duck, OBJECTS_AT_ONCE, parquetFiles, sqlString } from './duck.ts';
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
import { SERVED_CCASS_CHANGES, serveCcassChangeSets } from './served-ccass.ts';
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

/** The files in force of (layer, name) for `dates`, in date order. */
async function derivedFiles(
  db: pg.Pool | pg.PoolClient,
  layer: 'silver' | 'gold',
  name: string,
  dates: readonly string[],
): Promise<(DerivedFile & { date: string })[]> {
  const { rows } = await db.query<DerivedFile & { date: string }>(
    `select file_key as "fileKey", checksum, to_char(partition_date, 'YYYY-MM-DD') as date from lakehouse_files
     where layer = $1 and name = $2 and partition_date = any($3::date[]) order by partition_date`,
    [layer, name, dates],
  );
  return rows;
}

/** A DuckDB `in (…)` list of dates. */
export const dateList = (dates: readonly string[]) =>
  `(${dates.map((d) => `date ${sqlString(d)}`).join(', ')})`;

/** Local copies of the silver files in force for `dates`, and the dates that have one. */
async function silverCopies(
  client: pg.PoolClient,
  lake: CcassLake,
  dates: readonly string[],
  hold = false,
): Promise<{ paths: string[]; dates: Set<string> }> {
  const files = await derivedFiles(client, 'silver', 'ccass', dates);
  const paths: string[] = [];
  for (const f of files)
    paths.push(await lake.duck.local(lake.store, f.fileKey, f.checksum, { signal: lake.signal, hold }));
  return { paths, dates: new Set(files.map((f) => f.date)) };
}

/** Uploads at once while publishing derived files (each an fsynced write on the fs store). */
const UPLOADS_AT_ONCE = 4;

/** A derived file written and uploaded, not yet recorded. */
export interface DerivedUpload {
  date: string;
  /** Its local copy (under the `dir` of `writeDerived`). */
  path: string;
  key: string;
  rows: number;
  bytes: number;
  checksum: string;
}

export interface DerivedSpec {
  layer: 'silver' | 'gold';
  name: string;
  dates: readonly string[];
  dateColumn: string;
  batchId: string;
  select: string;
}

/**
 * Writes `select` to Parquet with DuckDB, one file per date of `dates` (its `dateColumn`; a date
 * without rows gets an empty file; rows in no particular order) and uploads them as the layer's
 * files for (name, date), each registered as pending garbage first (a rollback or crash leaves them
 * to be swept). Their local copies stay in `dir` until the caller forgets it.
 */
export async function writeDerived(
  lake: CcassLake,
  file: DerivedSpec,
): Promise<{ dir: string; files: DerivedUpload[] }> {
  const { duck } = lake;
  const dir = duck.scratch(`${file.layer}-${file.name}`);
  const options = 'format parquet, compression zstd, row_group_size 122880';
  const out: { date: string; path: string; key: string }[] = [];
  const keyOf = (date: string) => derivedKey(file.layer, file.name, date, file.batchId);
  try {
    await mkdir(dir, { recursive: true });
    // A COPY per date, not one partitioned COPY: the rows come clustered by date (a set's rows from
    // its files, the models' from them), so each COPY's scan skips most row groups, and DuckDB's
    // partitioned write cost about twice the CPU (0.45 against 0.85–1.3 s for a pass of 460 k
    // silver rows over 23 dates). A date without rows gets an empty file.
    for (const date of file.dates) {
      const path = join(dir, `${date}.parquet`);
      await duck.run(
        `copy (select * from (${file.select}) where ${file.dateColumn} = date ${sqlString(date)}) to ${sqlString(path)} (${options})`,
      );
      out.push({ date, path, key: keyOf(date) });
    }
    const meta = await duck.rows(
      `select file_name, num_rows::double as n from parquet_file_metadata([${out.map((o) => sqlString(o.path)).join(', ')}])`,
    );
    const rowsOf = new Map(meta.map((m) => [String(m['file_name']), Number(m['n'])]));
    await lake.pool.query(
      `insert into lakehouse_garbage (file_key, reason) select unnest($1::text[]), 'pending' on conflict (file_key) do nothing`,
      [out.map((o) => o.key)],
    );
    const files: DerivedUpload[] = [];
    for (let i = 0; i < out.length; i += UPLOADS_AT_ONCE) {
      await Promise.all(
        out.slice(i, i + UPLOADS_AT_ONCE).map(async (o) => {
          const bytes = await readFile(o.path);
          await lake.store.put(o.key, bytes, lake.signal ? { signal: lake.signal } : {});
          files.push({
            ...o,
            rows: rowsOf.get(o.path) ?? 0,
            bytes: bytes.length,
            checksum: createHash('sha256').update(bytes).digest('hex'),
          });
        }),
      );
    }
    return { dir, files };
  } catch (err) {
    await duck.forget([dir]);
    throw err;
  }
}

/**
 * Records uploaded derived files as the files in force of (layer, name) in the caller's
 * transaction; the files they replace become garbage at the commit.
 */
export async function recordDerived(
  client: pg.PoolClient,
  file: Pick<DerivedSpec, 'layer' | 'name' | 'batchId'>,
  files: readonly DerivedUpload[],
): Promise<void> {
  // One statement: `old` sees the files in force before the upsert replaces them.
  await client.query(
    `with f as (
       select * from jsonb_to_recordset($1::jsonb)
         as x(partition_date date, file_key text, rows bigint, bytes bigint, checksum text)
     ),
     old as (
       select l.file_key from lakehouse_files l join f using (partition_date)
       where l.layer = $2 and l.name = $3 and l.file_key <> f.file_key
     ),
     up as (
       insert into lakehouse_files (layer, name, partition_date, file_key, rows, bytes, checksum, batch_id)
       select $2, $3, partition_date, file_key, rows, bytes, checksum, $4 from f
       on conflict (layer, name, partition_date) do update set file_key = excluded.file_key, rows = excluded.rows,
         bytes = excluded.bytes, checksum = excluded.checksum, batch_id = excluded.batch_id, built_at = clock_timestamp()
       returning 1
     ),
     uploaded as (delete from lakehouse_garbage where file_key in (select file_key from f) returning 1)
     insert into lakehouse_garbage (file_key, reason) select file_key, 'replaced' from old
     on conflict (file_key) do update set reason = 'replaced', since = now()`,
    [
      JSON.stringify(
        files.map((f) => ({
          partition_date: f.date,
          file_key: f.key,
          rows: f.rows,
          bytes: f.bytes,
          checksum: f.checksum,
        })),
      ),
      file.layer,
      file.name,
      file.batchId,
    ],
  );
}

/** `writeDerived`, then `recordDerived`. */
async function publishDerived(client: pg.PoolClient, lake: CcassLake, file: DerivedSpec): Promise<void> {
  const written = await writeDerived(lake, file);
  try {
    await recordDerived(client, file, written.files);
  } finally {
    await lake.duck.forget([written.dir]);
  }
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

/** Objects deleted at once by a sweep; their rows go in one statement after them. */
const DELETES_AT_ONCE = 16;

/** Deletes the objects, then their rows (a crash in between leaves rows whose objects are gone: deleted again, idempotently). */
async function deleteGarbage(pool: pg.Pool, store: ObjectStore, rows: { file_key: string }[]): Promise<void> {
  for (let i = 0; i < rows.length; i += DELETES_AT_ONCE) {
    const keys = rows.slice(i, i + DELETES_AT_ONCE).map((r) => r.file_key);
    await Promise.all(keys.map((k) => store.delete(k)));
    await pool.query('delete from lakehouse_garbage where file_key = any($1)', [keys]);
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

/** DuckDB table `s_old` = the silver in force of `dates`, shaped like `s_new`; returns the dates that had a file. */
async function loadOldSilver(
  client: pg.PoolClient,
  lake: CcassLake,
  dates: readonly string[],
): Promise<Set<string>> {
  const old = await silverCopies(client, lake, dates);
  await lake.duck.run(
    `create or replace temp table s_old as ${old.paths.length ? `select * from ${parquetFiles(old.paths)}` : 'select * from s_new where false'}`,
  );
  return old.dates;
}

/**
 * The partition's files an event's silver is built from: the active files already accepted (loaded
 * by their own events, or merged from files that all were) plus the event's own file. A file whose event failed — unreadable, or rows failing a
 * model test — thus never holds its partition back: only its own event retries and dead-letters.
 */
async function acceptedFiles(
  client: pg.Pool | pg.PoolClient,
  date: string,
  own: string,
): Promise<CatalogFile[]> {
  const all = await listFiles(client, { dataset: 'ccass', partitionDate: date, status: 'all' });
  const active = all.filter((f) => f.status === 'active');
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

/** An event's CCASS silver built before it took the transformer lock (`prebuildCcassSilver`). */
export interface PrebuiltSilver {
  /** The DuckDB temp table holding it. */
  table: string;
  date: string;
  /** The accepted files it was built from. */
  fileKeys: string[];
  rows: number;
}

let prebuilds = 0;

/**
 * Builds an event's silver ahead of the transformer lock, so the DuckDB work overlaps the event
 * that holds the lock. `refreshCcassDate` takes it when the partition's accepted files are still
 * the same under the lock (another file of the partition may have been loaded meanwhile), and
 * builds again otherwise. The caller drops it afterwards (`dropPrebuilt`) in any case.
 */
export async function prebuildCcassSilver(
  lake: CcassLake,
  date: string,
  own: string,
): Promise<PrebuiltSilver> {
  const table = `s_pre_${++prebuilds}`;
  const built = await buildSilver(lake.pool, lake, date, own, table);
  return { table, date, fileKeys: built.files.map((f) => f.fileKey), rows: built.rows };
}

export async function dropPrebuilt(duck: Duck, pre: PrebuiltSilver): Promise<void> {
  await duck.run(`drop table if exists ${pre.table}`);
}

const sameKeys = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Builds `target` (`s_new`): the silver rows of an event's holding date from its partition's
 * accepted bronze files (`acceptedFiles`). A `prebuilt` silver of the same files is taken instead
 * of building again.
 */
async function buildSilver(
  db: pg.Pool | pg.PoolClient,
  lake: CcassLake,
  date: string,
  own: string,
  target = 's_new',
  prebuilt?: PrebuiltSilver,
): Promise<{ rows: number; files: CatalogFile[] }> {
  const files = await acceptedFiles(db, date, own);
  // Callers saw an active file of the partition (an event's prebuild just now, the rest under the
  // lock): none is a broken catalog or, for a prebuild, a merge since, which the lock then settles.
  if (!files.length)
    throw new HarbourError(ErrorCodes.LakeFile, `CCASS partition ${date} has no active lake file`, {
      detail: { partitionDate: date },
    });
  const keys = files.map((f) => f.fileKey);
  if (prebuilt && prebuilt.date === date && sameKeys(prebuilt.fileKeys, keys)) {
    await lake.duck.run(`drop table if exists ${target}; alter table ${prebuilt.table} rename to ${target}`);
    return { rows: prebuilt.rows, files };
  }
  return { rows: await buildSilverFrom(lake, files, target), files };
}

/**
 * Builds DuckDB temp table `target`: the silver rows of the given bronze files (each contributing
 * only rows of its own partition's holding date). Returns its rows.
 */
export async function buildSilverFrom(
  lake: CcassLake,
  files: readonly CatalogFile[],
  target: string,
): Promise<number> {
  const src: { path: string; partition_date: string }[] = [];
  for (const f of files)
    src.push({
      path: await lake.duck.local(lake.store, f.fileKey, f.checksum, { signal: lake.signal }),
      partition_date: f.partitionDate,
    });
  await lake.duck.table(`${target}_src`, { path: 'varchar', partition_date: 'date' }, src);
  const prefix = `${lake.duck.lakeRoot}/`;
  const source = parquetFiles(
    src.map((x) => x.path),
    { filename: true },
  );
  await lake.duck.run(`
    create or replace temp table ${target} as
    with raw as (
      select r.code, r.holding_date, r.row_type,
        case when r.row_type = 'participant' then coalesce(r.participant_id, r.participant_name, '') else '' end as participant_key,
        r.participant_id, r.participant_name, r.address, r.shareholding, r.pct_issued, r.participants,
        r._seq, substr(r.filename, ${prefix.length + 1}) as _file_key, r._fetched_at, r._run_id,
        regexp_replace(r._key, '#[0-9]+/[0-9]+$', '') as fetch_key
      from ${source} r join ${target}_src src on src.path = r.filename
      where r.holding_date = src.partition_date
    ),
    win as (
      -- the latest fetch of each set (a struct compares field by field; no column is null)
      select code, holding_date, max({'at': _fetched_at, 'run': _run_id, 'key': fetch_key}) as f
      from raw group by code, holding_date
    )
    select raw.code, raw.holding_date, raw.row_type, raw.participant_key, raw.participant_id, raw.participant_name,
      raw.address, raw.shareholding, raw.pct_issued, raw.participants, raw._seq, raw._file_key, raw._fetched_at,
      raw._run_id, raw.fetch_key
    from raw join win on raw.code = win.code and raw.holding_date = win.holding_date and raw._fetched_at = win.f.at
      and raw._run_id = win.f.run and raw.fetch_key = win.f.key;
    drop table ${target}_src`);
  // A key twice in its set's fetch (a row repeated across a page's parts) keeps its latest row. Rare:
  // the window that picks it costs more than building the set (~1 of 1.6 CPU s for 460 k rows), so
  // it runs only when a count finds a repeat.
  const key = 'code, holding_date, row_type, participant_key';
  const [{ repeated } = { repeated: 0 }] = await lake.duck.rows(
    `select count(*)::double as repeated from (select ${key} from ${target} group by ${key} having count(*) > 1)`,
  );
  if (Number(repeated) > 0)
    await lake.duck.run(`
      create or replace temp table ${target}_once as select * from ${target}
      qualify row_number() over (partition by ${key} order by _seq desc, shareholding desc) = 1;
      drop table ${target};
      alter table ${target}_once rename to ${target}`);
  const [{ n } = { n: 0 }] = await lake.duck.rows(`select count(*)::double as n from ${target}`);
  return Number(n);
}

/** A stock's set: its code and holding date. */
interface SetKey {
  code: string;
  date: string;
}

/**
 * Sets that differ between `s_old` and `s_new` (values or fetch), and the dates whose lineage
 * moved. Compared per set by an order-independent digest of its rows (xor of 64-bit row hashes;
 * rows are unique per set), one pass over each side. Without old silver (`hadOld` false: a new
 * holding date, a full rebuild) every set is new and nothing is hashed.
 */
async function diffSilver(duck: Duck, hadOld: boolean): Promise<{ changed: SetKey[]; moved: Set<string> }> {
  if (!hadOld) {
    const sets = await duck.rows(
      `select distinct code, strftime(holding_date, '%Y-%m-%d') as date from s_new order by 2, 1`,
    );
    const changed = sets.map((r) => ({ code: String(r['code']), date: String(r['date']) }));
    return { changed, moved: new Set(changed.map((c) => c.date)) };
  }
  const digest = (
    t: string,
  ) => `select code, holding_date, count(*) as n, bit_xor(hash(${SILVER_VALUES.join(', ')})) as hv,
      bit_xor(hash(${[...SILVER_VALUES, ...SILVER_LINEAGE].join(', ')})) as hl
    from ${t} group by code, holding_date`;
  const rows = await duck.rows(`
    select coalesce(a.code, b.code) as code, strftime(coalesce(a.holding_date, b.holding_date), '%Y-%m-%d') as date,
      (a.n is distinct from b.n or a.hv is distinct from b.hv) as changed
    from (${digest('s_new')}) a full join (${digest('s_old')}) b on a.code = b.code and a.holding_date = b.holding_date
    where a.n is distinct from b.n or a.hv is distinct from b.hv or a.hl is distinct from b.hl
    order by 2, 1`);
  return {
    changed: rows
      .filter((r) => r['changed'] === true)
      .map((r) => ({ code: String(r['code']), date: String(r['date']) })),
    moved: new Set(rows.map((r) => String(r['date']))),
  };
}

/**
 * Replaces the Postgres index of the silver sets of `dates` (sets and their lake files) from
 * `silver`, a DuckDB relation of silver rows.
 */
export async function indexSilverSets(
  client: pg.PoolClient,
  duck: Duck,
  dates: readonly string[],
  silver = 's_new',
): Promise<void> {
  const of = `from ${silver} where holding_date in ${dateList(dates)}`;
  await client.query('delete from silver.ccass_sets where holding_date = any($1::date[])', [dates]);
  await client.query('delete from silver.ccass_set_files where holding_date = any($1::date[])', [dates]);
  await copyFromDuck(
    client,
    duck,
    `select code, holding_date, max(_fetched_at), max(_run_id), max(fetch_key), arg_max(_file_key, _seq),
       count(*) filter (where row_type = 'participant'),
       coalesce(sum(participants) filter (where row_type in ('intermediaries', 'consenting')), 0)
     ${of} group by code, holding_date`,
    'silver.ccass_sets',
    [
      'code',
      'holding_date',
      'fetched_at',
      'run_id',
      'fetch_key',
      '_file_key',
      'participant_rows',
      'promised',
    ],
  );
  await copyFromDuck(
    client,
    duck,
    `select code, holding_date, _file_key, min(_seq), max(_seq), count(*) ${of} group by code, holding_date, _file_key`,
    'silver.ccass_set_files',
    ['code', 'holding_date', 'file_key', 'first_seq', 'last_seq', 'rows'],
  );
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

/**
 * Loads `sets` (every stock of the holding dates `xs`) and defines the views `cur` (their silver)
 * and `prev` (the silver of each set's previous holding date): views, so no silver is copied. The
 * silver of a date in `refreshed` is `s_new`; of any other, its file in force, whose local copy is
 * held until the caller releases `held` (the views are read later). Returns the codes and the number
 * of sets.
 */
async function loadDates(
  client: pg.PoolClient,
  lake: CcassLake,
  xs: readonly string[],
  refreshed: ReadonlySet<string>,
  held: string[],
): Promise<{ codes: string[]; sets: number }> {
  const { duck } = lake;
  const silverOf = async (dates: readonly string[]): Promise<string[]> => {
    const fresh = dates.filter((d) => refreshed.has(d));
    const stored = await silverCopies(
      client,
      lake,
      dates.filter((d) => !refreshed.has(d)),
      true,
    );
    held.push(...stored.paths);
    const parts = fresh.length ? [`select * from s_new where holding_date in ${dateList(fresh)}`] : [];
    if (stored.paths.length) parts.push(`select * from ${parquetFiles(stored.paths)}`);
    return parts;
  };
  const cur = await silverOf(xs);
  // Every date recomputed has silver: it is refreshed, or it has sets, which are indexed from a file.
  if (!cur.length)
    throw new HarbourError(ErrorCodes.LakeFile, `no CCASS silver for ${xs.join(', ')}`, {
      detail: { dates: xs },
    });
  await duck.run(`create or replace temp view cur as ${cur.join(' union all ')}`);
  const { rows: sets } = await client.query<{ code: string; holding_date: string; prev: string | null }>(
    `select x.code, to_char(x.holding_date, 'YYYY-MM-DD') as holding_date,
       -- the recent weeks first: an unbounded backward scan reads every earlier set of the code on
       -- its index page, more the longer the history
       to_char(coalesce(
         (select max(p.holding_date) from silver.ccass_sets p
          where p.code = x.code and p.holding_date < x.holding_date and p.holding_date >= x.holding_date - 14),
         (select max(p.holding_date) from silver.ccass_sets p
          where p.code = x.code and p.holding_date < x.holding_date - 14)), 'YYYY-MM-DD') as prev
     from silver.ccass_sets x where x.holding_date = any($1::date[]) order by x.holding_date, x.code`,
    [xs],
  );
  await duck.table(
    'sets',
    { code: 'varchar', holding_date: 'date', prev_holding_date: 'date' },
    sets.map((s) => ({ code: s.code, holding_date: s.holding_date, prev_holding_date: s.prev })),
  );
  const prevDates = [...new Set(sets.map((s) => s.prev).filter((d): d is string => d !== null))].sort();
  const prev = await silverOf(prevDates);
  await duck.run(
    `create or replace temp view prev as select p.* from (${prev.length ? prev.join(' union all ') : 'select * from cur where false'}) p
     join sets s on s.code = p.code and s.prev_holding_date = p.holding_date`,
  );
  return { codes: [...new Set(sets.map((s) => s.code))].sort(), sets: sets.length };
}

/** The issued shares of each set of DuckDB relation `silver`: its summary row. */
const issuedOf = (silver: string) =>
  `(select code, holding_date, shareholding as issued_shares from ${silver}
    where row_type = 'issued_shares' and participant_key = '')`;

/**
 * Serves one model's rows of the dates `xs` (DuckDB relation `table`; `silver`: the relation of
 * their sets' silver rows) into Postgres; returns rows deleted and written.
 */
export async function serveModel(
  client: pg.PoolClient,
  duck: Duck,
  model: Model,
  table: string,
  xs: readonly string[],
  silver: string,
): Promise<{ deleted: number; written: number }> {
  if (model.name === 'ccass_changes') return serveCcassChangeSets(client, duck, table, issuedOf(silver), xs);
  const del = await client.query(`delete from ${model.table} where ${model.scopeDate} = any($1::date[])`, [
    xs,
  ]);
  const written = await copyFromDuck(
    client,
    duck,
    `select ${model.columns.join(', ')} from ${table}`,
    model.table,
    model.columns,
  );
  return { deleted: del.rowCount ?? 0, written };
}

export interface RunAcc {
  result: ModelRunResult;
  t0: number;
}

export const newRunAcc = (batchId: string, model: string): RunAcc => ({
  t0: performance.now(),
  result: emptyRun(runIdOf(batchId, model), model, new Date()),
});

/**
 * Computes `model` over the views `cur`, `prev` and `sets` (`sets` sets of the dates `xs`, stocks
 * `codes`) into temp table `g_<model>` and runs its tests, adding to the run; a failed test of
 * severity error throws `ModelTestFailure`. Returns the table.
 */
export async function computeModel(
  duck: Duck,
  model: Model,
  run: RunAcc,
  scope: { xs: readonly string[]; sets: number; codes: readonly string[] },
): Promise<string> {
  const table = `g_${model.name}`;
  await duck.run(`create or replace temp table ${table} as ${model.modelSql}`);
  const tests = await runDuckTests(duck, model, table);
  const r = run.result;
  r.tests = mergeTests(r.tests, tests);
  r.scopeKeys += scope.sets;
  r.codes = [...new Set([...r.codes, ...scope.codes])].sort();
  const first = scope.xs[0]!;
  const last = scope.xs.at(-1)!;
  r.from = r.from && r.from < first ? r.from : first;
  r.to = r.to && r.to > last ? r.to : last;
  const failed = tests.filter((t) => t.severity === 'error' && t.failures > 0);
  if (failed.length) {
    r.durationMs = performance.now() - run.t0;
    throw new ModelTestFailure(r, failed);
  }
  return table;
}

/** Adds what serving wrote to the run. */
export function addServed(run: RunAcc, served: { deleted: number; written: number }): void {
  const r = run.result;
  r.rowsDeleted += served.deleted;
  r.rowsWritten += served.written;
  r.publish = r.rowsWritten + r.rowsDeleted > 0;
}

/**
 * Recomputes the DuckDB models for the holding dates `xs` (every stock of each), tests them, writes
 * their gold Parquet (one file per model and date) and serves them. Results accumulate into `acc`
 * (one run per model per batch).
 */
async function refreshGold(
  client: pg.PoolClient,
  lake: CcassLake,
  models: Model[],
  xs: readonly string[],
  refreshed: ReadonlySet<string>,
  batchId: string,
  acc: Map<string, RunAcc>,
): Promise<void> {
  const held: string[] = [];
  try {
    const { codes, sets } = await loadDates(client, lake, xs, refreshed, held);
    for (const model of models) {
      const run = acc.get(model.name)!;
      try {
        const table = await computeModel(lake.duck, model, run, { xs, sets, codes });
        await publishDerived(client, lake, {
          layer: 'gold',
          name: model.name,
          dates: xs,
          dateColumn: model.scopeDate ?? 'holding_date',
          batchId,
          select: `select ${model.columns.join(', ')} from ${table}`,
        });
        addServed(run, await serveModel(client, lake.duck, model, table, xs, 'cur'));
      } catch (err) {
        throw modelError(model, run, err);
      }
    }
  } finally {
    lake.duck.release(held);
  }
}

/** A model's failure as the run's error (a failed test as it is). */
export const modelError = (model: Model, run: RunAcc, err: unknown): Error =>
  err instanceof ModelTestFailure
    ? err
    : new ModelRunError(model.name, run.result.runId, run.result.startedAt, err);

function mergeTests(a: TestResult[], b: TestResult[]): TestResult[] {
  if (!a.length) return b;
  return a.map((t, i) => ({ ...t, failures: t.failures + (b[i]?.failures ?? 0) }));
}

type BatchOptions = { batchId: string; trigger: 'event' | 'rebuild'; inputs: InputFile[]; models: Model[] };

/**
 * Recomputes the DuckDB models pass by pass (each pass: ascending holding dates, recomputed
 * together) and records one run per model.
 */
async function runGold(
  client: pg.PoolClient,
  lake: CcassLake,
  passes: readonly (readonly string[])[],
  refreshed: ReadonlySet<string>,
  opts: BatchOptions,
): Promise<ModelRunResult[]> {
  const models = opts.models.filter((m) => m.engine === 'duckdb');
  const acc = new Map<string, RunAcc>();
  for (const m of models) acc.set(m.name, newRunAcc(opts.batchId, m.name));
  for (const xs of passes) {
    lake.signal?.throwIfAborted();
    await refreshGold(client, lake, models, xs, refreshed, opts.batchId, acc);
  }
  const runs: ModelRunResult[] = [];
  for (const { result, t0 } of acc.values()) {
    result.durationMs = performance.now() - t0;
    await recordRun(client, opts, result, 'succeeded', null);
    runs.push(result);
  }
  return runs;
}

/**
 * Groups `items` (in order) into passes of at most `maxRows` rows (an item alone may have more)
 * and `OBJECTS_AT_ONCE` lake objects.
 */
export function ccassPasses<T extends { rows: number; objects: number }>(
  items: readonly T[],
  maxRows: number,
): T[][] {
  const passes: T[][] = [];
  let cur: T[] = [];
  let rows = 0;
  let objects = 0;
  for (const it of items) {
    if (cur.length && (rows + it.rows > maxRows || objects + it.objects > OBJECTS_AT_ONCE)) {
      passes.push(cur);
      cur = [];
      rows = 0;
      objects = 0;
    }
    cur.push(it);
    rows += it.rows;
    objects += it.objects;
  }
  if (cur.length) passes.push(cur);
  return passes;
}

/**
 * Adds the sets (`codes[i]`, `days[i]`) to the silver.ccass scope table the Postgres models read
 * (createSilverScopes must have run): per stock, the span of its dates.
 */
export async function addCcassScope(
  client: pg.PoolClient,
  codes: readonly string[],
  days: readonly string[],
): Promise<void> {
  await client.query(
    `insert into ${scopeTable(silverScopeName('ccass'))} (k, lo, hi)
     select code, min(d), max(d) from unnest($1::text[], $2::date[]) c(code, d) group by code`,
    [codes, days],
  );
}

/**
 * Refreshes the CCASS holding date of an event's file inside the caller's transaction, which holds
 * the transformer lock: rebuilds its silver from the lake, and when sets changed, the DuckDB
 * models' gold for the date and for the next holding date of each changed stock; fills the
 * silver.ccass scope table for the Postgres models (createSilverScopes must have run) and records
 * the runs. A rebuild computes the same with the same SQL (ccass-reload.ts).
 */
export async function refreshCcassDate(
  client: pg.PoolClient,
  lake: CcassLake,
  opts: Omit<BatchOptions, 'inputs'> & {
    date: string;
    /** The event's file. */
    own: string;
    /** The event's silver built ahead of the lock, if any. */
    prebuilt?: PrebuiltSilver | undefined;
  },
): Promise<CcassRefresh> {
  const { duck } = lake;
  const { batchId } = opts;
  const dates = [opts.date];
  const { rows: silverRows, files } = await buildSilver(
    client,
    lake,
    opts.date,
    opts.own,
    's_new',
    opts.prebuilt,
  );
  // The runs' lineage: the files the silver was built from.
  const batch: BatchOptions = { ...opts, inputs: files.map(inputOf) };
  const hadOld = await loadOldSilver(client, lake, dates);
  const diff = await diffSilver(duck, hadOld.size > 0);
  const publish = dates.filter((d) => !hadOld.has(d) || diff.moved.has(d));
  const unchanged = { silverRows, files, changedCodes: [], runs: [] };
  if (!publish.length) return unchanged;
  await publishDerived(client, lake, {
    layer: 'silver',
    name: 'ccass',
    dates: publish,
    dateColumn: 'holding_date',
    batchId,
    select: `select * from s_new where holding_date in ${dateList(publish)}`,
  });
  await indexSilverSets(client, duck, publish);
  if (!diff.changed.length) return unchanged;

  const codes = diff.changed.map((c) => c.code);
  const days = diff.changed.map((c) => c.date);
  await addCcassScope(client, codes, days);
  const { rows: next } = await client.query<{ d: string }>(
    `select distinct to_char(n.d, 'YYYY-MM-DD') as d from unnest($1::text[], $2::date[]) c(code, d)
     cross join lateral (select min(x.holding_date) as d from silver.ccass_sets x
       where x.code = c.code and x.holding_date > c.d) n
     where n.d is not null`,
    [codes, days],
  );
  // The event's date in one pass; each later date it reaches in a pass of its own, as there is no
  // telling how many there are or how large.
  const refreshed = new Set(dates);
  const gold = [...new Set([...days, ...next.map((r) => r.d)])].sort();
  const passes = [
    gold.filter((d) => refreshed.has(d)),
    ...gold.filter((d) => !refreshed.has(d)).map((d) => [d]),
  ];
  const runs = await runGold(
    client,
    lake,
    passes.filter((p) => p.length),
    refreshed,
    batch,
  );
  return { silverRows, files, changedCodes: [...new Set(codes)].sort(), runs };
}

/** Holding dates with CCASS silver (from `from`), ascending, with their silver rows. */
async function ccassSilverDates(
  client: pg.PoolClient,
  from: string | null,
): Promise<{ date: string; rows: number }[]> {
  const { rows } = await client.query<{ date: string; rows: number }>(
    `select to_char(partition_date, 'YYYY-MM-DD') as date, rows::float8 as rows from lakehouse_files
     where layer = 'silver' and name = 'ccass' and ($1::date is null or partition_date >= $1::date) order by 1`,
    [from],
  );
  return rows;
}

/**
 * Rebuild of the DuckDB models alone: their gold for every silver date (from `from`), silver
 * untouched, in passes of up to `passRows` silver rows.
 */
export async function rebuildCcassGold(
  client: pg.PoolClient,
  lake: CcassLake,
  from: string | null,
  opts: BatchOptions & { passRows: number },
): Promise<ModelRunResult[]> {
  const dates = await ccassSilverDates(client, from);
  if (!dates.length) return [];
  const passes = ccassPasses(
    dates.map((d) => ({ ...d, objects: 1 })),
    opts.passRows,
  );
  return runGold(
    client,
    lake,
    passes.map((p) => p.map((d) => d.date)),
    new Set(),
    opts,
  );
}

/**
 * Forgets CCASS silver and the DuckDB models' gold from `from` (all when null: truncated, as a
 * full rebuild truncates the keyed silver; readers wait for its commit), in the caller's
 * transaction: the index rows, the served rows, the derived files in force (garbage at the commit).
 * A rebuild then refreshes every partition again in date order.
 */
export async function clearCcass(client: pg.PoolClient, from: string | null, models: Model[]): Promise<void> {
  const cond = (col: string) => `($1::date is null or ${col} >= $1::date)`;
  const clear = (table: string, col: string) =>
    from === null
      ? client.query(`truncate ${table}`)
      : client.query(`delete from ${table} where ${cond(col)}`, [from]);
  await clear('silver.ccass_sets', 'holding_date');
  await clear('silver.ccass_set_files', 'holding_date');
  for (const m of models.filter((x) => x.engine === 'duckdb')) {
    // ccass_changes is served as its sets (`gold.ccass_changes` is a view over them)
    const table = m.name === 'ccass_changes' ? SERVED_CCASS_CHANGES : m.table;
    await clear(table, m.scopeDate ?? 'holding_date');
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
