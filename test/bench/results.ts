import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join, relative } from 'node:path';

/** Shared by the benchmarks: where results go, how a section is replaced, how peak memory is read. */
export const RESULTS_PATH = join(import.meta.dirname, 'RESULTS.md');
/** The repository: the benchmarks' children run there (`node --import tsx`). */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');

const NEW_FILE =
  '# Harbour benchmarks\n\nEach benchmark rewrites only its own section (between its `bench:<name>` markers) and records the machine, date and command it ran with.\n';

/**
 * Replaces the text between `<!-- bench:<name>:start -->` and `…:end -->` (appends the section when
 * absent); returns the results file's path relative to the repository, for the log.
 */
export async function writeResultsSection(name: string, section: string): Promise<string> {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${section}\n${end}`;
  let text = existsSync(RESULTS_PATH) ? readFileSync(RESULTS_PATH, 'utf8') : NEW_FILE;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + block + text.slice(to + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(RESULTS_PATH, text);
  return relative(REPO_ROOT, RESULTS_PATH);
}

/** The machine a benchmark ran on, as its section's `- Machine:` line gives it (RAM in GiB, or MiB). */
export function machineLine(ram: 'GiB' | 'MiB' = 'GiB'): string {
  const cpu = cpus();
  const amount = (totalmem() / 2 ** (ram === 'GiB' ? 30 : 20)).toFixed(1);
  return `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${amount} ${ram} RAM, Linux ${release()}, Node ${process.version}`;
}

/** The head of a benchmark's section: its title, then the date, the machine and the command it ran with. */
export function sectionHead(title: string, command: string, ram: 'GiB' | 'MiB' = 'GiB'): string[] {
  return [
    `## ${title}`,
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${machineLine(ram)}`,
    `- Command: \`${command}\``,
  ];
}

/** Peak resident set size of this process (VmHWM), in bytes; null where /proc is unavailable. */
export function vmHwm(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * A padded GFM table as Biome formats it (so RESULTS.md stays stable under `biome check --write`):
 * every column as wide as its widest cell (at least 3, the shortest valid rule), right-aligned
 * columns padded on the left with a `--:` rule. By default every column but the first is right-aligned.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: (column: number) => boolean = (c) => c > 0,
): string[] {
  const widths = header.map((h, c) => Math.max(3, h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${widths.map((w, c) => (rightAligned(c) ? (cells[c] ?? '').padStart(w) : (cells[c] ?? '').padEnd(w))).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (rightAligned(c) ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)];
}

/**
 * Runs a benchmark's child process (`node <nodeArgs>` in the repository, stderr passed through) whose
 * last stdout line is its JSON result; rejects, with the end of its output, when it exits non-zero or
 * prints no JSON last.
 */
export function runJsonChild<T>(nodeArgs: readonly string[], label: string): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdout += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`${label} exited with ${code}: ${stdout.slice(-2000)}`));
        return;
      }
      resolvePromise(JSON.parse(last) as T);
    });
  });
}
