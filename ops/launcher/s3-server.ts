import { createReadStream, type Dirent } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.ts';

/**
 * A local S3 server for development and tests: s3rver 3.7, in-process, storing under `dataDir`.
 *
 * s3rver needs these fixes to serve the v3 SDK on Node >= 17, applied here at runtime:
 * - ListObjectsV2 continuation tokens are DES-encrypted, and OpenSSL 3 has no DES: every truncated page was a
 *   500. Its listing order was also not S3's (it walked folders in file-name order, so `a-1` came before `a`
 *   and `a/b/c` before `a/b.x`). ListObjectsV2 is re-implemented below (sorted by UTF-8 bytes, plain tokens,
 *   delimiter, start-after, encoding-type=url). ListObjects (v1) is left as s3rver has it.
 * - `Range: bytes=0-0` returned the whole object (`end || Infinity`); any range of an empty object
 *   answered a 206 with a wrong length. Now a 1-byte read, and a 416 for empty objects (as S3 does).
 * - `run()` leaves the HTTP server's 'error' event unhandled (a busy port crashed the process): the server is
 *   created here instead, waiting for a busy port to free up.
 * Known gaps, not fixed: AbortMultipartUpload is a 405 (parts stay under `._S3rver_uploads`); a PutObject
 * writes the object file in place (a reader racing an overwrite may see a partial object, unlike S3);
 * SigV4 signatures are not checked, only the access key id.
 */

const require = createRequire(import.meta.url);

export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';
export const S3RVER_REGION = 'us-east-1';

export interface S3ServerLogger {
  info(obj: object, msg?: string): void;
}

export interface S3ServerOptions {
  /** Where buckets and objects are kept (survives stop/start). */
  dataDir: string;
  /** Created at start when missing. */
  bucket: string;
  /** Default: a free port. It stays the same across stop()/start(). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  logger?: S3ServerLogger;
}

export interface S3ServerHandle {
  /** `http://127.0.0.1:<port>`; use path-style addressing. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly port: number;
  readonly dataDir: string;
  /** Whether the server listens right now. */
  readonly running: boolean;
  /** Closes the listener and drops open connections (clients then see ECONNREFUSED). Data stays. Idempotent. */
  stop(): Promise<void>;
  /** Listens again on the same port and data dir. Idempotent. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
}

// --- minimal types of the s3rver internals touched here -------------------------------------------------

interface S3rverMetadata {
  etag?: string;
  'last-modified'?: string;
  'content-length'?: number | string;
}
interface S3rverObject {
  size: number;
  content: NodeJS.ReadableStream & { destroy(): void };
  range?: { start: number; end: number };
}
interface S3rverStore {
  rootDirectory: string;
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<S3rverMetadata>;
  getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3rverObject | null>;
}
interface S3rverInstance {
  store: S3rverStore;
  logger?: { close(): void; exceptions?: { unhandle(): void } };
  configureBuckets(): Promise<void>;
  callback(): RequestListener;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;
interface KoaCtx {
  query: Record<string, string | string[] | undefined>;
  params: { bucket: string };
  app: { store: S3rverStore };
  body: unknown;
}
type S3ErrorCtor = new (code: string, message: string, detail?: Record<string, unknown>) => Error;

const S3rver = require('s3rver') as S3rverCtor;
const S3Error = require('s3rver/lib/models/error.js') as S3ErrorCtor;
const bucketController = require('s3rver/lib/controllers/bucket.js') as {
  getBucket: (ctx: KoaCtx) => Promise<void>;
};

const PATCHED = Symbol.for('harbour.s3rver.listV2');
const OBJECT_SUFFIX = '._S3rver_object';
const UPLOADS_DIR = '._S3rver_uploads';

/** Byte order of UTF-8 (S3's listing order), without allocating. */
function compareKeys(a: string, b: string): number {
  const fix = (c: number) => (c >= 0xd800 && c <= 0xdfff ? c + 0x2000 : c >= 0xe000 ? c - 0x800 : c);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return fix(ca) - fix(cb);
  }
  return a.length - b.length;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Every key in the bucket starting with `prefix`, sorted. Walks only the folders that can hold such keys. */
async function bucketKeys(bucketPath: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(rel ? join(bucketPath, rel) : bucketPath, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!rel && e.name === UPLOADS_DIR) continue;
        const p = `${rel}${e.name}/`;
        if (p.startsWith(prefix) || prefix.startsWith(p)) await walk(p);
      } else if (e.name.endsWith(OBJECT_SUFFIX)) {
        const key = rel + e.name.slice(0, -OBJECT_SUFFIX.length);
        if (key !== '' && key.startsWith(prefix)) keys.push(key);
      }
    }
  };
  await walk('');
  return keys.sort(compareKeys);
}

function encodeToken(last: string, isPrefix: boolean): string {
  return Buffer.from(JSON.stringify({ k: last, p: isPrefix })).toString('base64url');
}

function decodeToken(token: string): { k: string; p: boolean } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown; p?: unknown };
    if (typeof v.k === 'string') return { k: v.k, p: v.p === true };
  } catch {
    // fall through
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
    ArgumentName: 'continuation-token',
  });
}

async function listObjectsV2(ctx: KoaCtx): Promise<void> {
  const q = ctx.query;
  const bucket = ctx.params.bucket;
  const store = ctx.app.store;
  const prefix = one(q['prefix']) ?? '';
  const delimiter = one(q['delimiter']) ?? '';
  const urlEncode = one(q['encoding-type']) === 'url';
  const enc = (s: string) => (urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
  let maxKeys = 1000;
  const rawMax = one(q['max-keys']);
  if (rawMax !== undefined) {
    if (!/^\d+$/.test(rawMax)) {
      throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
        ArgumentName: 'max-keys',
        ArgumentValue: rawMax,
      });
    }
    maxKeys = Math.min(1000, Number(rawMax));
  }
  const token = one(q['continuation-token']);
  const startAfterParam = one(q['start-after']);
  const resume = token ? decodeToken(token) : undefined;
  const after = resume?.k ?? startAfterParam ?? '';
  const skipPrefix = resume?.p ? resume.k : undefined;

  const contents: { Key: string; LastModified: string; ETag?: string; Size: number; StorageClass: string }[] =
    [];
  const commonPrefixes: { Prefix: string }[] = [];
  let lastEntry: { k: string; p: boolean } | undefined;
  let truncated = false;
  for (const key of await bucketKeys(store.getBucketPath(bucket), prefix)) {
    if (after && compareKeys(key, after) <= 0) continue;
    if (skipPrefix && key.startsWith(skipPrefix)) continue;
    let cp: string | undefined;
    if (delimiter) {
      const i = key.indexOf(delimiter, prefix.length);
      if (i >= 0) cp = key.slice(0, i + delimiter.length);
    }
    if (cp !== undefined && lastEntry?.p && lastEntry.k === cp) continue;
    if (contents.length + commonPrefixes.length >= maxKeys) {
      truncated = maxKeys > 0;
      break;
    }
    if (cp !== undefined) {
      commonPrefixes.push({ Prefix: enc(cp) });
      lastEntry = { k: cp, p: true };
      continue;
    }
    let meta: S3rverMetadata;
    try {
      meta = await store.getMetadata(bucket, key);
    } catch {
      continue; // deleted meanwhile
    }
    contents.push({
      Key: enc(key),
      LastModified: new Date(meta['last-modified'] ?? 0).toISOString(),
      ETag: meta.etag,
      Size: Number(meta['content-length'] ?? 0),
      StorageClass: 'STANDARD',
    });
    lastEntry = { k: key, p: false };
  }
  ctx.body = {
    ListBucketResult: {
      '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
      Name: bucket,
      Prefix: enc(prefix),
      StartAfter: token || startAfterParam === undefined ? undefined : enc(startAfterParam),
      ContinuationToken: token || undefined,
      NextContinuationToken: truncated && lastEntry ? encodeToken(lastEntry.k, lastEntry.p) : undefined,
      KeyCount: contents.length + commonPrefixes.length,
      MaxKeys: maxKeys,
      Delimiter: delimiter ? enc(delimiter) : undefined,
      EncodingType: urlEncode ? 'url' : undefined,
      IsTruncated: truncated,
      Contents: contents,
      CommonPrefixes: commonPrefixes,
    },
  };
}

/** Routes ListObjectsV2 to the implementation above (once per process; s3rver's routes look it up per call). */
function patchListObjectsV2(): void {
  const ctrl = bucketController as typeof bucketController & { [PATCHED]?: true };
  if (ctrl[PATCHED]) return;
  const original = ctrl.getBucket;
  ctrl.getBucket = (ctx: KoaCtx) =>
    one(ctx.query['list-type']) === '2' ? listObjectsV2(ctx) : original(ctx);
  ctrl[PATCHED] = true;
}

/** Fixes `bytes=0-0` and ranges of empty objects on one instance's store. */
function patchRanges(store: S3rverStore): void {
  const original = store.getObject.bind(store);
  store.getObject = async (bucket, key, options) => {
    const obj = await original(bucket, key, options);
    if (!obj?.range || !obj.content) return obj;
    if (obj.size === 0) {
      // S3 answers 416 to any range of an empty object; s3rver does so when content is null.
      obj.content.destroy();
      (obj as { content: unknown }).content = null;
      return obj;
    }
    if (options?.end === 0 && obj.range.start === 0) {
      obj.content.destroy();
      obj.content = createReadStream(store.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 });
      obj.range.end = 0;
    }
    return obj;
  };
}

/** Starts s3rver on `host:port` with `bucket` configured; see the file comment for what is patched. */
export async function startS3Server(opts: S3ServerOptions): Promise<S3ServerHandle> {
  patchListObjectsV2();
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  await mkdir(opts.dataDir, { recursive: true });
  let running: { app: S3rverInstance; server: Server } | undefined;
  let transition: Promise<void> = Promise.resolve();
  const serial = (fn: () => Promise<void>) => {
    const next = transition.then(fn);
    transition = next.catch(() => {});
    return next;
  };

  const listen = async () => {
    if (running) return;
    // A fresh s3rver each time (it closes its logger with its server). Its own run() cannot be used: it
    // leaves the server's 'error' event unhandled, so a busy port crashed the whole process.
    const app = new S3rver({
      silent: true,
      directory: opts.dataDir,
      resetOnClose: false,
      configureBuckets: [{ name: opts.bucket, configs: [] }],
    });
    patchRanges(app.store);
    await app.configureBuckets();
    for (let attempt = 0; ; attempt++) {
      const server = createServer(app.callback());
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => {
            server.off('listening', onListening);
            reject(err);
          };
          const onListening = () => {
            server.off('error', onError);
            resolve();
          };
          server.once('error', onError);
          server.once('listening', onListening);
          server.listen(port, host);
        });
        server.on('error', (err) => opts.logger?.info({ err }, 's3 server error'));
        running = { app, server };
        break;
      } catch (err) {
        // After a stop the port may briefly be held by someone else: retry for a while.
        if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await waitForPort(port, 5_000, host);
    opts.logger?.info(
      { endpoint: handle.endpoint, bucket: opts.bucket, dataDir: opts.dataDir },
      's3 server listening',
    );
  };

  const close = async () => {
    const r = running;
    if (!r) return;
    running = undefined;
    await new Promise<void>((resolve) => {
      r.server.close(() => resolve());
      r.server.closeAllConnections();
    });
    r.app.logger?.exceptions?.unhandle();
    r.app.logger?.close();
    opts.logger?.info({ endpoint: handle.endpoint }, 's3 server stopped');
  };

  const handle: S3ServerHandle = {
    endpoint: `http://${host}:${port}`,
    bucket: opts.bucket,
    region: S3RVER_REGION,
    accessKeyId: S3RVER_ACCESS_KEY_ID,
    secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
    port,
    dataDir: opts.dataDir,
    get running() {
      return running !== undefined;
    },
    stop: () => serial(close),
    start: () => serial(listen),
    restart: () =>
      serial(async () => {
        await close();
        await listen();
      }),
  };
  await handle.start();
  return handle;
}
