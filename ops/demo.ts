import { DATASETS, type Dataset } from '../contracts/index.ts';
import { backfill, lakeList } from '../services/cli/commands.ts';
import { type HarbourConfig, type Host, harbourConfigSchema, startHost } from '../services/host.ts';
import { createLogger, loadConfig } from '../services/runtime/index.ts';
import { addDays, createCalendar, localDate } from '../services/scheduler/index.ts';
import { consumerNames, streamNames } from '../streams/index.ts';
import { defaultSamplesDir, type FixtureSite, startFixtureSite } from './fixture-site/index.ts';
import { type Stack, startStack } from './launcher/stack.ts';

export interface DemoOptions {
  dataDir: string;
  externalPgUrl?: string;
  /** Trading days to collect, ending with the last trading day before today (Hong Kong). */
  days?: number;
  /** Watch list: CCASS and fundamentals are collected for these stocks. */
  codes?: string[];
  print: (line: string) => void;
}

export interface DemoResult {
  stack: Record<string, string>;
  dates: string[];
  scraped: Record<string, Record<string, number>>;
  lake: { files: number; rows: number; bytes: number };
}

export const DEMO_CODES = ['00700', '00005', '00001', '00388', '02800'];

/**
 * The main job on embedded defaults: start the local stack and the fixture HKEX site, run every
 * Harbour service in this process, collect a few trading days of every dataset through the real
 * pipeline (JetStream → compactor → lake → …), report what was built, and stop cleanly.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const t0 = Date.now();
  const step = (msg: string) => opts.print(`[demo +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
  const codes = opts.codes ?? DEMO_CODES;
  let stack: Stack | undefined;
  let site: FixtureSite | undefined;
  let host: Host | undefined;
  try {
    step(`starting the stack in ${opts.dataDir}`);
    stack = await startStack({
      dataDir: opts.dataDir,
      ...(opts.externalPgUrl ? { externalPgUrl: opts.externalPgUrl } : {}),
      log: step,
    });
    site = await startFixtureSite({ samplesDir: defaultSamplesDir(), seed: 1, stocks: 40 });
    const described = { ...stack.describe(), 'fixture HKEX site': site.url };
    for (const [what, where] of Object.entries(described)) step(`${what.padEnd(18)} ${where}`);

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
        compactor: { flushAgeMs: 1000, spoolDir: `${opts.dataDir}/spool/compactor` },
      },
    }) as HarbourConfig;
    host = await startHost(config, { logger: createLogger({ level: 'warn' }) });
    step(`services running: ${host.services.join(', ')} (metrics and health on ${host.opsUrl})`);

    const calendar = createCalendar();
    const today = localDate(new Date(), 'Asia/Hong_Kong');
    const dates: string[] = [];
    for (let d = addDays(today, -1); dates.length < (opts.days ?? 5); d = addDays(d, -1))
      if (calendar.isTradingDay(d)) dates.unshift(d);
    const [from, to] = [dates[0]!, dates.at(-1)!];
    step(`collecting ${from} .. ${to} (${dates.length} trading days), watch list ${codes.join(', ')}`);
    const scraped: DemoResult['scraped'] = {};
    for (const dataset of DATASETS) {
      const range = dataset === 'securities' ? { from: to, to } : { from, to };
      const r = await backfill(config, host.deps, { dataset, ...range, workers: false, label: 'demo' });
      scraped[dataset] = r.byStatus;
      step(
        `scraped ${dataset}: ${Object.entries(r.byStatus)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}`,
      );
    }

    step('waiting for the compactor to commit everything to the lake');
    await waitForCompaction(host, DATASETS);
    const files = await lakeList(host.deps, {});
    const lake = {
      files: files.length,
      rows: files.reduce((a, f) => a + f.rows, 0),
      bytes: files.reduce((a, f) => a + f.bytes, 0),
    };
    for (const dataset of DATASETS) {
      const of = files.filter((f) => f.dataset === dataset);
      step(`lake ${dataset.padEnd(12)} ${of.length} files, ${of.reduce((a, f) => a + f.rows, 0)} rows`);
    }
    return { stack: described, dates, scraped, lake };
  } finally {
    await host?.close();
    await site?.close();
    await stack?.stop();
    step('stopped');
  }
}

async function waitForCompaction(
  host: Host,
  datasets: readonly Dataset[],
  timeoutMs = 120_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let idle = true;
    for (const d of datasets) {
      const info = await host.deps.jsm.consumers.info(streamNames.raw, consumerNames.compactor(d));
      if (info.num_pending + info.num_ack_pending > 0) idle = false;
    }
    if (idle) return;
    if (Date.now() > end) throw new Error('the compactor did not catch up in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}
