import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  DATASETS,
  ErrorCodes,
  GOLD_SCHEMA,
  type GoldTable,
  goldTables,
  HarbourError,
  isHarbourError,
} from '../contracts/index.ts';
import { addDays, createCalendar, localDate, type TradingCalendar } from '../services/calendar/index.ts';
import { unsentOutbox } from '../services/catalog/index.ts';
import { backfill, lakeList } from '../services/cli/commands.ts';
import { writeWorkbook } from '../services/gold/index.ts';
import { type HarbourConfig, type Host, harbourConfigSchema, startHost } from '../services/host.ts';
import { createLogger, loadConfig } from '../services/runtime/index.ts';
import { consumerNames, streamNames } from '../streams/index.ts';
import { defaultSamplesDir, type FixtureSite, startFixtureSite } from './fixture-site/index.ts';
import { freePort } from './launcher/free-port.ts';
import { type PrometheusHandle, startPrometheus } from './launcher/prometheus.ts';
import { type Stack, startStack } from './launcher/stack.ts';

export interface DemoOptions {
  dataDir: string;
  /** Where the example workbook goes (default `./out`). */
  outDir?: string;
  externalPgUrl?: string;
  /** Trading days to collect, ending with the last trading day before today (Hong Kong). */
  days?: number;
  /** Watch list: CCASS and fundamentals are collected for these stocks. */
  codes?: string[];
  /** Start Prometheus scraping the services (default true; skipped with a note when it cannot be installed). */
  prometheus?: boolean;
  /** Resolves when the demo should stop; default: right after the workbook is written. */
  keepRunning?: () => Promise<void>;
  print: (line: string) => void;
}

export interface DemoResult {
  stack: Record<string, string>;
  dates: string[];
  scraped: Record<string, Record<string, number>>;
  lake: { files: number; rows: number; bytes: number };
  gold: Record<string, number>;
  workbook: { path: string; bytes: number; sheets: string[]; rows: number };
  exporterUrl: string;
}

export const DEMO_CODES = ['00700', '00005', '00001', '00388', '02800'];

/** Logs one line of the demo's progress, stamped with the time since it started. */
type Step = (msg: string) => void;

/** What the demo has started, stopped in reverse order whatever happened. */
interface Running {
  stack?: Stack;
  site?: FixtureSite;
  host?: Host;
  prometheus?: PrometheusHandle;
}

/**
 * The main job on embedded defaults: start the local stack and the fixture HKEX site, run every
 * Harbour service in this process, collect a few trading days of every dataset through the real
 * pipeline (scrapers → JetStream → compactor → lake → transformer → gold), write an example
 * workbook with the exporter's code, and stop cleanly.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const t0 = Date.now();
  const step: Step = (msg) => opts.print(`[demo +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
  const codes = opts.codes ?? DEMO_CODES;
  const running: Running = {};
  try {
    const { config, host, described, exporterUrl } = await startDemoServices(opts, codes, step, running);
    const calendar = createCalendar(config.market);
    const today = localDate(new Date(), 'Asia/Hong_Kong');
    const dates = tradingDaysBefore(calendar, today, opts.days ?? 5);
    const [from, to] = [dates[0]!, dates.at(-1)!];
    step(`collecting ${from} .. ${to} (${dates.length} trading days), watch list ${codes.join(', ')}`);
    // Fundamentals are a snapshot of now (the quote widget has no history): the latest trading day only.
    const snapshot = calendar.previousTradingDay(addDays(today, 1));
    const scraped = await collect(config, host, { from, to, snapshot }, step);

    step('waiting for the compactor to commit everything to the lake');
    await waitIdle(
      host,
      DATASETS.map((d) => [streamNames.raw, consumerNames.compactor(d)] as const),
    );
    const lake = await lakeSummary(host, step);

    step('waiting for the transformer to build silver and gold');
    await waitOutboxSent(host);
    await waitIdle(host, [[streamNames.events, consumerNames.transformer]]);
    const gold = await goldCounts(host, step);

    const workbook = await writeDemoWorkbook(host, resolve(opts.outDir ?? 'out'), { codes, from, to }, step);
    step(
      `exporter: ${exporterUrl}/  (e.g. ${exporterUrl}/export.xlsx?codes=${codes.slice(0, 2).join(',')}&from=${from}&to=${to})`,
    );
    if (opts.keepRunning) {
      step('running until Ctrl-C');
      await opts.keepRunning();
    }
    return { stack: described, dates, scraped, lake, gold, workbook, exporterUrl };
  } finally {
    await running.host?.close();
    await running.prometheus?.stop();
    await running.site?.close();
    await running.stack?.stop();
    step('stopped');
  }
}

/**
 * Starts the stack, the fixture site, every service in this process (their sources pointed at the
 * site) and, when asked and installable, Prometheus; each goes into `running` as soon as it is up,
 * so a failure part way still stops what was started.
 */
async function startDemoServices(
  opts: DemoOptions,
  codes: string[],
  step: Step,
  running: Running,
): Promise<{ config: HarbourConfig; host: Host; described: Record<string, string>; exporterUrl: string }> {
  step(`starting the stack in ${opts.dataDir}`);
  const stack = await startStack({
    dataDir: opts.dataDir,
    ...(opts.externalPgUrl ? { externalPgUrl: opts.externalPgUrl } : {}),
    log: step,
  });
  running.stack = stack;
  const site = await startFixtureSite({ samplesDir: defaultSamplesDir(), seed: 1, stocks: 40 });
  running.site = site;
  const exporterPort = await freePort();
  const config = loadConfig(harbourConfigSchema(), {
    env: {},
    base: {
      nats: { url: stack.nats.url },
      postgres: { url: stack.postgres.url },
      objectStore: stack.objectStore,
      ops: { port: 0 },
      log: { level: 'warn' },
      scrapers: {
        sources: { ccassBaseUrl: site.url, hkexBaseUrl: site.url, quoteBaseUrl: site.url },
        http: { requestsPerSecond: 50, burst: 20, perHostConcurrency: 4 },
        codes,
        concurrency: 8,
      },
      compactor: { spoolDir: join(opts.dataDir, 'spool', 'compactor') },
      exporter: { port: exporterPort },
      reporter: { watchList: codes },
    },
  }) as HarbourConfig;
  const host = await startHost(config, { logger: createLogger({ level: 'warn' }) });
  running.host = host;
  const exporterUrl = `http://127.0.0.1:${exporterPort}`;
  const described: Record<string, string> = {
    ...stack.describe(),
    'fixture HKEX site': site.url,
    'metrics/health': host.opsUrl,
    exporter: exporterUrl,
  };
  if (opts.prometheus !== false) {
    try {
      running.prometheus = await startPrometheus({
        dataDir: join(opts.dataDir, 'prometheus'),
        targets: [new URL(host.opsUrl).host],
      });
      described.prometheus = running.prometheus.url;
    } catch (err) {
      if (!isHarbourError(err)) throw err;
      step(`prometheus not started: ${err.message}`);
    }
  }
  for (const [what, where] of Object.entries(described)) step(`${what.padEnd(18)} ${where}`);
  step(`services running: ${host.services.join(', ')}`);
  return { config, host, described, exporterUrl };
}

/** The last `days` trading days before `today`, oldest first. */
function tradingDaysBefore(calendar: TradingCalendar, today: string, days: number): string[] {
  const dates: string[] = [];
  for (let d = addDays(today, -1); dates.length < days; d = addDays(d, -1)) {
    if (calendar.isTradingDay(d)) dates.unshift(d);
  }
  return dates;
}

/**
 * Backfills every dataset over `from`..`to`, except the List of Securities (on `to` only) and
 * fundamentals (on `snapshot` only).
 */
async function collect(
  config: HarbourConfig,
  host: Host,
  { from, to, snapshot }: { from: string; to: string; snapshot: string },
  step: Step,
): Promise<DemoResult['scraped']> {
  const scraped: DemoResult['scraped'] = {};
  for (const dataset of DATASETS) {
    const range =
      dataset === 'securities'
        ? { from: to, to }
        : dataset === 'fundamentals'
          ? { from: snapshot, to: snapshot }
          : { from, to };
    const r = await backfill(config, host.deps, { dataset, ...range, workers: false, label: 'demo' });
    scraped[dataset] = r.byStatus;
    step(
      `scraped ${dataset}: ${Object.entries(r.byStatus)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}`,
    );
  }
  return scraped;
}

/** The lake catalog's totals, with a line per dataset. */
async function lakeSummary(host: Host, step: Step): Promise<DemoResult['lake']> {
  const files = await lakeList(host.deps, {});
  for (const dataset of DATASETS) {
    const of = files.filter((f) => f.dataset === dataset);
    step(`lake ${dataset.padEnd(12)} ${of.length} files, ${of.reduce((a, f) => a + f.rows, 0)} rows`);
  }
  return {
    files: files.length,
    rows: files.reduce((a, f) => a + f.rows, 0),
    bytes: files.reduce((a, f) => a + f.bytes, 0),
  };
}

/** Rows in each gold table. */
async function goldCounts(host: Host, step: Step): Promise<Record<string, number>> {
  const gold: Record<string, number> = {};
  for (const table of Object.keys(goldTables) as GoldTable[]) {
    const { rows } = await host.deps.pool.query(`select count(*) as n from ${GOLD_SCHEMA}.${table}`);
    gold[table] = Number(rows[0].n);
  }
  step(
    `gold: ${Object.entries(gold)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}`,
  );
  return gold;
}

/** The example workbook (every sheet kind for the watch list over the range), written with the exporter's code. */
async function writeDemoWorkbook(
  host: Host,
  outDir: string,
  { codes, from, to }: { codes: string[]; from: string; to: string },
  step: Step,
): Promise<DemoResult['workbook']> {
  await mkdir(outDir, { recursive: true });
  const path = join(outDir, `harbour-demo-${to}.xlsx`);
  const out = createWriteStream(path);
  const closed = new Promise<void>((res, rej) => {
    out.once('close', res);
    out.once('error', rej);
  });
  const stats = await writeWorkbook(
    host.deps.pool,
    { codes, from, to, sheets: ['summary', 'prices', 'ccass'] },
    out,
  );
  await closed;
  const workbook = { path, bytes: out.bytesWritten, sheets: stats.sheets, rows: stats.rows };
  step(
    `workbook written: ${path} (sheets ${workbook.sheets.join(', ')}; ${workbook.rows} rows, ${workbook.bytes} bytes)`,
  );
  return workbook;
}

async function waitIdle(
  host: Host,
  consumers: readonly (readonly [string, string])[],
  timeoutMs = 180_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let idle = true;
    for (const [stream, consumer] of consumers) {
      const info = await host.deps.jsm.consumers.info(stream, consumer);
      if (info.num_pending + info.num_ack_pending > 0) idle = false;
    }
    if (idle) return;
    if (Date.now() > end)
      throw new HarbourError(
        ErrorCodes.StartTimeout,
        `${consumers.map((c) => c[1]).join(', ')} did not catch up in time`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function waitOutboxSent(host: Host, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await unsentOutbox(host.deps.pool, 1)).length > 0) {
    if (Date.now() > end)
      throw new HarbourError(ErrorCodes.StartTimeout, 'commit events were not published in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}
