/**
 * `npm run harbour -- <command>`: the command line for people and scripts. Reads the environment
 * (same variables as `npm start`) and prints results on stdout; errors go to stderr with their
 * code and a non-zero exit.
 */
import { Command, Option } from 'commander';
import { ErrorCodes, errorCodeOf, HarbourError } from '../contracts/index.ts';
import { createCalendar } from './calendar/index.ts';
import {
  backfill,
  checkCollectable,
  lakeList,
  PARSE_KIND_CHOICES,
  parseCodes,
  parseDataset,
  parseDateOption,
  parseFile,
  parseKind,
  probe,
  rebuildWithProgress,
  withInfra,
} from './cli/commands.ts';
import { configSources } from './config-sources.ts';
import { type HarbourConfig, harbourConfigSchema } from './host.ts';
import { createLogger, type EffectiveSetting, loadConfigWithOrigins } from './runtime/index.ts';
import { findModel, traceGold } from './transformer/index.ts';

const program = new Command('harbour').description('Harbour: HKEX market data pipeline').showHelpAfterError();
program.option('--config <file>', 'JSON config file (environment variables override it)');

/** The effective configuration: defaults ← `npm run stack`'s settings file ← --config ← environment. */
const effective = (): { config: HarbourConfig; settings: EffectiveSetting[]; stackFile?: string } => {
  const sources = configSources(process.env, program.opts<{ config?: string }>().config);
  if (sources.staleStack)
    process.stderr.write(
      `ignoring ${sources.staleStack.path}: the \`npm run stack\` that wrote it (pid ${sources.staleStack.pid}) is gone\n`,
    );
  const { config, settings } = loadConfigWithOrigins(harbourConfigSchema(), sources);
  return {
    config: config as HarbourConfig,
    settings,
    ...(sources.stackFile ? { stackFile: sources.stackFile.path } : {}),
  };
};
const config = (): HarbourConfig => effective().config;
const logger = () =>
  createLogger({ level: process.env.HARBOUR_LOG_LEVEL ?? 'warn', destination: process.stderr as never });

program
  .command('parse')
  .description('parse a saved HKEX page and print { summary, rows } as JSON')
  .addArgument(
    program
      .createArgument(
        '<kind>',
        'page kind, or the dataset it feeds (quotes = quotations, fundamentals = quote)',
      )
      .choices(PARSE_KIND_CHOICES),
  )
  .argument('<file>', 'the saved page')
  .action(async (kind: string, file: string) => {
    process.stdout.write(`${JSON.stringify(await parseFile(parseKind(kind), file), null, 2)}\n`);
  });

program
  .command('probe')
  .description(
    'fetch one page from the configured sources exactly as the scrapers do, parse it and print { summary, rows } as JSON (no NATS, Postgres or lake needed)',
  )
  .argument(
    '<kind>',
    'ccass | quote | securities | quotations | stocklist, or a dataset name (fundamentals, quotes)',
  )
  .option('--code <code>', 'stock code for ccass and quote', '00700')
  .option(
    '--date <date>',
    'yyyy-mm-dd for ccass, quotations and stocklist (default: the last trading day before today in Hong Kong); quote takes none',
  )
  .action(async (kind: string, opts: { code: string; date?: string }) => {
    process.stdout.write(`${JSON.stringify(await probe(config(), logger(), kind, opts), null, 2)}\n`);
  });

program
  .command('backfill')
  .description(
    'collect a dataset for every trading day of a date range (plans jobs, works them, shows progress)',
  )
  .requiredOption('--dataset <name>', 'securities | quotes | fundamentals | ccass')
  .requiredOption('--from <date>', 'first date, yyyy-mm-dd')
  .requiredOption('--to <date>', 'last date, yyyy-mm-dd')
  .option('--codes <codes>', 'only these stock codes (per-stock datasets), e.g. 00700,00005')
  .addOption(new Option('--no-workers', 'only plan the jobs; scrapers running elsewhere work them'))
  .action(async (opts: { dataset: string; from: string; to: string; codes?: string; workers: boolean }) => {
    const dataset = parseDataset(opts.dataset);
    const from = parseDateOption('from', opts.from);
    const to = parseDateOption('to', opts.to);
    if (from > to) throw new HarbourError(ErrorCodes.Config, `--from ${from} is after --to ${to}`);
    const codes = parseCodes(opts.codes);
    const cfg = config();
    checkCollectable(cfg, dataset, from);
    const result = await withInfra(cfg, logger(), (deps) =>
      backfill(cfg, deps, { dataset, from, to, workers: opts.workers, ...(codes ? { codes } : {}) }),
    );
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });

program
  .command('scrape')
  .description('collect one dataset for one date now')
  .requiredOption('--dataset <name>', 'securities | quotes | fundamentals | ccass')
  .requiredOption('--date <date>', 'the date, yyyy-mm-dd')
  .option('--codes <codes>', 'only these stock codes (per-stock datasets)')
  .action(async (opts: { dataset: string; date: string; codes?: string }) => {
    const dataset = parseDataset(opts.dataset);
    const date = parseDateOption('date', opts.date);
    const codes = parseCodes(opts.codes);
    const cfg = config();
    checkCollectable(cfg, dataset, date);
    const result = await withInfra(cfg, logger(), (deps) =>
      backfill(cfg, deps, {
        dataset,
        from: date,
        to: date,
        workers: true,
        label: 'scrape',
        ...(codes ? { codes } : {}),
      }),
    );
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });

const lake = program.command('lake').description('the Parquet lake');
lake
  .command('ls')
  .description('list the files the catalog holds')
  .option('--dataset <name>')
  .option('--date <date>', 'partition date')
  .option('--all', 'include files replaced by merges')
  .option('--json', 'print JSON')
  .action(async (opts: { dataset?: string; date?: string; all?: boolean; json?: boolean }) => {
    const cfg = config();
    const files = await withInfra(cfg, logger(), (deps) =>
      lakeList(
        deps,
        {
          ...(opts.dataset ? { dataset: parseDataset(opts.dataset) } : {}),
          ...(opts.date ? { date: parseDateOption('date', opts.date) } : {}),
          ...(opts.all ? { all: true } : {}),
        },
        cfg,
      ),
    );
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(files, null, 2)}\n`);
      return;
    }
    for (const f of files) {
      process.stdout.write(
        `${f.status.padEnd(8)} ${String(f.rows).padStart(9)} rows ${String(f.bytes).padStart(11)} B  seq ${f.firstSeq}-${f.lastSeq}  ${f.fileKey}\n`,
      );
    }
    const rows = files.reduce((a, f) => a + f.rows, 0);
    const bytes = files.reduce((a, f) => a + f.bytes, 0);
    process.stdout.write(`${files.length} files, ${rows} rows, ${bytes} bytes\n`);
  });

program
  .command('rebuild')
  .description(
    'rebuild silver from the lake and gold from scratch (or one model and what depends on it), with progress',
  )
  .option('--model <name>', 'only this gold model and the models downstream of it')
  .option('--from <date>', 'only business dates from this day, yyyy-mm-dd')
  .action(async (opts: { model?: string; from?: string }) => {
    const from = opts.from ? parseDateOption('from', opts.from) : undefined;
    const cfg = config();
    const result = await withInfra(cfg, logger(), (deps) =>
      rebuildWithProgress(cfg, deps, {
        ...(opts.model ? { model: opts.model } : {}),
        ...(from ? { from } : {}),
      }),
    );
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });

program
  .command('calendar')
  .description("print a year's non-trading weekdays (holidays and market.holidaysAdd closures) as JSON")
  .argument('<year>', 'the year, e.g. 2027')
  .action((year: string) => {
    if (!/^\d{4}$/.test(year)) {
      throw new HarbourError(ErrorCodes.Config, `calendar: expected a four-digit year, got "${year}"`);
    }
    process.stdout.write(
      `${JSON.stringify(createCalendar(config().market).closures(Number(year)), null, 2)}\n`,
    );
  });

program
  .command('config')
  .description(
    'print every setting: its effective value and where it comes from (default, stack, file, env); refuses invalid values',
  )
  .option('--json', 'print JSON')
  .action((opts: { json?: boolean }) => {
    const { settings, stackFile } = effective();
    const shown = settings.map((s) => ({ ...s, value: redact(s.env, s.value) }));
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ stackFile: stackFile ?? null, settings: shown }, null, 2)}\n`);
      return;
    }
    const lines = ['| variable | value | origin |', '|---|---|---|'];
    for (const s of shown)
      lines.push(
        `| \`${s.env}\` | ${s.value === undefined ? '' : `\`${JSON.stringify(s.value)}\``} | ${s.origin} |`,
      );
    if (stackFile) lines.push('', `stack: ${stackFile}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  });

/** Secrets are shown as set or not, never printed. */
function redact(env: string, value: unknown): unknown {
  if (typeof value === 'string' && value && /TOKEN|PASS|SECRET/.test(env)) return '***';
  if (typeof value === 'string') return value.replace(/(\/\/[^:/@]+:)[^@/]+@/, '$1***@');
  return value;
}

program
  .command('trace')
  .description(
    'print, as JSON, the lake files, RAW sequence ranges, fetch times and source URLs behind one gold row',
  )
  .argument('<model>', 'gold model, e.g. daily_prices')
  .requiredOption('--code <code>', "the row's stock code (dq models: the dataset)")
  .option('--date <date>', "the row's date, yyyy-mm-dd (trade date, month's first day, holding date, as-of)")
  .action(async (model: string, opts: { code: string; date?: string }) => {
    findModel(model);
    const key = /^\d{1,5}$/.test(opts.code) ? opts.code.padStart(5, '0') : opts.code;
    const date = opts.date ? parseDateOption('date', opts.date) : null;
    const lineage = await withInfra(config(), logger(), (deps) => traceGold(deps, { model, key, date }));
    process.stdout.write(`${JSON.stringify(lineage, null, 2)}\n`);
  });

/**
 * Resolves once everything written to `stream` so far has been handed to the OS. `process.exit`
 * does not wait for a pipe (stdout to `wc`, `jq`): without this, output beyond the pipe buffer
 * (64 KiB) is lost.
 */
const flushed = (stream: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });

// A reader that stops early (`| head`) closes the pipe: the rest of the output has nowhere to go,
// which is what that reader asked for, so stop quietly instead of dying on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

let status = 0;
try {
  await program.parseAsync();
} catch (err) {
  const code = errorCodeOf(err);
  process.stderr.write(`${code}: ${(err as Error).message}\n`);
  status = 1;
}
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(status);
