import { readFile } from 'node:fs/promises';
import { DATASETS, type Dataset, ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { ensureTopology } from '../../streams/index.ts';
import { listFiles, migrateCatalog } from '../compactor/index.ts';
import type { HarbourConfig } from '../host.ts';
import {
  connectInfra,
  createHealthRegistry,
  createRegistry,
  type Logger,
  retryTransient,
  type ServiceDeps,
} from '../runtime/index.ts';
import { addDays, createCalendar } from '../scheduler/index.ts';
import {
  createHttpClient,
  decodeLatin1,
  migrateRunHistory,
  parseCcass,
  parseCcassStockList,
  parseQuotations,
  parseQuote,
  parseSecuritiesList,
  planRun,
  runProgress,
  type ScrapersConfig,
  startScrapers,
} from '../scrapers/index.ts';
import { rebuild, type TransformerConfig } from '../transformer/index.ts';
import { createProgress } from './progress.ts';

export const PARSE_KINDS = ['ccass', 'stocklist', 'quotations', 'securities', 'quote'] as const;
export type ParseKind = (typeof PARSE_KINDS)[number];

/** Parses a saved page the way the scrapers would; throws the parser's coded error when the page is refused. */
export async function parseFile(
  kind: ParseKind,
  path: string,
): Promise<{ summary: unknown; rows: unknown[] }> {
  const bytes = await readFile(path);
  switch (kind) {
    case 'ccass': {
      const { summary, rows } = parseCcass(bytes.toString('utf8'));
      return { summary, rows };
    }
    case 'stocklist': {
      const rows = parseCcassStockList(bytes.toString('utf8'));
      return { summary: { stocks: rows.length }, rows };
    }
    case 'quotations': {
      const { tradeDate, rows } = parseQuotations(decodeLatin1(bytes));
      return { summary: { tradeDate, securities: rows.length }, rows };
    }
    case 'securities': {
      const { asOf, rows } = await parseSecuritiesList(new Uint8Array(bytes));
      return { summary: { asOf, securities: rows.length }, rows };
    }
    case 'quote': {
      const row = parseQuote(bytes.toString('utf8'));
      return { summary: { code: row.code, asOf: row.as_of }, rows: [row] };
    }
  }
}

export function parseDataset(value: string): Dataset {
  if (!(DATASETS as readonly string[]).includes(value)) {
    throw new HarbourError(
      ErrorCodes.Config,
      `--dataset must be one of ${DATASETS.join(', ')} (got "${value}")`,
    );
  }
  return value as Dataset;
}

export function parseDateOption(name: string, value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new HarbourError(ErrorCodes.Config, `--${name} must be a date yyyy-mm-dd (got "${value}")`);
  }
  return value;
}

export function parseCodes(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  const codes = value
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  for (const c of codes) {
    if (!/^\d{1,5}$/.test(c))
      throw new HarbourError(ErrorCodes.Config, `--codes must be stock codes like 00700,5 (got "${c}")`);
  }
  return codes.map((c) => c.padStart(5, '0'));
}

/** Connects to the configured infrastructure for a one-shot command. */
export async function withInfra<T>(
  config: HarbourConfig,
  logger: Logger,
  fn: (deps: ServiceDeps) => Promise<T>,
): Promise<T> {
  const infra = await connectInfra(config, {
    logger,
    registry: createRegistry({ defaultMetrics: false }),
    health: createHealthRegistry(),
  });
  try {
    await ensureTopology(infra.nc, infra.jsm, config.topology);
    return await fn(infra);
  } finally {
    await infra.close();
  }
}

/**
 * Runs `fn` through short Postgres outages (a restart, a lost connection): retried with back-off for
 * up to `postgres.outageWaitMaxMs`, so a command reports the outcome of its work, not of its
 * connection. `fn` must be safe to repeat.
 */
function throughOutages<T>(config: HarbourConfig, deps: ServiceDeps, what: string, fn: () => Promise<T>) {
  return retryTransient(fn, { logger: deps.logger, what, maxOutageMs: config.postgres.outageWaitMaxMs });
}

/**
 * Plans one run per trading day in [from, to] and works the jobs with scraper workers in this
 * process (other scrapers running elsewhere help too), showing progress until every job finished.
 * Planning and progress wait out Postgres outages (planning is idempotent: deterministic job ids,
 * message dedup); the result is the jobs' outcomes from the run history.
 */
export async function backfill(
  config: HarbourConfig,
  deps: ServiceDeps,
  req: { dataset: Dataset; from: string; to: string; codes?: string[]; workers: boolean; label?: string },
): Promise<{ runs: string[]; byStatus: Record<string, number>; skipped: number }> {
  const scrapers = config.scrapers as ScrapersConfig;
  await throughOutages(config, deps, 'run history', () => migrateRunHistory(deps.pool));
  const plan = (...args: Parameters<typeof planRun>) =>
    throughOutages(config, deps, `plan ${args[1].date}`, () => planRun(...args));
  const calendar = createCalendar(scrapers.holidays);
  const http = createHttpClient(scrapers.http, { logger: deps.logger });
  const stamp = new Date().toISOString();
  const runs: string[] = [];
  let skipped = 0;
  try {
    for (let d = req.from; d <= req.to; d = addDays(d, 1)) {
      const runId = `${req.label ?? 'backfill'}:${stamp}:${req.dataset}:${d}`;
      const planned = await plan(
        {
          js: deps.js,
          pool: deps.pool,
          http,
          sources: scrapers.sources,
          calendar,
          codes: scrapers.codes,
          logger: deps.logger,
        },
        {
          runId,
          dataset: req.dataset,
          date: d,
          trigger: req.label ?? 'backfill',
          ...(req.codes ? { codes: req.codes } : {}),
        },
      );
      if (planned.status === 'planned') runs.push(runId);
      else skipped += 1;
    }
  } finally {
    await http.close();
  }
  const workers = req.workers ? await startScrapers({ ...scrapers, planner: false }, deps) : undefined;
  const progress = createProgress(`${req.label ?? 'backfill'} ${req.dataset} ${req.from}..${req.to}`);
  try {
    for (;;) {
      const p = await throughOutages(config, deps, 'progress', () => runProgress(deps.pool, runs));
      const note = Object.entries(p.byStatus)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      progress.update(p.finished, p.total, note);
      if (p.finished >= p.total) {
        progress.finish(skipped ? `(${skipped} non-trading days skipped)` : '');
        return { runs, byStatus: p.byStatus, skipped };
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await workers?.close();
  }
}

/** Catalog listing for `lake ls`. */
export async function lakeList(
  deps: ServiceDeps,
  filter: { dataset?: string; date?: string; all?: boolean },
  config?: HarbourConfig,
) {
  const list = async () => {
    await migrateCatalog(deps.pool);
    return listFiles(deps.pool, {
      ...(filter.dataset ? { dataset: filter.dataset } : {}),
      ...(filter.date ? { partitionDate: filter.date } : {}),
      status: filter.all ? 'all' : 'active',
    });
  };
  return config ? throughOutages(config, deps, 'lake ls', list) : list();
}

/** `rebuild`: silver from every active lake file, then gold, showing progress per phase. */
export async function rebuildWithProgress(
  config: HarbourConfig,
  deps: ServiceDeps,
  opts: { model?: string; from?: string },
): Promise<{
  files: number;
  silverRows: number;
  models: { model: string; rows: number }[];
  elapsedMs: number;
}> {
  const silver = createProgress('rebuild silver');
  const gold = createProgress('rebuild gold');
  let models = 0;
  let modelsDone = 0;
  // One transaction: a lost connection rolls it all back, so the rebuild simply runs again.
  const rebuildThroughOutages = (...args: Parameters<typeof rebuild>) =>
    throughOutages(config, deps, 'rebuild', () => rebuild(...args));
  const result = await rebuildThroughOutages(
    config.transformer as TransformerConfig,
    deps,
    (p) => {
      if (p.phase === 'start') {
        models = p.models.length;
        modelsDone = 0;
      } else if (p.phase === 'silver') {
        silver.update(p.done, p.total, `${p.dataset} ${p.rows} rows`);
        if (p.done === p.total) silver.finish();
      } else if (p.phase === 'gold' && p.state === 'done') {
        modelsDone += 1;
        gold.update(modelsDone, models, `${p.model} ${p.rows ?? 0} rows`);
        if (modelsDone === models) gold.finish();
      }
    },
    opts,
  );
  return {
    files: result.files,
    silverRows: result.silverRows,
    models: result.runs.map((r) => ({ model: r.model, rows: r.rowsWritten })),
    elapsedMs: Math.round(result.elapsedMs),
  };
}
