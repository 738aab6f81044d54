import { readFile } from 'node:fs/promises';
import { DATASETS, type Dataset, ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { ensureTopology } from '../../streams/index.ts';
import { addDays, createCalendar, localDate } from '../calendar/index.ts';
import { listFiles, migrateCatalog } from '../catalog/index.ts';
import type { HarbourConfig } from '../host.ts';
import {
  connectInfra,
  createHealthRegistry,
  createRegistry,
  type Logger,
  retryTransient,
  type ServiceDeps,
} from '../runtime/index.ts';
import {
  createHttpClient,
  migrateRunHistory,
  PAGE_KIND_ALIASES,
  PAGE_KINDS,
  type Page,
  type PageKind,
  pageKindOf,
  parsePage,
  planRun,
  probePage,
  refusePastSnapshot,
  runProgress,
  type ScrapersConfig,
  startScrapers,
} from '../scrapers/index.ts';
import { rebuild, type TransformerConfig } from '../transformer/index.ts';
import { createProgress } from './progress.ts';
import { checkReachable } from './reachability.ts';

export const PARSE_KINDS = PAGE_KINDS;
export type ParseKind = PageKind;

/** Page kinds accepted where a dataset is asked for: the dataset their pages feed. */
export const DATASET_ALIASES: Record<string, Dataset> = { quotations: 'quotes', quote: 'fundamentals' };
/** What `parse <kind>` accepts: page kinds and dataset names. */
export const PARSE_KIND_CHOICES = [...PARSE_KINDS, ...Object.keys(PAGE_KIND_ALIASES)];

export function parseKind(value: string): ParseKind {
  const kind = pageKindOf(value);
  if (!kind)
    throw new HarbourError(
      ErrorCodes.Config,
      `kind must be one of ${PARSE_KIND_CHOICES.join(', ')} (got "${value}")`,
    );
  return kind;
}

/** Parses a saved page the way the scrapers would; throws the parser's coded error when the page is refused. */
export async function parseFile(kind: ParseKind, path: string): Promise<Page> {
  return parsePage(kind, await readFile(path), { name: path });
}

/**
 * `probe`: one page fetched from the configured sources by the scrapers' own fetchers and HTTP
 * client (politeness, headers, form flow, quote token), parsed like `parse`. No NATS, Postgres or lake.
 */
export async function probe(
  config: HarbourConfig,
  logger: Logger,
  kindOrDataset: string,
  opts: { code?: string; date?: string },
): Promise<Page> {
  const kind = pageKindOf(kindOrDataset);
  if (!kind) {
    throw new HarbourError(
      ErrorCodes.Config,
      `probe takes one of ${PAGE_KINDS.join(', ')} or a dataset name (${Object.keys(PAGE_KIND_ALIASES).join(', ')}) (got "${kindOrDataset}")`,
    );
  }
  const scrapers = config.scrapers as ScrapersConfig;
  const code = parseCodes(opts.code ?? '00700')?.[0];
  if (!code || opts.code?.includes(',')) {
    throw new HarbourError(
      ErrorCodes.Config,
      `--code must be one stock code like 00700 (got "${opts.code}")`,
    );
  }
  let date = opts.date === undefined ? undefined : parseDateOption('date', opts.date);
  if (date === undefined && kind !== 'quote' && kind !== 'securities') {
    const today = localDate(new Date(), 'Asia/Hong_Kong');
    date = createCalendar(config.market).previousTradingDay(today);
  }
  const http = createHttpClient(scrapers.http, { logger });
  try {
    return await probePage({ http, sources: scrapers.sources }, kind, { code, ...(date ? { date } : {}) });
  } finally {
    await http.close();
  }
}

export function parseDataset(value: string): Dataset {
  const dataset = DATASET_ALIASES[value] ?? value;
  if (!(DATASETS as readonly string[]).includes(dataset)) {
    throw new HarbourError(
      ErrorCodes.Config,
      `--dataset must be one of ${DATASETS.join(', ')} (got "${value}")`,
    );
  }
  return dataset as Dataset;
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

/** Refuses, before connecting anywhere, a run the planner would refuse (a past fundamentals date). */
export function checkCollectable(config: HarbourConfig, dataset: Dataset, from: string): void {
  refusePastSnapshot(dataset, from, createCalendar(config.market));
}

/** Connects to the configured infrastructure for a one-shot command. */
export async function withInfra<T>(
  config: HarbourConfig,
  logger: Logger,
  fn: (deps: ServiceDeps) => Promise<T>,
): Promise<T> {
  await checkReachable(config);
  const infra = await connectInfra(config, {
    logger,
    registry: createRegistry({ defaultMetrics: false }),
    health: createHealthRegistry(),
  });
  try {
    await ensureTopology(infra.nc, infra.jsm, config.topology);
    return await fn({ ...infra, calendar: createCalendar(config.market) });
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
  const calendar = createCalendar(config.market);
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
