import { type Static, Type } from '@sinclair/typebox';
import { SHEET_KINDS } from '../../contracts/index.ts';

/** Sheet kinds a caller can ask for with `sheets=`. */
export { SHEET_KINDS, type SheetKind } from '../../contracts/index.ts';

export const ExporterConfig = Type.Object(
  {
    host: Type.String({
      default: '127.0.0.1',
      description:
        'bind address; anything but a loopback address (127.0.0.1, ::1, localhost) requires `token`',
    }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'HTTP port (0 = any free port)',
    }),
    token: Type.String({
      default: '',
      description:
        'bearer token (at least 16 characters) required on /export.xlsx and /api/* when set; mandatory when host is not loopback. / (the page), /healthz and /metrics stay open',
    }),
    maxCodes: Type.Integer({
      minimum: 1,
      default: 200,
      description: 'most stock codes one export may ask for',
    }),
    maxRangeDays: Type.Integer({
      minimum: 1,
      default: 3660,
      description: 'longest date range (days, to − from + 1) of an export or price query',
    }),
    maxConcurrentExports: Type.Integer({
      minimum: 1,
      default: 2,
      description:
        'workbooks streamed at once (all clients); a slot is given back when the response ends or the client goes away',
    }),
    maxExportsPerClient: Type.Integer({
      minimum: 1,
      default: 1,
      description:
        'workbooks streamed at once for one client (IP address), so one person cannot hold every slot',
    }),
    exportWaitMs: Type.Integer({
      minimum: 0,
      default: 10_000,
      description:
        'how long (ms) an export waits for a free slot (first come, first served) before 429 with Retry-After',
    }),
    maxConcurrentApi: Type.Integer({
      minimum: 1,
      default: 16,
      description: 'JSON API requests (/api/*) served at once; a further request gets 429',
    }),
    maxUrlBytes: Type.Integer({
      minimum: 256,
      default: 4096,
      description: 'longest request URL (bytes); longer gets 414 naming the longest parameter',
    }),
    maxRequestHeadBytes: Type.Integer({
      minimum: 16_384,
      default: 1_048_576,
      description:
        "largest request line + headers (bytes) the HTTP parser reads, so an over-long URL reaches the exporter's 414; beyond it Node answers 431",
    }),
    bodyLimitBytes: Type.Integer({
      minimum: 0,
      default: 1024,
      description:
        'largest request body (bytes); every route is GET, so bodies are refused beyond this (413)',
    }),
    batchRows: Type.Integer({
      minimum: 50,
      default: 1000,
      description: 'rows read from Postgres per query while streaming a sheet (keyset pages; bounds memory)',
    }),
    ccassTopParticipants: Type.Integer({
      minimum: 1,
      default: 20,
      description: 'participants listed on a CCASS sheet and in the page chart (largest holdings first)',
    }),
    defaultSheets: Type.Array(Type.Union(SHEET_KINDS.map((k) => Type.Literal(k))), {
      default: ['summary', 'prices'],
      description:
        'sheets of an export that does not say `sheets=` (summary, prices, ccass); the Summary is written in any case',
    }),
    statementTimeoutMs: Type.Integer({
      minimum: 100,
      default: 30_000,
      description: 'Postgres statement_timeout for each exporter query (ms)',
    }),
    requestTimeoutMs: Type.Integer({
      minimum: 1000,
      default: 300_000,
      description: 'whole-request deadline (ms) of the HTTP server, including streaming a workbook',
    }),
    stockListCacheMs: Type.Integer({
      minimum: 0,
      default: 300_000,
      description: 'how long the code → name list for the name lookup is cached (ms)',
    }),
  },
  { default: {} },
);
export type ExporterConfig = Static<typeof ExporterConfig>;
