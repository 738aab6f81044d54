import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';

const exec = promisify(execFile);

/** Full path of `name` on PATH (plus /usr/sbin, /usr/bin), or null. */
export async function which(name: string): Promise<string | null> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

let aptUpdated = false;

/**
 * Returns the path of `program`, installing Debian package `pkg` first when it is missing and
 * this process is root. Otherwise fails with `HARBOUR_ERR_MISSING_PROGRAM` saying what to install.
 */
export async function ensureProgram(
  program: string,
  pkg: string,
  log: (msg: string) => void = () => {},
): Promise<string> {
  const found = await which(program);
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !(await which('apt-get'))) {
    throw new HarbourError(
      ErrorCodes.MissingProgram,
      `${program} is not installed; install the Debian package "${pkg}" (sudo apt-get install -y ${pkg}) or put ${program} on PATH`,
      { detail: { program, pkg } },
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing ${pkg} (apt-get) for ${program}…`);
  const install = () => exec('apt-get', ['install', '-y', '-qq', pkg], { env, maxBuffer: 64 << 20 });
  try {
    await install();
  } catch {
    if (!aptUpdated) {
      await exec('apt-get', ['update', '-qq'], { env, maxBuffer: 64 << 20 });
      aptUpdated = true;
    }
    await install();
  }
  const installed = await which(program);
  if (!installed) {
    throw new HarbourError(
      ErrorCodes.MissingProgram,
      `apt-get installed ${pkg} but ${program} is still not on PATH`,
    );
  }
  return installed;
}
