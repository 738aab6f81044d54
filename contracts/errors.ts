/**
 * The error catalogue. Every error Harbour raises on purpose carries one of these codes, so logs,
 * DLQ messages, CLI exit messages and HTTP answers can be matched on a stable string.
 */
export const ErrorCodes = {
  /** A payload or config value failed its schema; the message names the field. */
  SchemaInvalid: 'HARBOUR_ERR_SCHEMA_INVALID',
  /** A payload was not parseable JSON. */
  NotJson: 'HARBOUR_ERR_NOT_JSON',
  /** A configuration value is missing or wrong. */
  Config: 'HARBOUR_ERR_CONFIG',
  /** An existing stream/consumer/bucket differs from the declared topology. */
  TopologyConflict: 'HARBOUR_ERR_TOPOLOGY_CONFLICT',
  /** A required external program (nats-server, prometheus…) is absent and cannot be installed. */
  MissingProgram: 'HARBOUR_ERR_MISSING_PROGRAM',
  /** A launched component did not become ready in time. */
  StartTimeout: 'HARBOUR_ERR_START_TIMEOUT',
  /** Object store: key absent. */
  ObjectNotFound: 'HARBOUR_ERR_OBJECT_NOT_FOUND',
  /** Object store: key not acceptable (empty, absolute, contains `..`). */
  ObjectKeyInvalid: 'HARBOUR_ERR_OBJECT_KEY_INVALID',
  /** Object store: backend unreachable or failed; retryable. */
  ObjectStoreUnavailable: 'HARBOUR_ERR_OBJECT_STORE_UNAVAILABLE',
  /** Object store: the backend refused the request (credentials, missing bucket, key/prefix conflict); not retryable. */
  ObjectStoreRejected: 'HARBOUR_ERR_OBJECT_STORE_REJECTED',
  /** Parsers: the source answered with its maintenance page. */
  ParseMaintenance: 'HARBOUR_ERR_PARSE_MAINTENANCE',
  /** Parsers: the source has no data for the asked key/date. */
  ParseNoData: 'HARBOUR_ERR_PARSE_NO_DATA',
  /** Parsers: the source does not know the asked stock. */
  ParseUnknownStock: 'HARBOUR_ERR_PARSE_UNKNOWN_STOCK',
  /** Parsers: detail rows disagree with the page's own summary counts. */
  ParseTruncated: 'HARBOUR_ERR_PARSE_TRUNCATED',
  /** Parsers: the page does not look like any known layout. */
  ParseLayout: 'HARBOUR_ERR_PARSE_LAYOUT',
  /** HTTP client: the request budget (requestBudget per requestBudgetWindowMs) is spent and would not refill within retryAfterMaxMs. */
  HttpBudget: 'HARBOUR_ERR_HTTP_BUDGET',
  /** HTTP client: retries exhausted or a non-retryable status. */
  HttpFailed: 'HARBOUR_ERR_HTTP_FAILED',
  /** HTTP client: a response body (declared or decoded) exceeds `maxBodyBytes`; not retried. */
  HttpBodyTooLarge: 'HARBOUR_ERR_HTTP_BODY_TOO_LARGE',
  /**
   * Quote widget: the API refused the token (403 or a token-rejecting `responsecode`) even with a
   * freshly read one, or the HKEX equities page carries no token; retried with back-off.
   */
  QuoteToken: 'HARBOUR_ERR_QUOTE_TOKEN',
  /** Quote widget: a non-"000" `responsecode` whose meaning is not known; retried, never read as "no data". */
  QuoteResponse: 'HARBOUR_ERR_QUOTE_RESPONSE',
  /** Planner: fundamentals are snapshots of the moment fetched; a past date cannot be collected. */
  SnapshotOnly: 'HARBOUR_ERR_SNAPSHOT_ONLY',
  /** A server Harbour needs (NATS, Postgres) cannot be reached; the message names the host and the setting to check. */
  Unreachable: 'HARBOUR_ERR_UNREACHABLE',
  /** A query names something that does not exist (e.g. no gold row for a lineage request). */
  NotFound: 'HARBOUR_ERR_NOT_FOUND',
  /**
   * HTTP client / sources: the answer looks like a bot wall (bot-management script, challenge page)
   * or a rate limit (429 after retries, 403 that is not the asked page). The host is slowed down;
   * retried later, never read as a layout change.
   */
  HttpBlocked: 'HARBOUR_ERR_HTTP_BLOCKED',
  /** Planner: the asked date is outside what the source serves (CCASS: the last `ccassHistoryDays`); refused before any request. */
  SourceWindow: 'HARBOUR_ERR_SOURCE_WINDOW',
  /**
   * Daily quotations: one board's report (main board `dYYMMDDe.htm` or GEM `e_GYYMMDD.htm`) is
   * missing (404) while the other exists; nothing is published (retried, then DLQ), so a day is
   * never half-collected.
   */
  QuotationsBoardMissing: 'HARBOUR_ERR_QUOTATIONS_BOARD_MISSING',
  /** Shutdown: the drain deadline passed and the service was closed by force. */
  ShutdownForced: 'HARBOUR_ERR_SHUTDOWN_FORCED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class HarbourError extends Error {
  readonly code: ErrorCode;
  /** Structured detail for logs and DLQ messages (field path, URL, counts…). */
  readonly detail: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; detail?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HarbourError';
    this.code = code;
    this.detail = options?.detail;
  }
}

export function isHarbourError(err: unknown, code?: ErrorCode): err is HarbourError {
  return err instanceof HarbourError && (code === undefined || err.code === code);
}
