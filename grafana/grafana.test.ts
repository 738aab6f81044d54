import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Dashboard, Panel, RowPanel } from '@grafana/schema';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldTables } from '../contracts/index.ts';
import { migrateTransformer } from '../services/transformer/index.ts';
import { latestDay, panelTimingLines, timePanels } from '../test/bench/panels.ts';
import { createCcassChangesStage, serveCcassStage } from '../test/support/gold.ts';
import { freshDatabase } from '../test/support/infra.ts';
import { generatedFiles, staleFiles } from './build.ts';
import { dashboards, provisionedDatasources, sqlQueries, type TimeRange } from './src/index.ts';
import { runSqlQueries } from './src/run-queries.ts';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');

/** The dashboards as committed (what Grafana loads), not as the sources build them. */
async function committedDashboards(): Promise<{ file: string; dashboard: Dashboard }[]> {
  return Promise.all(
    dashboards().map(async ({ file }) => ({
      file,
      dashboard: JSON.parse(await readFile(join(ROOT, 'grafana', 'dashboards', file), 'utf8')) as Dashboard,
    })),
  );
}

/** uid → type of each data source in the committed provisioning file. */
async function provisionedOnDisk(): Promise<Map<string, string>> {
  const text = await readFile(join(ROOT, 'grafana', 'provisioning', 'datasources', 'harbour.yaml'), 'utf8');
  const out = new Map<string, string>();
  for (const item of text.split(/\n {2}- /).slice(1)) {
    const uid = /^\s*uid: (\S+)$/m.exec(item)?.[1];
    const type = /^\s*type: (\S+)$/m.exec(item)?.[1];
    if (uid && type) out.set(uid, type);
  }
  return out;
}

/**
 * Type-checks JSON documents against `@grafana/schema`'s `Dashboard` with the project's compiler:
 * each is pasted as an object literal with `satisfies Json<Dashboard>`, so a missing required field,
 * a wrong type or an unknown property (excess property check) is an error. `Json<T>` is `T` as it
 * travels in JSON: a string enum becomes the union of its values (JSON has no TS enums).
 */
const JSON_TYPE = `type Json<T> = T extends string ? \`\${T}\` : T extends number | boolean | null | undefined ? T
  : T extends readonly (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;`;

async function typecheckDashboards(
  docs: { name: string; json: unknown }[],
): Promise<{ ok: boolean; output: string }> {
  const dir = join(ROOT, 'node_modules', '.cache', `harbour-grafana-schema-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  try {
    const files: string[] = [];
    for (const [i, doc] of docs.entries()) {
      const file = `d${i}.ts`;
      await writeFile(
        join(dir, file),
        `// ${doc.name}\nimport type { Dashboard } from '@grafana/schema';\n${JSON_TYPE}\n` +
          `export const dashboard = ${JSON.stringify(doc.json, null, 2)} satisfies Json<Dashboard>;\n`,
      );
      files.push(file);
    }
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'es2023',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          skipLibCheck: true,
          types: [],
        },
        files,
      }),
    );
    try {
      const { stdout, stderr } = await exec(
        join(ROOT, 'node_modules', '.bin', 'tsc'),
        ['-p', join(dir, 'tsconfig.json')],
        { cwd: ROOT },
      );
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('dashboards as code', () => {
  it('the committed dashboards and provisioning files are what grafana/build.ts generates', async () => {
    expect(await staleFiles()).toEqual([]);
    expect([...generatedFiles().keys()].sort()).toEqual([
      'dashboards/data-quality.json',
      'dashboards/market.json',
      'dashboards/pipeline.json',
      'provisioning/dashboards/harbour.yaml',
      'provisioning/datasources/harbour.yaml',
    ]);
  });

  it('the committed dashboard JSON type-checks against @grafana/schema (and a broken one does not)', async () => {
    const docs = (await committedDashboards()).map(({ file, dashboard }) => ({
      name: file,
      json: dashboard,
    }));
    const good = await typecheckDashboards(docs);
    expect(good.output).toBe('');
    expect(good.ok).toBe(true);

    type Doc = Record<string, unknown> & { panels: Record<string, unknown>[] };
    const copy = () => structuredClone(docs[0]!.json) as unknown as Doc;
    const noType = copy();
    delete noType.panels[1]!.type;
    const stringWidth = copy();
    stringWidth.panels[2]!.gridPos = { x: 0, y: 0, w: '12', h: 8 };
    const typo = copy();
    typo.refreshh = '5s';
    const badMode = copy();
    badMode.graphTooltip = 7;
    const bad = await typecheckDashboards([
      { name: 'no type', json: noType },
      { name: 'string width', json: stringWidth },
      { name: 'typo', json: typo },
      { name: 'bad enum', json: badMode },
    ]);
    expect(bad.ok).toBe(false);
    expect(bad.output).toMatch(/d0\.ts[^\n]*\n[^\n]*Property 'type' is missing/);
    expect(bad.output).toMatch(/d1\.ts[^\n]*Type 'string' is not assignable to type 'number'/);
    expect(bad.output).toMatch(/d2\.ts[^\n]*refreshh[^\n]*does not exist/);
    expect(bad.output).toMatch(/d3\.ts[^\n]*Type '7' is not assignable/);
  });

  it('every panel and variable uses a provisioned data source, and the layout is sound', async () => {
    const provisioned = await provisionedOnDisk();
    expect(provisioned).toEqual(new Map(provisionedDatasources.map((d) => [d.uid, d.type])));
    const uids = new Set<string>();
    for (const { file, dashboard } of await committedDashboards()) {
      expect(dashboard.uid, file).toMatch(/^[a-z0-9-]{8,40}$/);
      expect(uids.has(dashboard.uid!), `${file}: uid unique`).toBe(false);
      uids.add(dashboard.uid!);
      const panels = (dashboard.panels ?? []) as (Panel | RowPanel)[];
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids unique`).toBe(ids.length);
      const cells = new Set<string>();
      for (const p of panels) {
        const g = p.gridPos!;
        expect(g.x + g.w, `${file} ${p.title}: within 24 columns`).toBeLessThanOrEqual(24);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            expect(cells.has(`${x},${y}`), `${file} ${p.title}: overlaps another panel`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
        if (p.type === 'row') continue;
        const panel = p as Panel;
        const ds = panel.datasource!;
        expect(provisioned.get(ds.uid!), `${file} ${panel.title}: data source ${ds.uid} provisioned`).toBe(
          ds.type,
        );
        expect(panel.targets?.length, `${file} ${panel.title}: has queries`).toBeGreaterThan(0);
        for (const t of panel.targets ?? []) {
          const tds = t.datasource as { uid: string; type: string };
          expect(provisioned.get(tds.uid), `${file} ${panel.title} ${t.refId}`).toBe(tds.type);
          expect(
            Boolean(t.expr) !== Boolean(t.rawSql),
            `${file} ${panel.title} ${t.refId}: PromQL or SQL`,
          ).toBe(true);
          if (t.expr) expect(tds.type).toBe('prometheus');
          if (t.rawSql) expect(tds.type).toBe('grafana-postgresql-datasource');
        }
      }
      for (const v of dashboard.templating?.list ?? []) {
        if (v.datasource)
          expect(provisioned.get(v.datasource.uid!), `${file} $${v.name}`).toBe(v.datasource.type);
      }
    }
  });
});

// ------------------------------------------------------------------ SQL panels on a real Postgres

const RANGE: TimeRange = { from: new Date('2026-09-01T00:00:00Z'), to: new Date('2026-10-31T23:59:59Z') };

/** CCASS changes as the transformer serves them (per-set arrays behind the gold.ccass_changes view). */
async function serveChanges(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const stage = await createCcassChangesStage(client, '_stage');
    await client.query(`insert into ${stage} values
      ('00001', '2026-10-05', '2026-10-02', 'C00019', 'C00019', 'HSBC NOMINEES', 1500000000, 1490000000, 'changed', 3800000000),
      ('00001', '2026-10-05', '2026-10-02', 'B01451', 'B01451', 'GOLDMAN SACHS', 300000000, 300000000, 'unchanged', 3800000000),
      ('00001', '2026-10-06', '2026-10-05', 'C00019', 'C00019', 'HSBC NOMINEES', 1510000000, 1500000000, 'changed', 3800000000),
      ('00001', '2026-10-06', '2026-10-05', 'B01451', 'B01451', 'GOLDMAN SACHS', 290000000, 300000000, 'changed', 3800000000),
      ('00001', '2026-10-06', '2026-10-05', 'MR CHAN', null, 'MR CHAN', 5000, 0, 'new', 3800000000)`);
    await serveCcassStage(client, stage, ['2026-10-05', '2026-10-06']);
    await client.query('commit');
  } finally {
    client.release();
  }
}

async function insertGoldRows(pool: pg.Pool): Promise<void> {
  await serveChanges(pool);
  await pool.query(`
    insert into gold.daily_prices (code, trade_date, name, currency, status, open, high, low, close, prev_close, change_pct, volume, turnover, directed_volume)
    select code, d::date, name, 'HKD', 'traded', null, c + 0.2, c - 0.2, c, c - 0.1, 1.0, v, v * c, case when i % 2 = 0 then v else -v end
    from (values ('00001', 'CKH HOLDINGS', 40.0), ('00005', 'HSBC HOLDINGS', 70.0)) s(code, name, base),
      generate_series(1, 5) as i,
      lateral (select date '2026-10-04' + i as d, base + i * 0.1 as c, 1000000.0 * i as v) x;
    insert into gold.rolling_directed_volume
    select code, trade_date, sum(directed_volume) over (partition by code order by trade_date), 1, directed_volume, 1
    from gold.daily_prices;
    insert into gold.monthly_high_low values
      ('00001', '2026-10-01', 40.1, 40.7, '2026-10-09', 39.9, '2026-10-05', 40.5, 15000000, 5),
      ('00005', '2026-10-01', 70.1, 70.7, '2026-10-09', 69.9, '2026-10-05', 70.5, 15000000, 5);
    insert into gold.ccass_concentration values
      ('00001', '2026-10-05', 3800000000, 610, 61.5, 75.2, 80.1, 1.2, 18.7),
      ('00001', '2026-10-06', 3800000000, 612, 61.7, 75.4, 80.3, 1.2, 18.5);
    insert into gold.stock_picker values
      ('00001', '2026-10-09', 'CKH HOLDINGS', 40.5, 5.1, 7.9, 4.2, 155000000000, 210000000, 0.00135),
      ('00005', '2026-10-09', 'HSBC HOLDINGS', 70.5, 6.2, 11.4, 5.9, 1300000000000, 2900000000, 0.00223);
    insert into gold.dq_freshness values
      ('quotes', '2026-10-09', '2026-10-09T10:40:00Z', 9600),
      ('ccass', '2026-10-06', '2026-10-07T01:10:00Z', 119400);
    insert into gold.dq_row_counts values
      ('quotes', '2026-10-08', 2, 2, 1), ('quotes', '2026-10-09', 2, 2, 1),
      ('ccass', '2026-10-06', 3, 4, 0.75), ('securities', '2026-10-09', 2, null, null);
    insert into transform_runs (run_id, batch_id, trigger, model, status, started_at, finished_at, duration_ms, tests, error)
    values
      ('b1:daily_prices', 'b1', 'event', 'daily_prices', 'failed', '2026-10-09T10:41:00Z', '2026-10-09T10:41:01Z', 812,
       '[{"test": "not_null(close)", "severity": "error", "failures": 3}, {"test": "unique(code, trade_date)", "severity": "error", "failures": 0}]',
       'model daily_prices failed 1 test(s): not_null(close) (3 rows)'),
      ('b2:dq_row_counts', 'b2', 'event', 'dq_row_counts', 'succeeded', '2026-10-07T01:11:00Z', '2026-10-07T01:11:00Z', 35,
       '[{"test": "range(ratio, 0, 1.5)", "severity": "warn", "failures": 1}]', null);
  `);
}

describe('SQL panels on Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    db = await freshDatabase();
    await migrateTransformer(db.pool);
    await insertGoldRows(db.pool);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('the gold tables have the columns of contracts/gold.ts', async () => {
    for (const [table, schema] of Object.entries(goldTables)) {
      const { rows } = await db.pool.query<{ column_name: string }>(
        `select column_name from information_schema.columns where table_schema = 'gold' and table_name = $1 order by ordinal_position`,
        [table],
      );
      expect(rows.map((r) => r.column_name).sort(), table).toEqual(Object.keys(schema.properties).sort());
    }
  });

  for (const { file, dashboard } of dashboards()) {
    const queries = sqlQueries(dashboard);
    if (!queries.length) continue;
    it(`every SQL query of ${file} runs and returns rows (${queries.length} queries)`, async () => {
      // Variables take the values Grafana would select by default (runSqlQueries): the first option (a multi-value one without "All" too).
      const runs = await runSqlQueries(db.pool, dashboard, RANGE);
      expect(runs.map((r) => r.query)).toEqual(queries);
      for (const { query: q, sql, rows, columns } of runs) {
        expect(rows.length, `${q.dashboard} / ${q.panel} ${q.refId} returns rows\n${sql}`).toBeGreaterThan(0);
        if (q.format === 'time_series') {
          expect(columns[0], `${q.panel}: first column is time`).toBe('time');
          expect(rows[0]!.time).toBeInstanceOf(Date);
          const values = columns.filter((c) => c !== 'time' && c !== 'metric');
          expect(values.length, `${q.panel}: has value columns`).toBeGreaterThan(0);
          for (const c of values) expect(typeof rows[0]![c], `${q.panel}: ${c} is a number`).toBe('number');
        }
      }
    });
  }

  it('the panel timing of the scale benchmark times every SQL query on the default range of its dashboard', async () => {
    const lastDay = await latestDay(db.pool);
    expect(lastDay).toBe('2026-10-09');
    const timed = await timePanels(db.pool, lastDay);
    const expected = dashboards().flatMap(({ dashboard }) => sqlQueries(dashboard));
    expect(timed.map((t) => [t.dashboard, t.panel, t.refId])).toEqual(
      expected.map((q) => [q.dashboard, q.panel, q.refId]),
    );
    for (const t of timed) {
      expect(t.timesMs, `${t.dashboard} / ${t.panel}`).toHaveLength(3);
      expect(t.bestMs).toBe(Math.min(...t.timesMs));
      expect(t.bestMs).toBeGreaterThan(0);
    }
    // On the fixture, the market's 180 days and data quality's 30 days before 2026-10-09 hold rows for every panel.
    expect(timed.filter((t) => t.rows === 0).map((t) => t.panel)).toEqual([]);
    const lines = panelTimingLines(timed, lastDay);
    expect(lines.filter((l) => l.startsWith('| harbour-')).length).toBe(timed.length);
    // A verdict either way (no timing threshold here: the fixture is not the year's data).
    expect(lines.at(-1)).toMatch(/^Slowest: [\d.]+ ms .*(All \d+ queries answer in < 1 s|Not all under 1 s)/);
  });

  it('the panel timing runs standalone against a database (npx tsx test/bench/panels.ts --postgres-url <url>)', async () => {
    const { stdout } = await exec(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test', 'bench', 'panels.ts'), '--postgres-url', db.url],
      { cwd: ROOT },
    );
    const queries = dashboards().flatMap(({ dashboard }) => sqlQueries(dashboard));
    expect(stdout).toContain('| dashboard            | panel');
    expect(stdout).toContain("now = the end of the data's last day, 2026-10-09 23:59:59 UTC");
    expect(stdout.split('\n').filter((l) => l.startsWith('| harbour-')).length).toBe(queries.length);
    expect(stdout).toMatch(new RegExp(`All ${queries.length} queries answer in < 1 s|Not all under 1 s`));
  });

  it('a failing query fails the run, naming its panel and the SQL sent', async () => {
    const broken = structuredClone(dashboards().find((d) => d.file === 'market.json')!.dashboard);
    const target = (broken.panels ?? []).flatMap((p) => ('targets' in p ? (p.targets ?? []) : []))[0]!;
    (target as { rawSql: string }).rawSql =
      'select * from gold.no_such_table where $__timeFilter(trade_date)';
    await expect(
      timePanels(db.pool, '2026-10-09', [{ file: 'market.json', dashboard: broken }]),
    ).rejects.toThrow(
      /harbour-market \/ Close A: relation "gold\.no_such_table" does not exist\nselect \* from gold\.no_such_table where trade_date BETWEEN/,
    );
  });
});
