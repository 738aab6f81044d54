import { Readable } from 'node:stream';
import type {
  GetObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { ErrorCodes, HarbourError, isHarbourError } from '../../contracts/errors.ts';
import {
  abortReason,
  bodyChunks,
  checkRange,
  collect,
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

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last). */
export const MIN_PART_SIZE = 5 * MiB;

export interface S3ObjectStoreConfig {
  /** e.g. `http://127.0.0.1:4568`; omit for AWS itself. */
  endpoint?: string;
  /** Default `us-east-1`. */
  region?: string;
  bucket: string;
  /** Both or neither; neither means the SDK's default credential chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Default true (path-style URLs, what MinIO/s3rver/most self-hosted stores need). */
  forcePathStyle?: boolean;
  /** Key prefix inside the bucket, e.g. `lake/` (a trailing `/` is added when missing). */
  prefix?: string;
  /** Multipart part size in bytes, >= 5 MiB. Default 8 MiB. Bodies up to one part go in a single PutObject. */
  partSize?: number;
  /** Parts uploaded at once. Default 4 (memory: about (queueSize + 1) x partSize per put). */
  queueSize?: number;
  /** SDK attempts per request (retries on network errors, 5xx, throttling). Default 3. */
  maxAttempts?: number;
  /** TCP connect timeout. Default 5 s. */
  connectionTimeoutMs?: number;
  /** Socket idle timeout of a request. Default 60 s. */
  requestTimeoutMs?: number;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const RETRYABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'ThrottlingException',
]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

function statusOf(err: SdkError): number | undefined {
  return err.$metadata?.httpStatusCode ?? err.$response?.statusCode;
}

type Sdk = typeof import('@aws-sdk/client-s3');
let sdkModule: Promise<Sdk> | undefined;
/** The SDK is loaded on first use: a process on the fs backend never pays for it (~30 MiB resident). */
const loadSdk = () => (sdkModule ??= import('@aws-sdk/client-s3'));
let storageModule: Promise<typeof import('@aws-sdk/lib-storage')> | undefined;
const loadStorage = () => (storageModule ??= import('@aws-sdk/lib-storage'));

/**
 * Objects in an S3 bucket (AWS, MinIO, s3rver...).
 *
 * Checksums are only computed/validated when an operation requires them (`WHEN_REQUIRED`): newer SDKs
 * otherwise send `aws-chunked` CRC32 trailers that many S3-compatible servers do not understand.
 * Network failures, timeouts, throttling and 5xx answers (after the SDK's own retries) surface as
 * `HARBOUR_ERR_OBJECT_STORE_UNAVAILABLE`; other refusals (credentials, missing bucket) as
 * `HARBOUR_ERR_OBJECT_STORE_REJECTED`; the SDK error is the `cause`.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly clientConfig: S3ClientConfig;
  private client: S3Client | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(config: S3ObjectStoreConfig) {
    if (!config.bucket) throw new HarbourError(ErrorCodes.Config, 's3 object store: bucket is required');
    if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
      throw new HarbourError(
        ErrorCodes.Config,
        's3 object store: give both accessKeyId and secretAccessKey, or neither',
      );
    }
    this.bucket = config.bucket;
    let prefix = config.prefix ?? '';
    if (prefix && !prefix.endsWith('/')) prefix += '/';
    if (prefix) validateKey(prefix.slice(0, -1));
    this.prefix = prefix;
    this.partSize = config.partSize ?? 8 * MiB;
    if (this.partSize < MIN_PART_SIZE) {
      throw new HarbourError(
        ErrorCodes.Config,
        `s3 object store: partSize must be >= ${MIN_PART_SIZE} bytes`,
      );
    }
    this.queueSize = Math.max(1, config.queueSize ?? 4);
    this.clientConfig = {
      endpoint: config.endpoint,
      region: config.region ?? 'us-east-1',
      forcePathStyle: config.forcePathStyle ?? true,
      credentials:
        config.accessKeyId !== undefined && config.secretAccessKey !== undefined
          ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
          : undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: config.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: config.connectionTimeoutMs ?? 5_000,
        requestTimeout: config.requestTimeoutMs ?? 60_000,
      },
    };
  }

  /** Runs `fn` with the SDK and this store's client, both made on first use. */
  private async call<T>(fn: (sdk: Sdk, client: S3Client) => Promise<T>): Promise<T> {
    const sdk = await loadSdk();
    this.client ??= new sdk.S3Client(this.clientConfig);
    return fn(sdk, this.client);
  }

  private fullKey(key: string): string {
    validateKey(key);
    return this.prefix + key;
  }

  /** Maps an SDK failure to a Harbour error (or the abort reason when the caller aborted). */
  private fail(op: string, key: string, err: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted) return abortReason(signal);
    if (isHarbourError(err)) return err;
    const e = (err ?? {}) as SdkError;
    if (e.name === 'AbortError') return err;
    const status = statusOf(e);
    const detail = { key, op, bucket: this.bucket, status, awsCode: e.name };
    if (status === 404 && (e.name === 'NoSuchKey' || e.name === 'NotFound')) return notFound(key, err);
    const network =
      status === undefined &&
      (NETWORK_CODES.has(e.code ?? '') || (typeof err === 'object' && err !== null && '$metadata' in err));
    if (
      network ||
      (status !== undefined && (status >= 500 || status === 429 || status === 408)) ||
      RETRYABLE_NAMES.has(e.name ?? '') ||
      /socket hang up|ECONNRESET|ECONNREFUSED/.test(e.message ?? '')
    ) {
      return new HarbourError(
        ErrorCodes.ObjectStoreUnavailable,
        `s3 object store: ${op} ${JSON.stringify(key)} failed: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
        { cause: err, detail },
      );
    }
    if (status !== undefined) {
      return new HarbourError(
        ErrorCodes.ObjectStoreRejected,
        `s3 object store: ${op} ${JSON.stringify(key)} refused (${status} ${e.name}): ${e.message}`,
        { cause: err, detail },
      );
    }
    return err;
  }

  /** Creates the bucket unless it exists. */
  async ensureBucket(opts: OpOptions = {}): Promise<void> {
    const { signal } = opts;
    try {
      await this.call((s, c) =>
        c.send(new s.HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }),
      );
      return;
    } catch (err) {
      const status = statusOf(err as SdkError);
      if (status !== 404) throw this.fail('ensureBucket', this.bucket, err, signal);
    }
    try {
      await this.call((s, c) =>
        c.send(new s.CreateBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }),
      );
    } catch (err) {
      const name = (err as SdkError).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return;
      throw this.fail('ensureBucket', this.bucket, err, signal);
    }
  }

  /**
   * Uploads with `@aws-sdk/lib-storage`'s `Upload`: a body up to one part goes in a single
   * PutObject, a longer one as a multipart upload of `partSize` parts, `queueSize` at once (memory:
   * about (queueSize + 1) × partSize), aborted (AbortMultipartUpload, best effort: s3rver lacks it)
   * on failure. The caller's abort stops reading the body and rejects at once; the upload is never
   * completed, so no object appears.
   */
  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<{ size: number }> {
    const Key = this.fullKey(key);
    const { signal, contentType } = opts;
    const upload = new AbortController();
    const onAbort = () => upload.abort(abortReason(signal!));
    let size = 0;
    // Upload keeps a part's chunks (uncopied when one chunk fills a part) while it reads on; a
    // copy per chunk lets the caller reuse its buffers once a chunk is taken.
    const copied = async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        size += chunk.byteLength;
        yield Buffer.from(chunk);
      }
    };
    try {
      signal?.throwIfAborted();
      signal?.addEventListener('abort', onAbort, { once: true });
      const [{ Upload }, client] = await Promise.all([loadStorage(), this.call(async (_s, c) => c)]);
      await new Upload({
        client,
        params: {
          Bucket: this.bucket,
          Key,
          Body: Readable.from(copied(bodyChunks(body, signal)), { objectMode: false }),
          ContentType: contentType,
        },
        partSize: this.partSize,
        queueSize: this.queueSize,
        abortController: upload,
      }).done();
      return { size };
    } catch (err) {
      throw this.fail('put', key, err, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const Key = this.fullKey(key);
    const { signal, range } = opts;
    try {
      signal?.throwIfAborted();
      let Range: string | undefined;
      let limit: number | undefined;
      if (range) {
        checkRange(range);
        if (range.end !== undefined && range.end <= range.start) {
          // Empty range: S3 cannot express it; still report a missing object.
          if (!(await this.head(key, { signal }))) throw notFound(key);
          return Readable.from([], { objectMode: false });
        }
        Range = `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}`;
        if (range.end !== undefined) limit = range.end - range.start;
      }
      let res: GetObjectCommandOutput;
      try {
        res = await this.call((s, c) =>
          c.send(new s.GetObjectCommand({ Bucket: this.bucket, Key, Range }), {
            abortSignal: signal,
          }),
        );
      } catch (err) {
        // Range starting at/after the end (or any range of an empty object): clamp to empty, like the fs store.
        if (Range && (statusOf(err as SdkError) === 416 || (err as SdkError).name === 'InvalidRange')) {
          return Readable.from([], { objectMode: false });
        }
        throw err;
      }
      if (!(res.Body instanceof Readable))
        throw new HarbourError(
          ErrorCodes.ObjectStoreUnavailable,
          'GetObject answered without a Node stream body',
        );
      return Readable.from(this.guardBody(res.Body, key, limit, signal), { objectMode: false });
    } catch (err) {
      throw this.fail('get', key, err, signal);
    }
  }

  /** Maps mid-stream failures and trims to the asked length (s3rver ignores `bytes=0-0`, for one). */
  private async *guardBody(
    body: Readable,
    key: string,
    limit: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Buffer> {
    let left = limit ?? Number.POSITIVE_INFINITY;
    try {
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        if (buf.length >= left) {
          yield buf.subarray(0, left);
          return;
        }
        left -= buf.length;
        yield buf;
      }
    } catch (err) {
      throw this.fail('get', key, err, signal);
    } finally {
      body.destroy();
    }
  }

  async getBytes(key: string, opts: GetOptions = {}): Promise<Uint8Array> {
    const stream = await this.get(key, opts);
    return collect(stream);
  }

  async head(key: string, opts: OpOptions = {}): Promise<ObjectInfo | null> {
    const Key = this.fullKey(key);
    const { signal } = opts;
    try {
      const r = await this.call((s, c) =>
        c.send(new s.HeadObjectCommand({ Bucket: this.bucket, Key }), {
          abortSignal: signal,
        }),
      );
      return { key, size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0), etag: r.ETag };
    } catch (err) {
      const mapped = this.fail('head', key, err, signal);
      if (isHarbourError(mapped, ErrorCodes.ObjectNotFound)) return null;
      throw mapped;
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const { signal } = opts;
    const pageSize = Math.min(1000, Math.max(1, opts.pageSize ?? 1000));
    let ContinuationToken: string | undefined;
    const StartAfter = opts.startAfter === undefined ? undefined : this.prefix + opts.startAfter;
    for (;;) {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.call((s, c) =>
          c.send(
            new s.ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: this.prefix + prefix,
              MaxKeys: pageSize,
              ContinuationToken,
              StartAfter: ContinuationToken ? undefined : StartAfter,
            }),
            { abortSignal: signal },
          ),
        );
      } catch (err) {
        throw this.fail('list', prefix, err, signal);
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.prefix)) continue;
        yield {
          key: o.Key.slice(this.prefix.length),
          size: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
          etag: o.ETag,
        };
      }
      if (!page.IsTruncated || !page.NextContinuationToken) return;
      ContinuationToken = page.NextContinuationToken;
    }
  }

  async delete(key: string, opts: OpOptions = {}): Promise<void> {
    const Key = this.fullKey(key);
    const { signal } = opts;
    try {
      await this.call((s, c) =>
        c.send(new s.DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: signal }),
      );
    } catch (err) {
      const mapped = this.fail('delete', key, err, signal);
      if (isHarbourError(mapped, ErrorCodes.ObjectNotFound)) return;
      throw mapped;
    }
  }

  async close(): Promise<void> {
    this.client?.destroy();
  }
}
