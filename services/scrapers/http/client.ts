import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  brotliDecompress,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  gunzip,
  inflate,
  inflateRaw,
} from 'node:zlib';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { ErrorCodes, HarbourError, isHarbourError } from '../../../contracts/errors.ts';
import { backoffMs, sleep } from '../../runtime/index.ts';
import { abortError, linkedController } from './abort.ts';
import { type HttpClientConfig, type HttpClientConfigInput, resolveHttpClientConfig } from './config.ts';
import { CookieJar } from './cookie-jar.ts';
import { HostGate } from './host-gate.ts';
import { createHttpMetrics, type HttpMetrics, type HttpOutcome } from './metrics.ts';
import { RequestBudget } from './request-budget.ts';

export type HttpMethod = 'GET' | 'POST';
/** Response headers, lower-case names; repeated headers (set-cookie) are arrays. */
export type HttpHeaders = Record<string, string | string[] | undefined>;

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute http(s) URL. */
  url: string | URL;
  /** Extra request headers; they override the client's defaults (user-agent, accept-encoding). */
  headers?: Record<string, string>;
  /** Sent as an `application/x-www-form-urlencoded` body; POST only. */
  form?: Record<string, string>;
  /** Aborts queueing, back-off sleeps and the request in flight at once (rejects with an AbortError). */
  signal?: AbortSignal;
  /** Whole-attempt deadline of this request (default: the client's `timeoutMs`); size it per source. */
  timeoutMs?: number;
  /** Longest wait for the answer's headers or between two body chunks (default: the client's `timeoutMs`). */
  idleTimeoutMs?: number;
  /**
   * Streams a 2xx body instead of buffering it: called once per attempt (a retry starts a fresh
   * sink), the sink gets the decoded bytes as they arrive. `write` returning true means it has what
   * it needs: the rest of the body is not read (the connection is dropped). An error thrown by the
   * sink ends the request with that error, not retried when it is a HarbourError. Non-2xx answers
   * are buffered as usual, so the caller can classify them. The response's `body` is then empty
   * and `sink` is the sink of the attempt that answered.
   */
  sink?: () => BodySink;
}

/** Receiver of a streamed body, see {@link HttpRequest.sink}. */
export interface BodySink {
  write(chunk: Uint8Array): boolean | undefined;
}

export interface HttpResponse {
  status: number;
  headers: HttpHeaders;
  /** The body, decompressed when the server used gzip/deflate/br. */
  body: Uint8Array;
  /** The body as text, in the charset of `content-type` (UTF-8 when absent or unknown). */
  text(): string;
  /** The URL that answered (after redirects). */
  url: string;
  /** Attempts spent on the final hop (1 = no retry). */
  attempts: number;
  /** The sink that received the body, when the request streamed it (2xx only). */
  sink?: BodySink;
}

export interface HttpClient {
  /**
   * Sends a request politely. Resolves with any final answer that is not retryable (2xx, 3xx, 4xx
   * other than 429 — the caller classifies 404). Rejects with
   * - `HARBOUR_ERR_HTTP_FAILED` when retries are exhausted (detail: url, method, attempts, lastStatus|lastError)
   *   or a non-retryable network error happens,
   * - `HARBOUR_ERR_HTTP_BUDGET` when the request budget is spent and would not refill within
   *   `retryAfterMaxMs`,
   * - `HARBOUR_ERR_HTTP_BODY_TOO_LARGE` when the body exceeds `maxBodyBytes`,
   * - an `AbortError` when `signal` aborts or the client is closed.
   */
  request(req: HttpRequest): Promise<HttpResponse>;
  /** The resolved configuration (defaults filled). */
  readonly config: Readonly<HttpClientConfig>;
  /** Attempts allowed right now by `requestBudget` (it refills over `requestBudgetWindowMs`). */
  budgetRemaining(): number;
  /** Current adaptive delay of a host (`hostname[:port]`), in ms. */
  hostDelayMs(host: string): number;
  /**
   * The caller recognised a "slow down" answer the client cannot (a bot-wall or challenge page
   * served with 200/403): widen the host's spacing as for a 429.
   */
  slowDown(host: string): void;
  /** Aborts everything queued or in flight (AbortError) and closes the connection pool. Idempotent. */
  close(): Promise<void>;
}

export interface HttpClientDeps {
  logger?: Logger;
  metrics?: { registry: Registry };
  /** Random source for back-off jitter, [0, 1). Tests only. */
  random?: () => number;
}

interface Hop {
  method: HttpMethod;
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
  idleTimeoutMs: number;
  sink: (() => BodySink) | undefined;
}

interface RawResponse {
  status: number;
  headers: HttpHeaders;
  body: Uint8Array;
  attempts: number;
  sink?: BodySink;
}

interface HostState {
  gate: HostGate;
  log: Logger;
}

const EMPTY = new Uint8Array(0);
/** Bytes of a retryable answer's body read to keep the connection reusable; beyond, the socket is dropped. */
const DUMP_LIMIT_BYTES = 64 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'Z_DATA_ERROR',
  'Z_BUF_ERROR',
]);

/** What every request of one client shares. */
interface ClientContext {
  cfg: HttpClientConfig;
  agent: Agent;
  jar: CookieJar;
  metrics: HttpMetrics;
  /** Back-off jitter, [0, 1). */
  random: () => number;
  budget: RequestBudget;
  hosts: HostStates;
}

export function createHttpClient(config: HttpClientConfigInput = {}, deps: HttpClientDeps = {}): HttpClient {
  const cfg = resolveHttpClientConfig(config);
  const logger = deps.logger ?? pino({ level: 'silent' });
  const metrics: HttpMetrics = createHttpMetrics(deps.metrics?.registry);
  const agent = new Agent({
    connections: cfg.perHostConcurrency,
    keepAliveTimeout: cfg.keepAliveTimeoutMs,
    headersTimeout: cfg.timeoutMs,
    bodyTimeout: cfg.timeoutMs,
    connect: { timeout: cfg.timeoutMs },
  });
  const ctx: ClientContext = {
    cfg,
    agent,
    jar: new CookieJar(),
    metrics,
    random: deps.random ?? Math.random,
    budget: new RequestBudget(cfg, logger, metrics),
    hosts: new HostStates(cfg, logger, metrics),
  };
  const closeController = new AbortController();
  let closing: Promise<void> | undefined;

  const request = async (req: HttpRequest): Promise<HttpResponse> => {
    let hop = firstHop(req, cfg);
    if (closeController.signal.aborted) throw abortError(closeController.signal);
    const { controller, dispose } = linkedController([req.signal, closeController.signal]);
    try {
      for (let redirects = 0; ; redirects++) {
        const res = await send(ctx, hop, controller.signal);
        const next = redirects < cfg.maxRedirects ? redirectHop(hop, res) : undefined;
        if (next) {
          hop = next;
          continue;
        }
        return makeResponse(res, hop.url);
      }
    } finally {
      dispose();
    }
  };

  return {
    request,
    config: cfg,
    budgetRemaining: () => ctx.budget.remaining(),
    hostDelayMs: (host) => ctx.hosts.delayMs(host),
    slowDown: (host) => ctx.hosts.of(host).gate.slowDown(),
    close() {
      if (!closing) {
        closeController.abort(new Error('http client closed'));
        closing = agent.destroy().catch(() => undefined);
      }
      return closing;
    },
  };
}

/** Each host's gate (concurrency, rate, adaptive delay) and logger, made on its first request. */
class HostStates {
  private readonly hosts = new Map<string, HostState>();

  constructor(
    private readonly cfg: HttpClientConfig,
    private readonly logger: Logger,
    private readonly metrics: HttpMetrics,
  ) {}

  of(host: string): HostState {
    let state = this.hosts.get(host);
    if (!state) {
      const { cfg, metrics } = this;
      metrics.hostDelay.set({ host }, 0);
      const log = this.logger.child({ component: 'http-client', host });
      state = {
        log,
        gate: new HostGate({
          concurrency: cfg.perHostConcurrency,
          requestsPerSecond: cfg.requestsPerSecond,
          burst: cfg.burst,
          adaptiveDelayStepMs: cfg.adaptiveDelayStepMs,
          adaptiveDelayFactor: cfg.adaptiveDelayFactor,
          adaptiveDelayDecay: cfg.adaptiveDelayDecay,
          adaptiveDelayMaxMs: cfg.adaptiveDelayMaxMs,
          onDelayChange: (delayMs) => {
            metrics.hostDelay.set({ host }, delayMs);
            log.debug({ delayMs }, 'http host delay changed');
          },
        }),
      };
      this.hosts.set(host, state);
    }
    return state;
  }

  /** The host's current adaptive delay; 0 for a host not asked yet. */
  delayMs(host: string): number {
    return this.hosts.get(host)?.gate.delayMs ?? 0;
  }
}

/** One attempt: send, store cookies, read (or drop) the body. Throws on network/abort/size errors. */
async function attemptOnce(
  { agent, jar, cfg }: ClientContext,
  hop: Hop,
  signal: AbortSignal,
): Promise<Omit<RawResponse, 'attempts'>> {
  const headers = { ...hop.headers };
  const cookie = jar.header(hop.url);
  if (cookie) headers['cookie'] = headers['cookie'] ? `${headers['cookie']}; ${cookie}` : cookie;
  const res = await undiciRequest(hop.url, {
    dispatcher: agent,
    method: hop.method,
    headers,
    body: hop.body,
    signal,
    headersTimeout: hop.idleTimeoutMs,
    bodyTimeout: hop.idleTimeoutMs,
  });
  jar.store(hop.url, res.headers['set-cookie']);
  if (isRetryableStatus(res.statusCode)) {
    await res.body.dump({ limit: DUMP_LIMIT_BYTES }).catch(() => undefined);
    return { status: res.statusCode, headers: res.headers, body: EMPTY };
  }
  if (hop.sink && res.statusCode >= 200 && res.statusCode < 300) {
    const sink = hop.sink();
    await streamBody(res, hop, cfg.maxBodyBytes, sink);
    return { status: res.statusCode, headers: res.headers, body: EMPTY, sink };
  }
  const body = await readBody(res, hop, cfg.maxBodyBytes);
  return { status: res.statusCode, headers: res.headers, body };
}

/** How one attempt went: its answer, or what it failed with (and whether that was its own deadline). */
type AttemptOutcome =
  | { result: Omit<RawResponse, 'attempts'> }
  | { result: undefined; failure: unknown; timedOut: boolean };

/**
 * One attempt within the budget and the host's gate, under the hop's whole-attempt deadline; its
 * duration is observed whatever the outcome.
 */
async function timedAttempt(
  ctx: ClientContext,
  hop: Hop,
  gate: HostGate,
  signal: AbortSignal,
): Promise<AttemptOutcome & { elapsedMs: number }> {
  await ctx.budget.take(hop, signal);
  const release = await gate.acquire(signal);
  const { controller, dispose } = linkedController([signal]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`attempt timed out after ${hop.timeoutMs} ms`));
  }, hop.timeoutMs);
  const started = performance.now();
  let outcome: AttemptOutcome;
  try {
    outcome = { result: await attemptOnce(ctx, hop, controller.signal) };
  } catch (failure) {
    outcome = { result: undefined, failure, timedOut };
  } finally {
    clearTimeout(timer);
    dispose();
    release();
  }
  const elapsedMs = performance.now() - started;
  ctx.metrics.duration.observe({ host: hop.url.host }, elapsedMs / 1000);
  return { ...outcome, elapsedMs };
}

/**
 * Sends one hop with politeness, budget and retries: network errors and timeouts (not fatal
 * ones), 429 and 5xx are retried with back-off up to `maxRetries`, honouring a Retry-After no
 * longer than `retryAfterMaxMs`. Every attempt's answer adjusts the host's adaptive delay.
 */
async function send(ctx: ClientContext, hop: Hop, signal: AbortSignal): Promise<RawResponse> {
  const { cfg, metrics } = ctx;
  const host = hop.url.host;
  const { gate, log } = ctx.hosts.of(host);
  const retry = new RetryRecord(ctx, hop, log, signal);
  for (let attempt = 1; ; attempt++) {
    const tried = await timedAttempt(ctx, hop, gate, signal);
    if (!tried.result) {
      const { failure, timedOut } = tried;
      if (signal.aborted) throw abortError(signal);
      if (isHarbourError(failure)) {
        const status = failure.detail?.['status'];
        if (typeof status === 'number') metrics.requests.inc({ host, outcome: outcomeOfStatus(status) });
        throw failure;
      }
      const kind = timedOut ? 'timeout' : classifyError(failure);
      gate.slowDown();
      retry.failedWith(undefined, timedOut ? `timeout after ${hop.timeoutMs} ms` : describeError(failure));
      if (kind === 'fatal' || attempt > cfg.maxRetries) {
        metrics.requests.inc({ host, outcome: kind === 'fatal' ? 'network_error' : kind });
        throw retry.giveUp(attempt, {}, failure);
      }
      await retry.backOff(attempt);
      continue;
    }

    const { result, elapsedMs } = tried;
    const status = result.status;
    if (status === 429 || status >= 500 || elapsedMs > cfg.slowResponseMs) gate.slowDown();
    else if (status >= 200 && status < 300) gate.speedUp();
    if (!isRetryableStatus(status)) {
      metrics.requests.inc({ host, outcome: outcomeOfStatus(status) });
      return { ...result, attempts: attempt };
    }
    retry.failedWith(status, undefined);
    const retryAfterMs = parseRetryAfterMs(result.headers['retry-after']);
    if (retryAfterMs !== undefined && retryAfterMs > cfg.retryAfterMaxMs) {
      metrics.requests.inc({ host, outcome: outcomeOfStatus(status) });
      throw retry.giveUp(attempt, { retryAfterMs });
    }
    if (attempt > cfg.maxRetries) {
      metrics.requests.inc({ host, outcome: outcomeOfStatus(status) });
      throw retry.giveUp(attempt);
    }
    if (retryAfterMs !== undefined) gate.pauseFor(retryAfterMs);
    await retry.backOff(attempt, retryAfterMs);
  }
}

/** A hop's retries: the last failure (a status or an error), the back-off before the next attempt, the final error. */
class RetryRecord {
  private lastStatus: number | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly ctx: ClientContext,
    private readonly hop: Hop,
    private readonly log: Logger,
    private readonly signal: AbortSignal,
  ) {}

  failedWith(status: number | undefined, error: string | undefined): void {
    this.lastStatus = status;
    this.lastError = error;
  }

  /** Waits the jittered back-off of `attempt`, or `retryAfterMs` when longer. */
  async backOff(attempt: number, retryAfterMs?: number): Promise<void> {
    const { cfg, metrics, random } = this.ctx;
    const host = this.hop.url.host;
    const reason = this.lastStatus !== undefined ? `status ${this.lastStatus}` : this.lastError;
    const delayMs = Math.max(
      backoffMs(attempt, cfg.retryBaseDelayMs, cfg.retryMaxDelayMs, random),
      retryAfterMs ?? 0,
    );
    metrics.requests.inc({ host, outcome: 'retry' });
    metrics.retries.inc({ host });
    this.log.debug(
      { url: this.hop.url.href, attempt, reason, delayMs, retryAfterMs },
      'http retry scheduled',
    );
    await sleep(delayMs, this.signal);
  }

  /** HttpFailed after `attempts`, logged, with the last status or error. */
  giveUp(attempts: number, extra: Record<string, unknown> = {}, cause?: unknown): HarbourError {
    const { hop, lastStatus, lastError } = this;
    const detail = { url: hop.url.href, method: hop.method, attempts, lastStatus, lastError, ...extra };
    this.log.warn(detail, 'http request failed, giving up');
    const what = lastStatus !== undefined ? `status ${lastStatus}` : (lastError ?? 'unknown error');
    return new HarbourError(
      ErrorCodes.HttpFailed,
      `${hop.method} ${hop.url.href} failed after ${attempts} attempt(s): ${what}`,
      { detail, cause },
    );
  }
}

function firstHop(req: HttpRequest, cfg: HttpClientConfig): Hop {
  if (req.method !== 'GET' && req.method !== 'POST') {
    throw new TypeError(`http client: unsupported method ${String(req.method)}`);
  }
  const url = new URL(req.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`http client: unsupported URL scheme ${url.protocol}`);
  }
  const headers: Record<string, string> = { 'user-agent': cfg.userAgent, accept: '*/*' };
  if (cfg.acceptCompression) headers['accept-encoding'] = 'gzip, deflate, br';
  for (const [name, value] of Object.entries(req.headers ?? {})) headers[name.toLowerCase()] = value;
  let body: string | undefined;
  if (req.form !== undefined) {
    if (req.method !== 'POST') throw new TypeError('http client: a form body needs method POST');
    body = new URLSearchParams(req.form).toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  }
  return {
    method: req.method,
    url,
    headers,
    body,
    timeoutMs: req.timeoutMs ?? cfg.timeoutMs,
    idleTimeoutMs: req.idleTimeoutMs ?? cfg.timeoutMs,
    sink: req.sink,
  };
}

/** The next hop of a redirect, or undefined when `res` is not a followable redirect. */
function redirectHop(hop: Hop, res: RawResponse): Hop | undefined {
  if (!REDIRECT_STATUSES.has(res.status)) return undefined;
  const location = firstHeader(res.headers['location']);
  if (!location) return undefined;
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const keepMethod = res.status === 307 || res.status === 308 || hop.method === 'GET';
  if (keepMethod) return { ...hop, url };
  const headers = { ...hop.headers };
  delete headers['content-type'];
  delete headers['content-length'];
  return { ...hop, method: 'GET', url, headers, body: undefined };
}

function makeResponse(res: RawResponse, url: URL): HttpResponse {
  let text: string | undefined;
  return {
    status: res.status,
    headers: res.headers,
    body: res.body,
    url: url.href,
    attempts: res.attempts,
    ...(res.sink ? { sink: res.sink } : {}),
    text() {
      text ??= decodeText(res.body, firstHeader(res.headers['content-type']));
      return text;
    },
  };
}

function decodeText(body: Uint8Array, contentType: string | undefined): string {
  const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  if (charset) {
    try {
      return new TextDecoder(charset).decode(body);
    } catch {
      // unknown charset label: fall through to UTF-8
    }
  }
  return new TextDecoder('utf-8').decode(body);
}

const decoders: Record<string, (buf: Buffer, opts: { maxOutputLength: number }) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  br: promisify(brotliDecompress),
};
const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);

async function readBody(res: Dispatcher.ResponseData, hop: Hop, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = (bytes: number, stage: string): HarbourError => {
    // Destroying an unfinished body makes undici emit an abort error; nobody reads it any more.
    res.body.on('error', () => undefined).destroy();
    return new HarbourError(
      ErrorCodes.HttpBodyTooLarge,
      `${hop.method} ${hop.url.href}: ${stage} body of ${bytes} bytes exceeds maxBodyBytes ${maxBytes}`,
      { detail: { url: hop.url.href, status: res.statusCode, bytes, maxBodyBytes: maxBytes, stage } },
    );
  };
  const declared = Number(firstHeader(res.headers['content-length']) ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(declared, 'declared');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(size, 'received');
    chunks.push(chunk);
  }
  let body: Buffer = Buffer.concat(chunks, size);
  const encodings = (firstHeader(res.headers['content-encoding']) ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '' && e !== 'identity')
    .reverse();
  const opts = { maxOutputLength: Math.max(1, maxBytes) };
  for (const encoding of encodings) {
    try {
      const decode = decoders[encoding];
      if (decode) body = await decode(body, opts);
      else if (encoding === 'deflate')
        body = await inflateAsync(body, opts).catch(() => inflateRawAsync(body, opts));
      else break; // unknown coding: hand the bytes over as they came
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        throw tooLarge(opts.maxOutputLength, 'decoded');
      throw err;
    }
  }
  return body;
}

/**
 * Feeds a body to a sink as it arrives, decompressing on the fly (gzip/deflate/br); at most
 * `maxBytes` decoded bytes. Stops reading (drops the connection) when the sink has enough.
 */
async function streamBody(
  res: Dispatcher.ResponseData,
  hop: Hop,
  maxBytes: number,
  sink: BodySink,
): Promise<void> {
  const encodings = (firstHeader(res.headers['content-encoding']) ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '' && e !== 'identity')
    .reverse();
  let source: Readable = res.body;
  const stages: Readable[] = [res.body];
  for (const encoding of encodings) {
    const stage =
      encoding === 'gzip' || encoding === 'x-gzip'
        ? createGunzip()
        : encoding === 'br'
          ? createBrotliDecompress()
          : encoding === 'deflate'
            ? createInflate()
            : undefined;
    if (!stage) break; // unknown coding: hand the bytes over as they came
    source = source.pipe(stage);
    stages.push(stage);
  }
  let size = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        throw new HarbourError(
          ErrorCodes.HttpBodyTooLarge,
          `${hop.method} ${hop.url.href}: streamed body of ${size} bytes exceeds maxBodyBytes ${maxBytes}`,
          { detail: { url: hop.url.href, status: res.statusCode, bytes: size, maxBodyBytes: maxBytes } },
        );
      }
      if (sink.write(chunk) === true) return;
    }
  } finally {
    // An unfinished body (the sink had enough, or failed) is dropped; nobody reads its errors.
    for (const s of stages) if (!s.readableEnded) s.on('error', () => undefined).destroy();
  }
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

function outcomeOfStatus(status: number): HttpOutcome {
  if (status >= 500) return 'http_5xx';
  if (status >= 400) return 'http_4xx';
  return 'ok';
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
  return e.cause === undefined ? undefined : errorCode(e.cause);
}

function classifyError(err: unknown): 'timeout' | 'network_error' | 'fatal' {
  const code = errorCode(err);
  if (code === undefined) return 'fatal';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (NETWORK_CODES.has(code)) return 'network_error';
  return 'fatal';
}

function describeError(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code ? `${code}: ${message}` : message;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After as delay in ms (delta-seconds or HTTP date), or undefined when absent/unparseable. */
export function parseRetryAfterMs(
  value: string | string[] | undefined,
  nowMs = Date.now(),
): number | undefined {
  const v = firstHeader(value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
