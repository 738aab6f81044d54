/**
 * The polite HTTP client of Harbour's scrapers: per-host concurrency, token-bucket rate and adaptive
 * slow-down, retries with full-jitter back-off honouring Retry-After, a per-client cookie jar, a
 * request budget, body size limit, Prometheus metrics and pino logging.
 */
export { abortError, isAbortError } from './abort.ts';
export {
  type BodySink,
  createHttpClient,
  type HttpClient,
  type HttpClientDeps,
  type HttpHeaders,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  parseRetryAfterMs,
} from './client.ts';
export {
  DEFAULT_USER_AGENT,
  HttpClientConfig,
  type HttpClientConfigInput,
  resolveHttpClientConfig,
} from './config.ts';
export { CookieJar } from './cookie-jar.ts';
export type { HttpOutcome } from './metrics.ts';
