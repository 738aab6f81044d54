import { Readable } from 'node:stream';
import { ErrorCodes, HarbourError } from '../../contracts/errors.ts';

/**
 * The object-store contract shared by the local-directory (`fs`) and S3 backends.
 *
 * Keys are `/`-separated relative paths (`trades/date=2024-01-02/part-0.parquet`). Listing order is the
 * byte order of the keys' UTF-8 encoding, as S3 lists them (so `a/b.x` < `a/b/c` < `a/b1`).
 */

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag?: string;
}

/** A byte range: `start` inclusive, `end` exclusive (like `Uint8Array.slice`). Clamped to the object's size. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface OpOptions {
  signal?: AbortSignal;
}

export interface PutOptions extends OpOptions {
  contentType?: string;
}

export interface GetOptions extends OpOptions {
  range?: ByteRange;
}

export interface ListOptions extends OpOptions {
  /** Keys fetched per backend request (S3 `MaxKeys`, at most 1000). Does not limit the total listed. */
  pageSize?: number;
  /** Only keys strictly after this one (full key, not relative to the prefix). */
  startAfter?: string;
}

export type PutBody = Readable | Uint8Array | AsyncIterable<Uint8Array>;

export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /**
   * Streams body into key; atomically visible (fs: temp file + fsync + rename; s3: PutObject or multipart
   * upload). Returns the bytes written. An aborted put leaves no object behind (nor any temp file) and rejects
   * with `signal.reason`.
   */
  put(key: string, body: PutBody, opts?: PutOptions): Promise<{ size: number }>;
  /** A stream of the object (or of `range`). Throws `HARBOUR_ERR_OBJECT_NOT_FOUND` when absent. */
  get(key: string, opts?: GetOptions): Promise<Readable>;
  /** The whole object (or `range`) in memory. Throws `HARBOUR_ERR_OBJECT_NOT_FOUND` when absent. */
  getBytes(key: string, opts?: GetOptions): Promise<Uint8Array>;
  /** Size and mtime, or null when absent. */
  head(key: string, opts?: OpOptions): Promise<ObjectInfo | null>;
  /** Every key starting with `prefix` (a plain string prefix, not only whole segments), in key order. */
  list(prefix: string, opts?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Removes the key; deleting an absent key is not an error. */
  delete(key: string, opts?: OpOptions): Promise<void>;
  /**
   * Removes temporary files of puts older than `maxAgeMs` (a process killed mid-put leaves one) and
   * returns how many. fs only: abandoned S3 multipart uploads are the bucket's lifecycle rule's
   * job (AbortIncompleteMultipartUpload).
   */
  sweepTemp?(maxAgeMs?: number): Promise<number>;
  close(): Promise<void>;
}

const MAX_KEY_BYTES = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function invalidKey(key: unknown, why: string): HarbourError {
  return new HarbourError(
    ErrorCodes.ObjectKeyInvalid,
    `object key ${JSON.stringify(key)} is invalid: ${why}`,
    {
      detail: { key },
    },
  );
}

/** Throws `HARBOUR_ERR_OBJECT_KEY_INVALID` unless `key` is a relative `/`-path without empty, `.` or `..` segments. */
export function validateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw invalidKey(key, 'not a string');
  if (key.length === 0) throw invalidKey(key, 'empty');
  if (key.startsWith('/')) throw invalidKey(key, 'absolute (starts with /)');
  if (key.endsWith('/')) throw invalidKey(key, 'ends with /');
  if (CONTROL_CHARS.test(key)) throw invalidKey(key, 'contains a control character');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
    throw invalidKey(key, `longer than ${MAX_KEY_BYTES} bytes`);
  for (const seg of key.split('/')) {
    if (seg === '') throw invalidKey(key, 'empty path segment');
    if (seg === '.' || seg === '..') throw invalidKey(key, `"${seg}" segment`);
  }
}

/**
 * Checks a list prefix: `''`, or a key-like path whose last segment may be partial or empty
 * (`a/b/` lists the folder, `a/b` also lists `a/b1`).
 */
export function validatePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw invalidKey(prefix, 'prefix is not a string');
  if (prefix === '') return;
  if (prefix.startsWith('/')) throw invalidKey(prefix, 'absolute prefix (starts with /)');
  if (CONTROL_CHARS.test(prefix)) throw invalidKey(prefix, 'prefix contains a control character');
  const segs = prefix.split('/');
  segs.pop(); // the last one may be partial or empty
  for (const seg of segs) {
    if (seg === '') throw invalidKey(prefix, 'empty path segment in prefix');
    if (seg === '.' || seg === '..') throw invalidKey(prefix, `"${seg}" segment in prefix`);
  }
}

/** Maps a UTF-16 code unit so that code-unit order equals UTF-8 byte (= code point) order. */
function fixUnit(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000; // surrogates (astral code points) sort above the BMP
  if (c >= 0xe000) return c - 0x800;
  return c;
}

/** Compares keys by their UTF-8 bytes, the order S3 lists in. */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return fixUnit(ca) - fixUnit(cb);
  }
  return a.length - b.length;
}

/** Resolves a range against an object size: `[start, end)` clamped, `start >= end` meaning empty. */
export function clampRange(range: ByteRange | undefined, size: number): { start: number; end: number } {
  if (!range) return { start: 0, end: size };
  checkRange(range);
  const start = Math.min(range.start, size);
  const end = Math.max(start, Math.min(range.end ?? size, size));
  return { start, end };
}

export function checkRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.start) || range.start < 0) {
    throw new RangeError(`range.start must be a non-negative integer, got ${range.start}`);
  }
  if (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < range.start)) {
    throw new RangeError(`range.end must be an integer >= start (${range.start}), got ${range.end}`);
  }
}

/** The reason an aborted signal carries, as an Error (`AbortError` DOMException by default). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Iterates a put body as Uint8Array chunks. Rejects promptly with the signal's reason on abort, even while
 * the source is stuck waiting, and destroys a Readable source when stopped early.
 */
export async function* bodyChunks(body: PutBody, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  const iterator = (body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        onAbort = () => reject(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      })
    : undefined;
  aborted?.catch(() => {}); // observed below through Promise.race
  let finished = false;
  try {
    for (;;) {
      const next = aborted ? await Promise.race([iterator.next(), aborted]) : await iterator.next();
      if (next.done) {
        finished = true;
        return;
      }
      const chunk = next.value;
      if (typeof chunk === 'string') yield Buffer.from(chunk);
      else if (chunk instanceof Uint8Array) yield chunk;
      else throw new TypeError(`put body yielded a ${typeof chunk}, expected Uint8Array`);
    }
  } finally {
    if (onAbort && signal) signal.removeEventListener('abort', onAbort);
    if (!finished) {
      if (body instanceof Readable) body.destroy();
      // Not awaited: a generator stuck in an await would never settle its return().
      void Promise.resolve(iterator.return?.()).catch(() => {});
    }
  }
}

/** Reads a stream fully. */
export async function collect(stream: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of stream)
    chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export function notFound(key: string, cause?: unknown): HarbourError {
  return new HarbourError(ErrorCodes.ObjectNotFound, `object ${JSON.stringify(key)} not found`, {
    cause,
    detail: { key },
  });
}

/**
 * The random-access view hyparquet's `parquetRead({ file })` expects (`AsyncBuffer`): the object's size plus
 * ranged reads. The size is taken once; overwriting the object while reading it gives mixed data.
 */
export interface ObjectAsyncBuffer {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

export async function openAsyncBuffer(
  store: ObjectStore,
  key: string,
  opts?: OpOptions,
): Promise<ObjectAsyncBuffer> {
  const info = await store.head(key, opts);
  if (!info) throw notFound(key);
  return {
    byteLength: info.size,
    async slice(start, end) {
      const bytes = await store.getBytes(key, {
        signal: opts?.signal,
        range: { start, end: end ?? info.size },
      });
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}
