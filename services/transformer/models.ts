import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DATASETS,
  type Dataset,
  ErrorCodes,
  GOLD_SCHEMA,
  goldTables,
  HarbourError,
} from '../../contracts/index.ts';

/**
 * SQL models, dbt-like: one file per gold table in `models/`, a comment header declaring the model
 * and its tests, then three SQL sections.
 *
 * ```sql
 * -- model: rolling_directed_volume
 * -- description: …
 * -- depends: daily_prices                  (models and/or silver.<dataset>)
 * -- reads: daily_prices(status, directed_volume)  (optional: the only columns of an upstream
 *                                           model it reads; see below)
 * -- key: code, trade_date                  (unique key of the table)
 * -- scope: code, trade_date                (the key column and the date column a run is scoped by; date optional)
 * -- test: unique(code, trade_date)
 * -- test: not_null(code, trade_date)
 * -- test: range(days_30d_trading, 0, 30)  (either bound may be empty)
 * -- test: accepted(kind, new|exited|changed|unchanged)
 * -- test: expect(low <= high)            (a SQL condition every row must meet)
 * -- test[warn]: …                          (recorded, does not fail the run)
 * -- rebuild: duckdb                        (optional: a full rebuild computes it in DuckDB; below)
 * -- @scope
 * select k, lo, hi from {{changed:daily_prices}} …  -- which keys × date ranges to recompute
 * -- @model
 * select … from gold.daily_prices … join {{scope}} s …    -- the rows of those keys
 * -- @lineage
 * select … where code = $1 and trade_date = $2    -- the silver rows (lake files, seqs) behind one gold row
 * ```
 *
 * `-- reads: X(c1, c2)` narrows `{{changed:X}}` to the keys whose rows of X appeared, disappeared or
 * changed in c1, c2 (or a key or scope date column) in this batch; without it, every key X rewrote
 * is in it. A fundamentals file rewrites each day's open price, which the rolling volume never reads.
 *
 * `-- rebuild: duckdb` (a Postgres model): a full rebuild runs the model's SQL, scoped as in Postgres,
 * in the transformer's DuckDB over the silver the rebuild staged there (and the rows of the models
 * before it computed there) and COPYs the rows in: Postgres spends seconds a model on one core
 * where DuckDB takes a fraction on all of them. Only for SQL both engines read alike and whose
 * values come out bit for bit the same in both (no floating-point sum or average whose order
 * differs between them, such as a windowed average): the rebuild must equal the incremental path
 * row for row. It may depend only on silver and on other such models.
 *
 * `-- engine: duckdb` (the CCASS models): no @scope; @model is DuckDB SQL over the relations the
 * engine provides for one or more holding dates, recomputed whole — `sets` (code, holding_date,
 * prev_holding_date: one row per stock and date recomputed), `cur` (their silver rows) and `prev`
 * (the silver rows of each set's previous holding date, with their own `holding_date`: join them
 * to `sets` on `prev_holding_date`). A model must key every join and grouping by (code,
 * holding_date): an event passes one date, a rebuild many, and both must give the same rows.
 *
 * `{{changed:X}}` is the scope table of an upstream X (a silver dataset's changed keys, or the keys an
 * upstream model rewrote in this batch); `{{scope}}` is this model's own scope (k text, lo date, hi
 * date; one row per key, ranges inclusive, ±infinity allowed). The runner deletes the scoped rows
 * of the gold table and inserts what `@model` returns inside the scope, in one transaction with
 * every other model of the batch, then runs the tests on the scoped rows.
 */

export type TestSeverity = 'error' | 'warn';

export type ModelTest =
  | { kind: 'unique'; columns: string[]; severity: TestSeverity; label: string }
  | { kind: 'not_null'; columns: string[]; severity: TestSeverity; label: string }
  | {
      kind: 'range';
      column: string;
      min: number | null;
      max: number | null;
      severity: TestSeverity;
      label: string;
    }
  | { kind: 'accepted'; column: string; values: string[]; severity: TestSeverity; label: string }
  | { kind: 'expect'; condition: string; severity: TestSeverity; label: string };

export interface Model {
  name: string;
  description: string;
  /** `gold.<name>` */
  table: string;
  /** Upstream models and `silver.<dataset>` names. */
  depends: string[];
  /** Upstream model → the only columns of it this model reads (`-- reads:`). */
  reads: Record<string, string[]>;
  key: string[];
  scopeKey: string;
  scopeDate: string | null;
  /** Columns in contracts/gold.ts order. */
  columns: string[];
  tests: ModelTest[];
  /**
   * Where the model runs: `postgres` (the scoped @scope/@model over silver and gold tables) or
   * `duckdb` (CCASS: @model over holding dates' silver Parquet, see ccass-lake.ts).
   */
  engine: 'postgres' | 'duckdb';
  /** Where a full rebuild computes a Postgres model (`-- rebuild: duckdb`; default postgres). */
  rebuildEngine: 'postgres' | 'duckdb';
  scopeSql: string;
  modelSql: string;
  lineageSql: string;
  file: string;
}

export const MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'models');

const IDENT = /^[a-z_][a-z0-9_]*$/;

function fail(file: string, msg: string): never {
  throw new HarbourError(ErrorCodes.ModelDefinition, `model file ${file}: ${msg}`);
}

function list(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function parseTest(file: string, severity: TestSeverity, spec: string): ModelTest {
  const m = /^([a-z_]+)\((.*)\)$/s.exec(spec.trim());
  if (!m) fail(file, `cannot read test "${spec}"`);
  const [, kind = '', args = ''] = m;
  const label = `${kind}(${args.trim()})`;
  switch (kind) {
    case 'unique':
    case 'not_null': {
      const columns = list(args);
      if (!columns.length || !columns.every((c) => IDENT.test(c))) fail(file, `bad columns in ${label}`);
      return { kind, columns, severity, label };
    }
    case 'range': {
      const parts = args.split(',').map((x) => x.trim());
      if (parts.length !== 3 || !IDENT.test(parts[0]!))
        fail(file, `range needs (column, min, max): ${label}`);
      const num = (x: string) => {
        if (x === '') return null;
        const n = Number(x);
        if (!Number.isFinite(n)) fail(file, `range bound ${x} is not a number`);
        return n;
      };
      return { kind, column: parts[0]!, min: num(parts[1]!), max: num(parts[2]!), severity, label };
    }
    case 'accepted': {
      const at = args.indexOf(',');
      const column = args.slice(0, at).trim();
      const values = args
        .slice(at + 1)
        .split('|')
        .map((x) => x.trim())
        .filter(Boolean);
      if (at < 0 || !IDENT.test(column) || !values.length)
        fail(file, `accepted needs (column, a|b|c): ${label}`);
      if (values.some((v) => v.includes("'"))) fail(file, `accepted values may not contain quotes: ${label}`);
      return { kind, column, values, severity, label };
    }
    case 'expect':
      if (!args.trim()) fail(file, 'expect needs a condition');
      return { kind, condition: args.trim(), severity, label };
    default:
      return fail(file, `unknown test kind ${kind}`);
  }
}

export function parseModel(file: string, text: string): Model {
  const header: Record<string, string> = {};
  const tests: ModelTest[] = [];
  const sections: Record<string, string[]> = {};
  let section: string | null = null;
  let lastKey: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const sec = /^--\s*@(scope|model|lineage)\s*$/.exec(line);
    if (sec) {
      section = sec[1]!;
      if (sections[section]) fail(file, `section @${section} appears twice`);
      sections[section] = [];
      continue;
    }
    if (section) {
      sections[section]!.push(line);
      continue;
    }
    const test = /^--\s*test(?:\[(error|warn)\])?:\s*(.+)$/.exec(line);
    if (test) {
      tests.push(parseTest(file, (test[1] as TestSeverity | undefined) ?? 'error', test[2]!));
      lastKey = null;
      continue;
    }
    const more = /^--\s{2,}(\S.*)$/.exec(line);
    if (more && lastKey) {
      header[lastKey] = `${header[lastKey]} ${more[1]!.trim()}`;
      continue;
    }
    const kv = /^--\s?([a-z_]+):\s*(.*)$/.exec(line);
    if (kv) {
      lastKey = kv[1]!;
      header[lastKey] = kv[2]!.trim();
    }
  }
  const name = header['model'];
  if (!name || !IDENT.test(name)) fail(file, 'header lacks "-- model: <name>"');
  const schema = (goldTables as Record<string, { properties: Record<string, unknown> }>)[name];
  if (!schema) fail(file, `model ${name} is not a gold table of contracts/gold.ts`);
  const engine = header['engine'] ?? 'postgres';
  if (engine !== 'postgres' && engine !== 'duckdb')
    fail(file, `engine must be postgres or duckdb, got ${engine}`);
  // A DuckDB model is scoped by the engine (whole holding dates), so it has no @scope.
  for (const s of engine === 'duckdb' ? ['model', 'lineage'] : ['scope', 'model', 'lineage']) {
    if (!sections[s]?.join('\n').trim()) fail(file, `section @${s} is missing or empty`);
  }
  if (engine === 'duckdb' && sections['scope']) fail(file, 'a duckdb model has no @scope section');
  const rebuildEngine = header['rebuild'] ?? 'postgres';
  if (rebuildEngine !== 'postgres' && rebuildEngine !== 'duckdb')
    fail(file, `rebuild must be postgres or duckdb, got ${rebuildEngine}`);
  if (engine === 'duckdb' && rebuildEngine !== 'postgres')
    fail(file, 'a duckdb model is rebuilt by its own engine: no "-- rebuild:"');
  const key = list(header['key'] ?? '');
  const [scopeKey, scopeDate, ...extra] = list(header['scope'] ?? '');
  if (!key.length) fail(file, 'header lacks "-- key: …"');
  if (!scopeKey || extra.length)
    fail(file, 'header "-- scope:" needs a key column and an optional date column');
  const columns = Object.keys(schema.properties);
  for (const c of [...key, scopeKey, ...(scopeDate ? [scopeDate] : [])]) {
    if (!columns.includes(c)) fail(file, `column ${c} is not in gold.${name}`);
  }
  const strip = (s: string) => s.replace(/;\s*$/, '').trim();
  return {
    name,
    description: header['description'] ?? '',
    table: `${GOLD_SCHEMA}.${name}`,
    depends: list(header['depends'] ?? ''),
    reads: Object.fromEntries(
      [...(header['reads'] ?? '').matchAll(/([a-z_]+)\(([^)]*)\)/g)].map((r) => [r[1]!, list(r[2]!)]),
    ),
    key,
    scopeKey,
    scopeDate: scopeDate ?? null,
    columns,
    tests,
    engine,
    rebuildEngine,
    scopeSql: strip((sections['scope'] ?? []).join('\n')),
    modelSql: strip(sections['model']!.join('\n')),
    lineageSql: strip(sections['lineage']!.join('\n')),
    file,
  };
}

/** Orders models so each comes after its dependencies; throws on unknown dependencies and cycles. */
export function topoSort(models: Model[]): Model[] {
  const byName = new Map(models.map((m) => [m.name, m]));
  const silver = new Set(DATASETS.map((d) => `silver.${d}`));
  const out: Model[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (m: Model, path: string[]) => {
    const s = state.get(m.name);
    if (s === 'done') return;
    if (s === 'visiting')
      throw new HarbourError(
        ErrorCodes.ModelDefinition,
        `model dependency cycle: ${[...path, m.name].join(' → ')}`,
      );
    state.set(m.name, 'visiting');
    for (const dep of m.depends) {
      if (silver.has(dep)) continue;
      const up = byName.get(dep);
      if (!up)
        throw new HarbourError(ErrorCodes.ModelDefinition, `model ${m.name} depends on unknown ${dep}`);
      visit(up, [...path, m.name]);
    }
    state.set(m.name, 'done');
    out.push(m);
  };
  for (const m of [...models].sort((a, b) => a.name.localeCompare(b.name))) visit(m, []);
  return out;
}

/** Checks each model's `{{changed:X}}` references and `reads` against its declared dependencies. */
function checkReferences(m: Model, byName: ReadonlyMap<string, Model>): void {
  for (const sql of [m.scopeSql, m.modelSql]) {
    for (const ref of sql.matchAll(/\{\{changed:([a-z_.]+)\}\}/g)) {
      if (!m.depends.includes(ref[1]!))
        fail(m.file, `uses {{changed:${ref[1]}}} but does not declare it in depends`);
    }
  }
  if (m.rebuildEngine === 'duckdb') {
    const other = m.depends.filter((d) => !datasetOfSilver(d) && byName.get(d)?.rebuildEngine !== 'duckdb');
    if (other.length)
      fail(m.file, `is rebuilt in DuckDB but depends on ${other.join(', ')}, which is not (rebuild: duckdb)`);
  }
  for (const [up, columns] of Object.entries(m.reads)) {
    const model = byName.get(up);
    if (!model || !m.depends.includes(up))
      fail(m.file, `reads ${up}, which is not an upstream model in depends`);
    const unknown = columns.filter((c) => !model.columns.includes(c));
    if (!columns.length || unknown.length)
      fail(m.file, `reads ${up}(${columns.join(', ')}): unknown or no columns`);
  }
}

let cached: Model[] | undefined;

/** Every model in `models/`, in dependency order. */
export function loadModels(dir = MODELS_DIR): Model[] {
  if (dir === MODELS_DIR && cached) return cached;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const models = files.map((f) => parseModel(f, readFileSync(join(dir, f), 'utf8')));
  const byName = new Map<string, Model>();
  for (const m of models) {
    if (byName.has(m.name)) fail(m.file, `model ${m.name} is defined twice`);
    byName.set(m.name, m);
  }
  for (const m of models) checkReferences(m, byName);
  const sorted = topoSort(models);
  if (dir === MODELS_DIR) cached = sorted;
  return sorted;
}

/** The models downstream of `name` (itself included), in dependency order. */
export function downstreamOf(models: Model[], name: string): Model[] {
  const keep = new Set([name]);
  for (const m of models) if (m.depends.some((d) => keep.has(d))) keep.add(m.name);
  return models.filter((m) => keep.has(m.name));
}

/**
 * The Postgres models of `models` (in dependency order) split by whether they read CCASS, i.e.
 * depend on silver.ccass or a DuckDB model, directly or through another model: `apart` need only
 * the other silver, `after` need the CCASS work done.
 */
export function splitByCcass(models: Model[]): { apart: Model[]; after: Model[] } {
  const ccass = new Set(['silver.ccass', ...models.filter((m) => m.engine === 'duckdb').map((m) => m.name)]);
  for (const m of models) if (m.depends.some((d) => ccass.has(d))) ccass.add(m.name);
  const pg = models.filter((m) => m.engine === 'postgres');
  return { apart: pg.filter((m) => !ccass.has(m.name)), after: pg.filter((m) => ccass.has(m.name)) };
}

export function datasetOfSilver(name: string): Dataset | null {
  const d = name.startsWith('silver.') ? name.slice(7) : null;
  return d && (DATASETS as readonly string[]).includes(d) ? (d as Dataset) : null;
}
