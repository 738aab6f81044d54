import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ErrorCodes, HarbourError } from '../../contracts/errors.ts';

/**
 * The settings file `npm run stack` writes while it runs: `HARBOUR_*=value` lines (a shell can
 * `set -a; . .harbour/stack.env`) that `npm start` and `npm run harbour` read on their own, above the
 * defaults and below `--config` and exported variables. It names the stack's pid: once that process
 * is gone (killed without cleaning up) the file is stale and ignored. A clean stop removes it.
 */
export const STACK_SETTINGS_FILE = 'stack.env';

export interface StackSettings {
  path: string;
  vars: Record<string, string>;
  pid: number;
  /** The writing stack is no longer running: the settings point at servers that are gone. */
  stale: boolean;
}

/** `<dataDir>/stack.env`; `dataDir` is `HARBOUR_DATA_DIR` or `.harbour` (relative to the working directory). */
export function stackSettingsPath(dataDir: string): string {
  return resolve(join(dataDir, STACK_SETTINGS_FILE));
}

export async function writeStackSettings(
  path: string,
  vars: Record<string, string>,
  pid = process.pid,
): Promise<void> {
  for (const [k, v] of Object.entries(vars)) {
    if (!/^HARBOUR_[A-Z0-9_]+$/.test(k) || /[\s'"\\$`]/.test(v))
      throw new HarbourError(
        ErrorCodes.Config,
        `stack setting ${k}=${v} cannot be written as a plain shell assignment`,
      );
  }
  const body = [
    `# Written by \`npm run stack\` (pid ${pid}) at ${new Date().toISOString()}; removed when it stops.`,
    '# `npm start` and `npm run harbour` read it: below --config and exported HARBOUR_* variables.',
    `# harbour-stack-pid=${pid}`,
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    '',
  ].join('\n');
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${pid}.tmp`;
  await writeFile(tmp, body, { mode: 0o600 });
  await rename(tmp, path);
}

export async function removeStackSettings(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** The file's settings, or undefined when there is none. Synchronous: entry points read it before anything else. */
export function readStackSettings(path: string): StackSettings | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const vars: Record<string, string> = {};
  let pid = 0;
  for (const line of text.split('\n')) {
    const pidMatch = /^# harbour-stack-pid=(\d+)$/.exec(line);
    if (pidMatch) pid = Number(pidMatch[1]);
    const m = /^(HARBOUR_[A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) vars[m[1] as string] = m[2] as string;
  }
  return { path, vars, pid, stale: !isAlive(pid) };
}

function isAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
