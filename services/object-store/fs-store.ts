import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { ErrorCodes, HarbourError, isHarbourError } from '../../contracts/errors.ts';
import {
  abortReason,
  bodyChunks,
  clampRange,
  compareKeys,
  type GetOptions,
  type ListOptions,
  notFound,
  type ObjectInfo,
  type ObjectStore,
  type OpOptions,
  type PutBody,
  type PutOptions,
  validateKey,
  validatePrefix,
} from './object-store.ts';

/** The root-level folder holding in-flight writes; never listed, and not usable as a key's first segment. */
export const FS_TEMP_DIR = '.tmp';

export interface FsObjectStoreConfig {
  /** Directory holding the objects; created on first write. Relative paths resolve against the cwd. */
  root: string;
}

const MISSING = new Set(['ENOENT', 'ENOTDIR']);

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null
    ? ((err as { code?: unknown }).code as string | undefined)
    : undefined;
}

/**
 * Objects as plain files under `root` (`root/a/b/c` for key `a/b/c`).
 *
 * Writes go to `root/.tmp/<uuid>`, are fsynced, then renamed into place (and the folder fsynced), so readers
 * see either the old or the new object, never a partial one. Deletes prune folders left empty.
 * Unlike S3, a key cannot also be a folder of other keys (`a/b` and `a/b/c` together): such a put fails
 * with `HARBOUR_ERR_OBJECT_STORE_REJECTED`.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly root: string;
  private readonly tmpDir: string;

  constructor(config: FsObjectStoreConfig) {
    this.root = resolve(config.root);
    this.tmpDir = join(this.root, FS_TEMP_DIR);
  }

  private pathOf(key: string): string {
    validateKey(key);
    if (key === FS_TEMP_DIR || key.startsWith(`${FS_TEMP_DIR}/`)) {
      throw new HarbourError(
        ErrorCodes.ObjectKeyInvalid,
        `object key ${JSON.stringify(key)} is reserved by the fs store`,
        {
          detail: { key },
        },
      );
    }
    return join(this.root, ...key.split('/'));
  }

  private unavailable(op: string, key: string, cause: unknown): HarbourError {
    return new HarbourError(
      ErrorCodes.ObjectStoreUnavailable,
      `fs object store: ${op} ${JSON.stringify(key)} failed: ${(cause as Error)?.message ?? String(cause)}`,
      { cause, detail: { key, op, root: this.root, errno: errCode(cause) } },
    );
  }

  private fail(op: string, key: string, err: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted) return abortReason(signal);
    if (isHarbourError(err) || (err as Error)?.name === 'AbortError') return err;
    // System errors (EACCES, ENOSPC, EIO, ENOTDIR under the root…) are the storage failing; others are bugs.
    return typeof errCode(err) === 'string' ? this.unavailable(op, key, err) : err;
  }

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<{ size: number }> {
    const target = this.pathOf(key);
    const { signal } = opts;
    let tmp: string | undefined;
    let fh: FileHandle | undefined;
    try {
      signal?.throwIfAborted();
      await mkdir(this.tmpDir, { recursive: true });
      tmp = join(this.tmpDir, `${randomUUID()}.part`);
      fh = await open(tmp, 'wx');
      let size = 0;
      for await (const chunk of bodyChunks(body, signal)) {
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
          off += bytesWritten;
        }
        size += chunk.byteLength;
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      signal?.throwIfAborted();
      await this.moveIntoPlace(tmp, target, key);
      tmp = undefined;
      return { size };
    } catch (err) {
      throw this.fail('put', key, err, signal);
    } finally {
      if (fh) await fh.close().catch(() => {});
      if (tmp) await rm(tmp, { force: true }).catch(() => {});
    }
  }

  private conflict(key: string, cause: unknown): HarbourError {
    return new HarbourError(
      ErrorCodes.ObjectStoreRejected,
      `fs object store: key ${JSON.stringify(key)} clashes with an existing key or folder (a key cannot also be a prefix folder here)`,
      { cause, detail: { key, root: this.root } },
    );
  }

  private async moveIntoPlace(tmp: string, target: string, key: string): Promise<void> {
    const dir = dirname(target);
    // A concurrent delete may prune the freshly made folder before the rename: retry a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(dir, { recursive: true });
      } catch (err) {
        if (errCode(err) === 'ENOTDIR' || errCode(err) === 'EEXIST') throw this.conflict(key, err);
        throw err;
      }
      try {
        await rename(tmp, target);
        break;
      } catch (err) {
        const code = errCode(err);
        if (code === 'ENOENT' && attempt < 5) continue;
        if (code === 'ENOTDIR') throw this.conflict(key, err);
        if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
          // An empty leftover folder can go; a folder of objects is a real clash.
          const removed = await rmdir(target).then(
            () => true,
            () => false,
          );
          if (removed && attempt < 5) continue;
          throw this.conflict(key, err);
        }
        throw err;
      }
    }
    await fsyncDir(dir);
  }

  private async openFile(key: string): Promise<{ fh: FileHandle; size: number }> {
    const path = this.pathOf(key);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (MISSING.has(errCode(err) ?? '')) throw notFound(key, err);
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw notFound(key);
      return { fh, size: st.size };
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const { signal } = opts;
    try {
      signal?.throwIfAborted();
      const { fh, size } = await this.openFile(key);
      const { start, end } = clampRange(opts.range, size);
      if (start >= end) {
        await fh.close();
        return Readable.from([], { objectMode: false });
      }
      const stream = fh.createReadStream({ start, end: end - 1, autoClose: true });
      return signal ? addAbortSignal(signal, stream) : stream;
    } catch (err) {
      throw this.fail('get', key, err, signal);
    }
  }

  async getBytes(key: string, opts: GetOptions = {}): Promise<Uint8Array> {
    const { signal } = opts;
    try {
      signal?.throwIfAborted();
      const { fh, size } = await this.openFile(key);
      try {
        const { start, end } = clampRange(opts.range, size);
        const out = Buffer.allocUnsafe(Math.max(0, end - start));
        let filled = 0;
        while (filled < out.length) {
          signal?.throwIfAborted();
          const { bytesRead } = await fh.read(out, filled, out.length - filled, start + filled);
          if (bytesRead === 0) break; // shrank under us (cannot happen with rename-based writes)
          filled += bytesRead;
        }
        return filled === out.length ? out : out.subarray(0, filled);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw this.fail('get', key, err, signal);
    }
  }

  async head(key: string, opts: OpOptions = {}): Promise<ObjectInfo | null> {
    const path = this.pathOf(key);
    try {
      opts.signal?.throwIfAborted();
      const st = await stat(path);
      if (!st.isFile()) return null;
      return { key, size: st.size, lastModified: st.mtime };
    } catch (err) {
      if (MISSING.has(errCode(err) ?? '')) return null;
      throw this.fail('head', key, err, opts.signal);
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const baseRel = cut >= 0 ? prefix.slice(0, cut) : '';
    try {
      yield* this.walk(baseRel, prefix, opts.startAfter, opts.signal);
    } catch (err) {
      throw this.fail('list', prefix, err, opts.signal);
    }
  }

  private async *walk(
    dirRel: string,
    prefix: string,
    startAfter: string | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ObjectInfo> {
    signal?.throwIfAborted();
    let entries: Dirent[];
    try {
      entries = await readdir(dirRel ? join(this.root, ...dirRel.split('/')) : this.root, {
        withFileTypes: true,
      });
    } catch (err) {
      if (MISSING.has(errCode(err) ?? '')) return;
      throw err;
    }
    const items: { rel: string; sortKey: string; dir: boolean }[] = [];
    for (const e of entries) {
      if (!dirRel && e.name === FS_TEMP_DIR) continue;
      const rel = dirRel ? `${dirRel}/${e.name}` : e.name;
      if (e.isDirectory()) items.push({ rel, sortKey: `${rel}/`, dir: true });
      else if (e.isFile()) items.push({ rel, sortKey: rel, dir: false });
    }
    // A folder sorts as "name/": every key below it starts with that, which gives S3's global key order.
    items.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const item of items) {
      if (item.dir) {
        const p = item.sortKey;
        if (!p.startsWith(prefix) && !prefix.startsWith(p)) continue;
        if (startAfter !== undefined && compareKeys(p, startAfter) < 0 && !startAfter.startsWith(p)) continue;
        yield* this.walk(item.rel, prefix, startAfter, signal);
      } else {
        if (!item.rel.startsWith(prefix)) continue;
        if (startAfter !== undefined && compareKeys(item.rel, startAfter) <= 0) continue;
        let st: Awaited<ReturnType<typeof stat>>;
        try {
          st = await stat(join(this.root, ...item.rel.split('/')));
        } catch (err) {
          if (MISSING.has(errCode(err) ?? '')) continue; // deleted while listing
          throw err;
        }
        yield { key: item.rel, size: st.size, lastModified: st.mtime };
      }
    }
  }

  async delete(key: string, opts: OpOptions = {}): Promise<void> {
    const path = this.pathOf(key);
    try {
      opts.signal?.throwIfAborted();
      await unlink(path);
    } catch (err) {
      const code = errCode(err);
      // Absent, or a folder (not an object): nothing to delete.
      if (MISSING.has(code ?? '') || code === 'EISDIR') return;
      throw this.fail('delete', key, err, opts.signal);
    }
    // Prune folders left empty, so a later put of the folder's name as a key is possible.
    let dir = dirname(path);
    while (dir.startsWith(this.root + sep) && dir !== this.tmpDir) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
  }

  /** Removes temp files older than `maxAgeMs`, left behind by crashed writers. Returns how many. */
  async sweepTemp(maxAgeMs = 3_600_000): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const p = join(this.tmpDir, name);
      try {
        const st = await stat(p);
        if (Date.now() - st.mtimeMs > maxAgeMs) {
          await rm(p, { force: true, recursive: true });
          removed++;
        }
      } catch {
        // gone meanwhile
      }
    }
    return removed;
  }

  async close(): Promise<void> {}
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort: some filesystems refuse fsync on folders
  } finally {
    await fh?.close().catch(() => {});
  }
}
