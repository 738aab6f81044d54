import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startStack } from '../ops/launcher/stack.ts';
import { readStackSettings } from '../services/runtime/index.ts';
import type { GoldRowLineage } from '../services/transformer/index.ts';
import { type CliRun, nodeWithTsx, runHarbour, withoutHarbourEnv } from './support/cli.ts';
import { testDir } from './support/infra.ts';
import { freePort, until } from './support/service-process.ts';

const repo = join(import.meta.dirname, '..');

/** `npm run harbour -- <args>` as a user runs it in `cwd`, with `env` (default: nothing exported). */
const harbour = (
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv = withoutHarbourEnv(),
): Promise<CliRun> => runHarbour(args, { cwd, env });

function spawnLogged(
  cwd: string,
  script: string,
  args: string[] = [],
): { child: ChildProcess; output: () => string } {
  const [bin, argv] = nodeWithTsx(script, ...args);
  const child = spawn(bin, argv, { cwd, env: withoutHarbourEnv() });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return { child, output: () => out };
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once('exit', () => r()));

/**
 * The one-machine path of the README, offline: `npm run stack -- --fixture-site` in one shell; in
 * another shell where nothing is exported, `npm start` and `npm run harbour` find the stack through
 * `.harbour/stack.env`, a backfill reaches gold, and `trace` / `GET /lineage` name the lake files and
 * RAW sequences that hold the gold row (checked with DuckDB over those files).
 */
describe('npm run stack -- --fixture-site, then npm start and harbour with no exports', () => {
  const procs: ChildProcess[] = [];
  // After a failure: stop what still runs the way a person would (so the stack stops its servers),
  // by force only if that takes too long.
  afterAll(async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGINT');
      const force = setTimeout(() => p.kill('SIGKILL'), 40_000);
      await exited(p);
      clearTimeout(force);
    }
  }, 120_000);

  it('runs the README path end to end and traces a gold row to its lake files', async () => {
    const dir = await testDir('stack');
    const stack = spawnLogged(dir, join(repo, 'ops', 'main.ts'), ['stack', '--fixture-site']);
    procs.push(stack.child);
    const settingsPath = join(dir, '.harbour', 'stack.env');
    await until(async () => existsSync(settingsPath), 90_000, `stack settings file\n${stack.output()}`, 250);
    const settings = readStackSettings(settingsPath);
    expect(settings?.stale).toBe(false);
    const vars = settings?.vars ?? {};
    expect(vars.HARBOUR_NATS_URL).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(vars.HARBOUR_SCRAPERS_SOURCES_HKEX_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const site = vars.HARBOUR_SCRAPERS_SOURCES_HKEX_BASE_URL as string;

    // A second stack on the same directory would overwrite (and on exit delete) the first's settings.
    const second = spawnLogged(dir, join(repo, 'ops', 'main.ts'), ['stack']);
    await exited(second.child);
    expect(second.child.exitCode).toBe(1);
    expect(second.output()).toContain('a stack is already running');
    expect(readStackSettings(settingsPath)?.vars).toEqual(vars);

    // `harbour config`: effective values and where they come from.
    const cfg = await harbour(dir, ['config', '--json']);
    expect(cfg.code, cfg.stderr).toBe(0);
    const shown = JSON.parse(cfg.stdout) as { settings: { env: string; value: unknown; origin: string }[] };
    const setting = (env: string) => shown.settings.find((s) => s.env === env);
    expect(setting('HARBOUR_NATS_URL')).toMatchObject({ value: vars.HARBOUR_NATS_URL, origin: 'stack' });
    expect(setting('HARBOUR_SCRAPERS_SOURCES_CCASS_BASE_URL')).toMatchObject({
      value: site,
      origin: 'stack',
    });
    expect(setting('HARBOUR_EXPORTER_PORT')).toMatchObject({ value: 8080, origin: 'default' });

    // `lake ls` in a shell with nothing exported: it reaches the stack's Postgres.
    const empty = await harbour(dir, ['lake', 'ls', '--json']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual([]);

    // `npm start` with a config file for what a second instance on this machine must not share
    // (ports); the compactor keeps its defaults: a run is committed as soon as its last job ends.
    const exporterPort = await freePort();
    await writeFile(
      join(dir, 'harbour.json'),
      JSON.stringify({
        ops: { port: 0 },
        exporter: { port: exporterPort },
        log: { level: 'info' },
      }),
    );
    const fileCfg = await harbour(dir, ['--config', 'harbour.json', 'config', '--json']);
    const fromFile = JSON.parse(fileCfg.stdout) as typeof shown;
    expect(fromFile.settings.find((s) => s.env === 'HARBOUR_EXPORTER_PORT')).toMatchObject({
      value: exporterPort,
      origin: 'file',
    });
    const start = spawnLogged(dir, join(repo, 'services', 'main.ts'), ['--config', 'harbour.json']);
    procs.push(start.child);
    const exporter = `http://127.0.0.1:${exporterPort}`;
    await until(
      async () => (await fetch(`${exporter}/healthz`).catch(() => undefined))?.ok === true,
      90_000,
      `npm start healthy\n${start.output()}`,
      250,
    );
    expect(start.output()).toContain('using the settings of `npm run stack`');

    // The README's backfill, against the fixture site, offline.
    const date = '2026-10-02';
    const backfill = await harbour(dir, ['backfill', '--dataset', 'quotes', '--from', date, '--to', date]);
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(JSON.parse(backfill.stdout).byStatus).toEqual({ done: 1 });

    const pool = new pg.Pool({ connectionString: vars.HARBOUR_POSTGRES_URL, max: 2 });
    try {
      let code = '';
      await until(
        async () => {
          const { rows } = await pool
            .query<{ code: string }>(
              "select code from gold.daily_prices where trade_date = $1 and status = 'traded' order by code limit 1",
              [date],
            )
            .catch(() => ({ rows: [] as { code: string }[] }));
          code = rows[0]?.code ?? '';
          return code !== '';
        },
        120_000,
        `gold.daily_prices for ${date}\n${start.output().slice(-3000)}`,
        500,
      );
      const { rows: gold } = await pool.query<{ close: number }>(
        'select close::float8 as close from gold.daily_prices where code = $1 and trade_date = $2',
        [code, date],
      );

      // trace: files in the catalog, sequence ranges holding the row, fetches from the fixture site.
      const traced = await harbour(dir, ['trace', 'daily_prices', '--code', code, '--date', date]);
      expect(traced.code, traced.stderr).toBe(0);
      const lineage = JSON.parse(traced.stdout) as GoldRowLineage;
      expect(lineage).toMatchObject({ model: 'daily_prices', key: code, date, gold_rows: 1 });
      expect(lineage.sources.length).toBeGreaterThan(0);
      const root = vars.HARBOUR_OBJECT_STORE_ROOT as string;
      const duck = await (await DuckDBInstance.create(':memory:')).connect();
      for (const s of lineage.sources) {
        const { rows: cat } = await pool.query(
          'select status, first_seq::float8 as first_seq, last_seq::float8 as last_seq from lake_files where file_key = $1',
          [s.file_key],
        );
        expect(cat[0]).toMatchObject({ status: 'active' });
        expect(s.first_seq).toBeGreaterThanOrEqual(cat[0].first_seq);
        expect(s.last_seq).toBeLessThanOrEqual(cat[0].last_seq);
        const reader = await duck.runAndReadAll(
          `select count(*)::int as n, max(close)::double as close from read_parquet('${join(root, s.file_key)}')
           where code = '${code}' and trade_date = '${date}' and _seq between ${s.first_seq} and ${s.last_seq}`,
        );
        const [row] = reader.getRowObjectsJson() as { n: number; close: number }[];
        expect(row?.n).toBe(s.rows);
        expect(row?.close).toBe(gold[0]?.close);
        expect(s.fetches.length).toBeGreaterThan(0);
        for (const f of s.fetches) {
          expect(f.source_url.startsWith(`${site}/`)).toBe(true);
          expect(Number.isNaN(Date.parse(f.fetched_at))).toBe(false);
          expect(f.seq).toBeGreaterThanOrEqual(s.first_seq);
          expect(f.seq).toBeLessThanOrEqual(s.last_seq);
        }
      }
      duck.closeSync();

      // The exporter answers the same, and names a bad parameter.
      const web = await fetch(`${exporter}/lineage?model=daily_prices&code=${Number(code)}&date=${date}`);
      expect(web.status).toBe(200);
      expect(await web.json()).toEqual(lineage);
      const badModel = await fetch(`${exporter}/lineage?model=nope&code=${code}&date=${date}`);
      expect(badModel.status).toBe(400);
      expect(await badModel.json()).toMatchObject({ parameter: 'model' });
      const noCode = await fetch(`${exporter}/lineage?model=daily_prices&date=${date}`);
      expect(noCode.status).toBe(400);
      expect(await noCode.json()).toMatchObject({ parameter: 'code' });
      const badDate = await fetch(`${exporter}/lineage?model=daily_prices&code=${code}&date=2026-13-01`);
      expect(await badDate.json()).toMatchObject({ parameter: 'date' });
      const none = await fetch(`${exporter}/lineage?model=daily_prices&code=${code}&date=2026-10-03`);
      expect(none.status).toBe(404);
    } finally {
      await pool.end();
    }

    // Shutdown: npm start first, then the stack, which removes its settings file.
    const running = start.output().length;
    start.child.kill('SIGTERM');
    await exited(start.child);
    const stopped = start
      .output()
      .slice(running)
      .split('\n')
      .filter((l) => l.includes('"msg":"service stopped"'))
      .map((l) => JSON.parse(l).service)
      .sort();
    expect(stopped).toEqual([
      'compactor',
      'exporter',
      'monitor',
      'reporter',
      'scheduler',
      'scrapers',
      'transformer',
    ]);
    const before = stack.output().length;
    stack.child.kill('SIGINT');
    await exited(stack.child);
    expect(stack.child.exitCode).toBe(0);
    const shutdown = stack.output().slice(before);
    expect(shutdown).toContain('postgres stopped');
    expect(shutdown).toContain('nats-server stopped');
    expect(shutdown.split('\n').filter(Boolean).length).toBeLessThanOrEqual(8);
    expect(existsSync(settingsPath)).toBe(false);
  }, 420_000);
});

/** A client whose late errors (the server stopping while it closes) are not the test's concern. */
async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

describe('the fs and s3 stacks', () => {
  it('keep their catalogs and JetStream stores apart in one data directory', async () => {
    const dataDir = await testDir('variants');
    const fsStack = await startStack({ dataDir, objectStore: 'fs' });
    try {
      const db = await connected(fsStack.postgres.url);
      await db.query('create table lake_marker (lake text)');
      await db.query("insert into lake_marker values ('fs')");
      await db.end();
    } finally {
      await fsStack.stop();
    }
    const s3Stack = await startStack({ dataDir, objectStore: 's3' });
    try {
      expect(new URL(fsStack.postgres.url).pathname).toBe('/harbour');
      expect(new URL(s3Stack.postgres.url).pathname).toBe('/harbour_s3');
      const db = await connected(s3Stack.postgres.url);
      const { rows } = await db.query("select to_regclass('lake_marker') as t");
      await db.end();
      expect(rows[0].t).toBeNull();
      expect(existsSync(join(dataDir, 'nats', 'jetstream'))).toBe(true);
      expect(existsSync(join(dataDir, 'nats-s3', 'jetstream'))).toBe(true);
    } finally {
      await s3Stack.stop();
    }
  }, 180_000);
});
