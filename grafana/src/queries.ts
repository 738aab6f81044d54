import type { Dashboard, VariableModel } from '@grafana/schema';
import { POSTGRES, PROMETHEUS } from './datasources.ts';
import { panelsOf } from './lib.ts';

export interface PromQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

export interface SqlQuery {
  dashboard: string;
  /** Panel title, or `$name` for a variable's query. */
  panel: string;
  refId: string;
  rawSql: string;
  format: 'time_series' | 'table';
}

export interface TimeRange {
  from: Date;
  to: Date;
}

/** Every PromQL query of the dashboard's panels. */
export function promQueries(d: Dashboard): PromQuery[] {
  return targetsOf(d, PROMETHEUS.uid).map(({ panel, target: t }) => ({
    dashboard: d.uid!,
    panel,
    refId: String(t.refId),
    expr: String(t.expr),
  }));
}

/** Every panel target of the dashboard on the data source `uid`, with its panel's title. */
function targetsOf(d: Dashboard, uid: string): { panel: string; target: Record<string, unknown> }[] {
  return panelsOf(d).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => (t.datasource as { uid?: string } | undefined)?.uid === uid)
      .map((target) => ({ panel: p.title ?? '', target })),
  );
}

/** Every SQL query of the dashboard: variables first (in order), then panels. */
export function sqlQueries(d: Dashboard): SqlQuery[] {
  const vars = (d.templating?.list ?? [])
    .filter((v) => v.type === 'query' && v.datasource?.uid === POSTGRES.uid)
    .map((v) => ({
      dashboard: d.uid!,
      panel: `$${v.name}`,
      refId: 'variable',
      rawSql: String(v.query),
      format: 'table' as const,
    }));
  const panels = targetsOf(d, POSTGRES.uid).map(({ panel, target: t }) => ({
    dashboard: d.uid!,
    panel,
    refId: String(t.refId),
    rawSql: String(t.rawSql),
    format: t.format === 'time_series' ? ('time_series' as const) : ('table' as const),
  }));
  return [...vars, ...panels];
}

/** The dashboard's variables by name. */
export function variablesOf(d: Dashboard): Map<string, VariableModel> {
  return new Map((d.templating?.list ?? []).map((v) => [v.name, v]));
}

const iso = (t: Date) => `${t.toISOString().slice(0, 19)}Z`;

/**
 * What Grafana's PostgreSQL data source sends for `rawSql`: the time macros used by Harbour's
 * dashboards, and template variables (a multi-value variable as a quoted, comma-separated list,
 * a single-value one as is). Any other macro is an error, so a new one gets added here first.
 */
export function expandSql(
  rawSql: string,
  range: TimeRange,
  vars: Record<string, { value: string | string[]; multi: boolean }>,
): string {
  let out = rawSql
    .replace(
      /\$__timeFilter\(([^)]+)\)/g,
      (_m, col: string) => `${col.trim()} BETWEEN '${iso(range.from)}' AND '${iso(range.to)}'`,
    )
    .replace(/\$__timeFrom\(\)/g, `'${iso(range.from)}'`)
    .replace(/\$__timeTo\(\)/g, `'${iso(range.to)}'`);
  const unknownMacro = /\$__\w+/.exec(out);
  if (unknownMacro) throw new Error(`SQL macro ${unknownMacro[0]} is not supported by expandSql`);
  out = out.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    const v = vars[name];
    if (!v) throw new Error(`SQL uses variable ${m} that has no value`);
    const values = Array.isArray(v.value) ? v.value : [v.value];
    // Grafana: multi-value → quoted literals; single value → as is, quotes doubled.
    return v.multi
      ? values.map((x) => `'${x.replace(/'/g, "''")}'`).join(',')
      : values.join(',').replace(/'/g, "''");
  });
  return out;
}

/** PromQL with Grafana's interval variables replaced (a panel has no other variables). */
export function expandPromQL(
  expr: string,
  opts: { rateInterval: string; interval: string; range: string },
): string {
  const out = expr
    .replace(/\$__rate_interval/g, opts.rateInterval)
    .replace(/\$__interval/g, opts.interval)
    .replace(/\$__range/g, opts.range);
  if (out.includes('$')) throw new Error(`PromQL uses an unsupported variable: ${expr}`);
  return out;
}
