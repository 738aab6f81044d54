/**
 * Test support: run `harbour` (services/cli.ts) as a user's shell would, in a child process.
 * Children run with tsx's loader by absolute URL, so they work in directories without node_modules.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const repoRoot = join(import.meta.dirname, '..', '..');

/** `[node, argv]` running `script` with tsx's loader. */
export const nodeWithTsx = (script: string, ...args: string[]) =>
  [
    process.execPath,
    ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, script, ...args],
  ] as const;

/** The environment of a new shell in which nothing was exported: no HARBOUR_* variable at all. */
export const withoutHarbourEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HARBOUR_')));

/**
 * `harbour backfill --dataset <dataset> --from <from> --to <to> …more` as a child process in the
 * repository (`opts`: its environment and stdio).
 */
export function spawnBackfill(
  range: { dataset: string; from: string; to: string },
  more: readonly string[],
  opts: SpawnOptions,
): ChildProcess {
  const [bin, argv] = nodeWithTsx(
    join(repoRoot, 'services', 'cli.ts'),
    ...['backfill', '--dataset', range.dataset, '--from', range.from, '--to', range.to, ...more],
  );
  return spawn(bin, argv, { cwd: repoRoot, ...opts });
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run -s harbour -- <args>` in `cwd` (default: the repository) with exactly `env` (default: nothing exported). */
export function runHarbour(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const [bin, argv] = nodeWithTsx(join(repoRoot, 'services', 'cli.ts'), ...args);
    const child = spawn(bin, argv, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? withoutHarbourEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
