/**
 * `npm run harbour -- <command>`: the command line for people and scripts. Reads the environment
 * (same variables as `npm start`) and prints results on stdout; errors go to stderr with their
 * code and a non-zero exit.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { isHarbourError } from '../contracts/index.ts';
import {
  backfill,
  lakeList,
  PARSE_KINDS,
  type ParseKind,
  parseCodes,
  parseDataset,
  parseDateOption,
  parseFile,
  rebuildWithProgress,
  withInfra,
} from './cli/commands.ts';
import { type HarbourConfig, harbourConfigSchema } from './host.ts';
import { configTable, createLogger, loadConfig } from './runtime/index.ts';

const program = new Command('harbour').description('Harbour: HKEX market data pipeline').showHelpAfterError();
program.option('--config <file>', 'JSON config file (environment variables override it)');

const config = (): HarbourConfig => {
  const file = program.opts<{ config?: string }>().config;
  const base = file ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  return loadConfig(harbourConfigSchema(), { env: process.env, base }) as HarbourConfig;
};
const logger = () =>
  createLogger({ level: process.env.HARBOUR_LOG_LEVEL ?? 'warn', destination: process.stderr as never });

program
  .command('parse')
  .description('parse a saved HKEX page and print { summary, rows } as JSON')
  .addArgument(program.createArgument('<kind>', 'page kind').choices(PARSE_KINDS))
  .argument('<file>', 'the saved page')
  .action(async (kind: ParseKind, file: string) => {
    process.stdout.write(`${JSON.stringify(await parseFile(kind, file), null, 2)}\n`);
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
    if (from > to) throw new Error(`--from ${from} is after --to ${to}`);
    const codes = parseCodes(opts.codes);
    const cfg = config();
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
  .command('config')
  .description('print every setting: environment variable, default, meaning (markdown)')
  .action(() => {
    process.stdout.write(`${configTable(harbourConfigSchema())}\n`);
  });

try {
  await program.parseAsync();
  process.exit(0);
} catch (err) {
  const code = isHarbourError(err) ? err.code : 'HARBOUR_ERR_UNEXPECTED';
  process.stderr.write(`${code}: ${(err as Error).message}\n`);
  process.exit(1);
}
