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
  /**
   * An error that carries no catalogue code (a driver's, Node's, a bug): logs, DLQ messages and
   * CLI exit lines report it under this code, with its own message.
   */
  Unexpected: 'HARBOUR_ERR_UNEXPECTED',
  /** A broken internal invariant (a state the code does not allow, an answer a library must give); a bug, never bad input. */
  Internal: 'HARBOUR_ERR_INTERNAL',
  /** A request or command parameter is invalid (exporter `bad_parameter`, CLI options, rebuild options); the detail names it. */
  BadParameter: 'HARBOUR_ERR_BAD_PARAMETER',
  /** Exporter: no asked stock code is known (`unknown_code`). */
  UnknownCode: 'HARBOUR_ERR_UNKNOWN_CODE',
  /** Exporter: the request has no or a wrong bearer token (`unauthorized`). */
  Unauthorized: 'HARBOUR_ERR_UNAUTHORIZED',
  /** Exporter: the URL or body exceeds its limit (`uri_too_long`, `body_too_large`). */
  RequestTooLarge: 'HARBOUR_ERR_REQUEST_TOO_LARGE',
  /** Exporter: every slot for this kind of request is taken (`busy`); try again in a few seconds. */
  Busy: 'HARBOUR_ERR_BUSY',
  /** Exporter: the route exists but not for this method (`method_not_allowed`). */
  MethodNotAllowed: 'HARBOUR_ERR_METHOD_NOT_ALLOWED',
  /** Transformer: a lake file is not in the catalog (yet), or its bytes do not match the catalog's checksum; retried. */
  LakeFile: 'HARBOUR_ERR_LAKE_FILE',
  /** Transformer: a model's SQL failed; the batch is rolled back. */
  ModelFailed: 'HARBOUR_ERR_MODEL_FAILED',
  /** Transformer: a model test of severity error failed; the batch is rolled back and nothing wrong is published. */
  ModelTestFailed: 'HARBOUR_ERR_MODEL_TEST_FAILED',
  /** Transformer: the model files are wrong (bad front matter, unknown dependency, a cycle). */
  ModelDefinition: 'HARBOUR_ERR_MODEL_DEFINITION',
  /** Compactor: a merge lost the race against another replacement of one of its inputs; rolled back, retried next round. */
  MergeRaceLost: 'HARBOUR_ERR_MERGE_RACE_LOST',
  /** Parquet writer: used out of order (appending to a full row group, after close or failure); a bug in the caller. */
  ParquetWriterState: 'HARBOUR_ERR_PARQUET_WRITER_STATE',
} as const;

/**
 * The exporter's JSON `error` names and the catalogue code each answers with (`{ error, code, … }`):
 * the short name is the HTTP contract clients already match; the code ties it to this catalogue.
 */
export const HttpErrorCodes = {
  bad_parameter: ErrorCodes.BadParameter,
  unknown_code: ErrorCodes.UnknownCode,
  unauthorized: ErrorCodes.Unauthorized,
  uri_too_long: ErrorCodes.RequestTooLarge,
  body_too_large: ErrorCodes.RequestTooLarge,
  busy: ErrorCodes.Busy,
  not_found: ErrorCodes.NotFound,
  method_not_allowed: ErrorCodes.MethodNotAllowed,
  internal: ErrorCodes.Unexpected,
} as const satisfies Record<string, string>;

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

/** The catalogue code of any thrown value: its own for a HarbourError, else `HARBOUR_ERR_UNEXPECTED`. */
export function errorCodeOf(err: unknown): ErrorCode {
  return isHarbourError(err) ? err.code : ErrorCodes.Unexpected;
}
