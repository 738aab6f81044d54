import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The compactor's spool directory stays bounded: every spool file (batch partitions, merge outputs,
 * downloaded merge inputs) is named with the pid of the process that writes it (`…-p<pid>-…`), and
 * this process keeps the set of the files it still uses. `cleanSpool` removes every other spool
 * file: this process's files it no longer uses and files of processes that are gone (a kill -9
 * leaves its open batch behind; those messages are redelivered and spooled again). Files of a live
 * process are left alone, so processes on one host may share a directory; a spool directory
 * belongs to one host (a pid means nothing elsewhere). Only `*.parquet` is touched: logs or other
 * files an operator keeps there stay.
 */
const live = new Set<string>();

/** `<prefix>-p<pid>-<unique>.parquet` in `dir`, registered as in use until `releaseSpoolPath`. */
export function claimSpoolPath(dir: string, prefix: string): string {
  const path = join(
    dir,
    `${prefix}-p${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.parquet`,
  );
  live.add(path);
  return path;
}

export function releaseSpoolPath(path: string): void {
  live.delete(path);
}

export interface SpoolState {
  /** Spool files left after the clean-up (this process's open files and live processes'). */
  files: number;
  bytes: number;
  /** Files removed by this call. */
  removed: number;
}

const SPOOL_FILE = /\.parquet$/;
const OWNER = /-p(\d+)-/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes spool files no live writer owns; a missing directory is an empty spool. */
export async function cleanSpool(dir: string): Promise<SpoolState> {
  const state: SpoolState = { files: 0, bytes: 0, removed: 0 };
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const name of names) {
    if (!SPOOL_FILE.test(name)) continue;
    const path = join(dir, name);
    const owner = Number(OWNER.exec(name)?.[1] ?? 0);
    // No pid in the name: written by a version before this scheme; nobody can still own it.
    const stale = owner === process.pid ? !live.has(path) : !owner || !processAlive(owner);
    if (stale) {
      await rm(path, { force: true });
      state.removed += 1;
      continue;
    }
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0) continue; // removed meanwhile (committed by its owner)
    state.files += 1;
    state.bytes += size;
  }
  return state;
}
