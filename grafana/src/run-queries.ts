import { performance } from 'node:perf_hooks';
import type { Dashboard } from '@grafana/schema';
import { expandSql, type SqlQuery, sqlQueries, type TimeRange, variablesOf } from './queries.ts';

/**
 * Runs a dashboard's SQL the way Grafana does on load, against a real Postgres: the grafana test
 * (does every query run and return what its panel expects) and the panel timing of the scale
 * benchmark (`test/bench/panels.ts`) both go through here.
 */

/** Anything that runs SQL text: a `pg` Pool or client. */
export interface SqlClient {
  query(text: string): Promise<{ rows: Record<string, unknown>[]; fields: { name: string }[] }>;
}

/** Template variable values as `expandSql` takes them. */
export type VariableValues = Record<string, { value: string | string[]; multi: boolean }>;

export interface QueryRun {
  query: SqlQuery;
  /** The SQL as sent: macros and variables substituted. */
  sql: string;
  /** The rows and column names of the last run. */
  rows: Record<string, unknown>[];
  columns: string[];
  /** Milliseconds of each timed run (warm-up runs not included). */
  timesMs: number[];
}

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/**
 * The dashboard's default time range (`time.from` = `now-<n><unit>`, `time.to` = `now`) with `now`
 * set to `now`: what Grafana shows on load at that moment.
 */
export function defaultTimeRange(dashboard: Dashboard, now: Date): TimeRange {
  const from = dashboard.time?.from ?? 'now-6h';
  const to = dashboard.time?.to ?? 'now';
  const m = /^now-(\d+)([smhdw])$/.exec(from);
  if (!m || to !== 'now')
    throw new Error(`${dashboard.uid}: time range ${from} to ${to} is not now-<n><s|m|h|d|w> to now`);
  return { from: new Date(now.getTime() - Number(m[1]) * UNIT_MS[m[2]!]!), to: now };
}

/**
 * Every SQL query of the dashboard (query-backed variables first, then panel targets) on `client`,
 * with the variable values Grafana selects on a first load: a custom variable its `current` value,
 * a query variable the first value its query returns (`__value`, else the first column; a
 * multi-value variable without an "All" option selects just that one too). Each query runs
 * `warmup` times untimed, then `repeat` times timed. A query that fails throws, naming dashboard,
 * panel and target, with the SQL sent; so does a query variable with no value to select.
 */
export async function runSqlQueries(
  client: SqlClient,
  dashboard: Dashboard,
  range: TimeRange,
  opts: { warmup?: number; repeat?: number } = {},
): Promise<QueryRun[]> {
  const { warmup = 0, repeat = 1 } = opts;
  const variables = variablesOf(dashboard);
  const vars: VariableValues = {};
  for (const [name, v] of variables) {
    if (v.type === 'custom') vars[name] = { value: String(v.current?.value), multi: false };
  }
  const out: QueryRun[] = [];
  for (const query of sqlQueries(dashboard)) {
    const where = `${query.dashboard} / ${query.panel} ${query.refId}`;
    const sql = expandSql(query.rawSql, range, vars);
    const timesMs: number[] = [];
    let res: Awaited<ReturnType<SqlClient['query']>> | undefined;
    for (let i = 0; i < warmup + Math.max(1, repeat); i++) {
      const t0 = performance.now();
      res = await client.query(sql).catch((err: Error) => {
        throw new Error(`${where}: ${err.message}\n${sql}`, { cause: err });
      });
      if (i >= warmup) timesMs.push(performance.now() - t0);
    }
    const { rows, fields } = res!;
    out.push({ query, sql, rows, columns: fields.map((f) => f.name), timesMs });
    if (query.refId === 'variable') {
      const name = query.panel.slice(1);
      const values = rows.map((r) => String(r.__value ?? Object.values(r)[0]));
      if (!values.length)
        throw new Error(`${where}: the variable's query returned no value to select\n${sql}`);
      const multi = variables.get(name)?.multi ?? false;
      vars[name] = { value: multi ? [values[0]!] : values[0]!, multi };
    }
  }
  return out;
}
