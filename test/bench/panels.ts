/**
 * Times every SQL query of the Grafana dashboards (panel targets and query-backed variables) on a
 * Harbour Postgres, as Grafana sends them on load (`grafana/src/run-queries.ts`): variables at their
 * defaults (a custom variable its default, a query variable its first value, a multi-value one
 * too: Grafana selects the first option of a variable without "All"), each dashboard's default time
 * range (`now-180d`, `now-30d`, …) with `now` at the end of the data's last day. Each query runs once untimed, then three times; its time is the best of
 * the three (client round trip through `pg`, every row fetched). A query that fails throws.
 *
 * The scale benchmark runs it on the year's data and puts the table in its RESULTS.md section;
 * standalone, against an existing database (prints the same lines):
 *
 *   npx tsx test/bench/panels.ts --postgres-url <url> [--last-day YYYY-MM-DD]
 *
 * `--last-day` defaults to the latest trade date in `gold.daily_prices`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '@grafana/schema';
import pg from 'pg';
import { dashboards } from '../../grafana/src/index.ts';
import { defaultTimeRange, runSqlQueries, type SqlClient } from '../../grafana/src/run-queries.ts';
import * as flag from './flags.ts';
import { markdownTable } from './results.ts';

/** A query answers "in time" below this (issue #21: every SQL panel < 1 s on the year's data). */
export const PANEL_BUDGET_MS = 1000;
const WARMUP = 1;
const REPEAT = 3;

export interface PanelTiming {
  /** Dashboard uid. */
  dashboard: string;
  /** Panel title, or `$name` for a variable's query. */
  panel: string;
  refId: string;
  rows: number;
  timesMs: number[];
  bestMs: number;
}

/** The latest trade date in gold (`YYYY-MM-DD`): the day the time ranges end on by default. */
export async function latestDay(client: SqlClient): Promise<string> {
  const { rows } = await client.query('select max(trade_date)::text as d from gold.daily_prices');
  const day = rows[0]?.d;
  if (typeof day !== 'string') throw new Error('gold.daily_prices has no trade date: pass --last-day');
  return day;
}

/** `now` for the time ranges: the end of `lastDay` (UTC). */
const nowAt = (lastDay: string) => new Date(`${lastDay}T23:59:59Z`);

/** Times every SQL query of `boards` (default: every dashboard) with `now` at the end of `lastDay`. */
export async function timePanels(
  client: SqlClient,
  lastDay: string,
  boards: { file: string; dashboard: Dashboard }[] = dashboards(),
): Promise<PanelTiming[]> {
  const out: PanelTiming[] = [];
  for (const { dashboard } of boards) {
    const range = defaultTimeRange(dashboard, nowAt(lastDay));
    for (const run of await runSqlQueries(client, dashboard, range, { warmup: WARMUP, repeat: REPEAT })) {
      out.push({
        dashboard: run.query.dashboard,
        panel: run.query.panel,
        refId: run.query.refId,
        rows: run.rows.length,
        timesMs: run.timesMs,
        bestMs: Math.min(...run.timesMs),
      });
    }
  }
  return out;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => n.toFixed(1);

/** The table and its summary, as Markdown lines (the scale section of RESULTS.md, or stdout). */
export function panelTimingLines(
  timed: PanelTiming[],
  lastDay: string,
  boards: { file: string; dashboard: Dashboard }[] = dashboards(),
): string[] {
  const ranges = boards
    .filter(({ dashboard }) => timed.some((t) => t.dashboard === dashboard.uid))
    .map(({ dashboard }) => `${dashboard.uid} \`${dashboard.time?.from ?? 'now-6h'}\``)
    .join(', ');
  const targets = (t: PanelTiming) =>
    timed.filter((o) => o.dashboard === t.dashboard && o.panel === t.panel).length;
  const name = (t: PanelTiming) =>
    t.refId === 'variable'
      ? `\`${t.panel}\` (variable)`
      : targets(t) > 1
        ? `${t.panel} (${t.refId})`
        : t.panel;
  const slowest = timed.reduce((a, b) => (b.bestMs > a.bestMs ? b : a), timed[0]!);
  const over = timed.filter((t) => t.bestMs >= PANEL_BUDGET_MS);
  const empty = timed.filter((t) => t.rows === 0);
  return [
    `Grafana SQL panels: every SQL query of the dashboards (query-backed variables first, then panel targets) on this Postgres, as Grafana sends it on load (\`grafana/src/run-queries.ts\`, \`test/bench/panels.ts\`). Variables at Grafana's defaults: a custom variable its default, a query variable its first value, a multi-value one (\`$code\`, no "All" option) its first value too, as Grafana selects on a first load. Time range: each dashboard's default range with now = the end of the data's last day, ${lastDay} 23:59:59 UTC (${ranges}). Time: client round trip through \`pg\` with every row fetched, best of ${REPEAT} after ${WARMUP} warm-up run.`,
    '',
    ...markdownTable(
      ['dashboard', 'panel', 'rows', 'time (ms)'],
      timed.map((t) => [t.dashboard, name(t), fmt(t.rows), ms(t.bestMs)]),
      (c) => c >= 2,
    ),
    '',
    `Slowest: ${ms(slowest.bestMs)} ms (${slowest.dashboard} / ${name(slowest)}). ` +
      (over.length
        ? `**Not all under 1 s**: ${over.length} of ${timed.length} queries take ≥ ${PANEL_BUDGET_MS} ms (${over.map((t) => `${t.dashboard} / ${name(t)}`).join('; ')}).`
        : `**All ${timed.length} queries answer in < 1 s.**`) +
      (empty.length
        ? ` No rows in the range: ${empty.map((t) => `${t.dashboard} / ${name(t)}`).join('; ')}.`
        : ''),
  ];
}

async function main(): Promise<void> {
  const flags = flag.readFlags(
    { 'postgres-url': flag.str(process.env.HARBOUR_POSTGRES_URL ?? null), 'last-day': flag.str(null) },
    process.argv.slice(2),
    'usage: npx tsx test/bench/panels.ts --postgres-url <url> [--last-day YYYY-MM-DD]',
  );
  const url = flags['postgres-url'];
  if (!url) throw new Error('--postgres-url is required (or HARBOUR_POSTGRES_URL)');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const lastDay = flags['last-day'] ?? (await latestDay(pool));
    if (!/^\d{4}-\d{2}-\d{2}$/.test(lastDay)) throw new Error(`--last-day is YYYY-MM-DD, got "${lastDay}"`);
    console.log(panelTimingLines(await timePanels(pool, lastDay), lastDay).join('\n'));
  } finally {
    await pool.end();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
