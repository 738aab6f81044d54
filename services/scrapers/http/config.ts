import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ErrorCodes, HarbourError } from '../../../contracts/errors.ts';
import { compile } from '../../../contracts/validate.ts';

/** Sent on every request unless the caller overrides `user-agent`; names us and where to complain. */
export const DEFAULT_USER_AGENT = 'Harbour/0.1 (+https://github.com/harbour; polite data collector)';

const MiB = 1024 * 1024;

/**
 * Configuration of the polite HTTP client. Every field is optional on input and has the documented
 * default; units are part of the names (`Ms` = milliseconds, `Bytes`, `PerSecond`).
 */
export const HttpClientConfig = Type.Object(
  {
    userAgent: Type.String({
      minLength: 1,
      default: DEFAULT_USER_AGENT,
      description: 'User-Agent header sent with every request',
    }),
    perHostConcurrency: Type.Integer({
      minimum: 1,
      default: 2,
      description: 'Maximum requests in flight at once to one host (host = hostname:port)',
    }),
    requestsPerSecond: Type.Number({
      exclusiveMinimum: 0,
      default: 2,
      description: 'Sustained request starts per second per host (token bucket refill rate)',
    }),
    burst: Type.Integer({
      minimum: 1,
      default: 4,
      description: 'Token bucket size: request starts allowed back to back before the rate applies',
    }),
    timeoutMs: Type.Integer({
      minimum: 1,
      default: 20_000,
      description: 'Whole-attempt deadline (connect + headers + body), in milliseconds',
    }),
    maxRetries: Type.Integer({
      minimum: 0,
      default: 4,
      description: 'Retries after the first attempt on network errors, timeouts, 429 and 5xx',
    }),
    retryBaseDelayMs: Type.Integer({
      minimum: 0,
      default: 500,
      description:
        'Back-off base: the n-th retry sleeps random(0, min(max, base * 2^(n-1))) ms (full jitter)',
    }),
    retryMaxDelayMs: Type.Integer({
      minimum: 0,
      default: 20_000,
      description: 'Back-off cap in milliseconds (before jitter)',
    }),
    retryAfterMaxMs: Type.Integer({
      minimum: 0,
      default: 120_000,
      description:
        'Longest Retry-After we are willing to wait; a server asking for longer makes the request fail at once',
    }),
    slowResponseMs: Type.Integer({
      minimum: 1,
      default: 5_000,
      description: 'An attempt slower than this counts as a sign of server stress (adaptive slow-down)',
    }),
    adaptiveDelayStepMs: Type.Integer({
      minimum: 0,
      default: 250,
      description: 'Extra spacing between request starts added to a host on its first stress sign',
    }),
    adaptiveDelayFactor: Type.Number({
      minimum: 1,
      default: 2,
      description: 'Multiplier applied to the host delay on each slow, 429, 5xx, timeout or network error',
    }),
    adaptiveDelayDecay: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      default: 0.8,
      description:
        'Multiplier applied to the host delay on each fast 2xx; below adaptiveDelayStepMs it drops to 0',
    }),
    adaptiveDelayMaxMs: Type.Integer({
      minimum: 0,
      default: 30_000,
      description: 'Ceiling of the adaptive per-host delay, in milliseconds',
    }),
    requestBudget: Type.Integer({
      minimum: 0,
      default: 20_000,
      description:
        'Most attempts (retries and redirect hops included) one client may send per requestBudgetWindowMs; the budget refills continuously, and a request that finds it spent waits for the refill (up to retryAfterMaxMs, else HARBOUR_ERR_HTTP_BUDGET)',
    }),
    requestBudgetWindowMs: Type.Integer({
      minimum: 1,
      default: 3_600_000,
      description:
        'Window of requestBudget, in milliseconds: the budget refills at requestBudget per this many ms (default: 20,000 attempts per hour, a guard against runaway retry loops; normal traffic is paced by requestsPerSecond per host)',
    }),
    maxBodyBytes: Type.Integer({
      minimum: 0,
      default: 50 * MiB,
      description: 'Largest response body accepted, declared, on the wire or decoded; larger is refused',
    }),
    maxRedirects: Type.Integer({
      minimum: 0,
      default: 5,
      description: 'Redirect hops followed (cookies applied per hop); 0 returns 3xx answers as they are',
    }),
    acceptCompression: Type.Boolean({
      default: true,
      description: 'Ask for gzip/deflate/br and decode transparently (less load on the source)',
    }),
    keepAliveTimeoutMs: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'How long an idle keep-alive socket is kept for reuse',
    }),
  },
  { additionalProperties: false },
);

/** The resolved configuration: every field present. */
export type HttpClientConfig = Static<typeof HttpClientConfig>;
/** What callers pass: any subset; the rest comes from the defaults. */
export type HttpClientConfigInput = Partial<HttpClientConfig>;

const validator = compile(HttpClientConfig, 'http client config');

/** Fills defaults and validates; throws `HARBOUR_ERR_SCHEMA_INVALID` or `HARBOUR_ERR_CONFIG`. */
export function resolveHttpClientConfig(input: HttpClientConfigInput = {}): HttpClientConfig {
  const config = validator.parse(Value.Default(HttpClientConfig, Value.Clone(input)));
  if (config.retryMaxDelayMs < config.retryBaseDelayMs) {
    throw new HarbourError(
      ErrorCodes.Config,
      'http client config: retryMaxDelayMs is below retryBaseDelayMs',
      {
        detail: { retryBaseDelayMs: config.retryBaseDelayMs, retryMaxDelayMs: config.retryMaxDelayMs },
      },
    );
  }
  return config;
}
