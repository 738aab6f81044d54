import { type Static, Type } from '@sinclair/typebox';
import { HttpClientConfig } from './http/config.ts';

export const SourcesConfig = Type.Object(
  {
    ccassBaseUrl: Type.String({
      default: 'https://www3.hkexnews.hk',
      description: 'CCASS search site (searchsdw.aspx, stocklist.aspx)',
    }),
    hkexBaseUrl: Type.String({
      default: 'https://www.hkex.com.hk',
      description: 'HKEX main site (daily quotations, list of securities)',
    }),
    quoteBaseUrl: Type.String({
      default: 'https://www1.hkex.com.hk/hkexwidget',
      description: 'HKEX quote widget data (getequityquote); asked with a token read from quoteTokenPageUrl',
    }),
    quoteTokenPageUrl: Type.Optional(
      Type.String({
        description:
          'HKEX equities page whose getToken() script holds the quote widget token; unset or empty = hkexBaseUrl + /Market-Data/Securities-Prices/Equities?sc_lang=en',
      }),
    ),
    ccassHistoryDays: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 365,
        description:
          'CCASS serves only this many days back from today (HK); the planner refuses older dates before any request (HARBOUR_ERR_SOURCE_WINDOW); 0 = no limit',
      }),
    ),
    acceptLanguage: Type.Optional(
      Type.String({
        default: 'en-US,en;q=0.9',
        description:
          'Accept-Language sent to CCASS (with the Referer of its search page), as a browser on the English site does',
      }),
    ),
    quotationsTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 300_000,
        description:
          'Whole-download deadline of one Daily Quotations report (a real one is ~25 MB, streamed and parsed as it arrives)',
      }),
    ),
    quotationsIdleTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 30_000,
        description: 'Daily Quotations: longest wait for the headers or between two body chunks',
      }),
    ),
    securitiesTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 120_000,
        description: 'Whole-download deadline of the List of Securities workbook (several MB)',
      }),
    ),
  },
  { default: {} },
);
export type SourcesConfig = Static<typeof SourcesConfig>;

type SourceSetting =
  | 'ccassHistoryDays'
  | 'acceptLanguage'
  | 'quotationsTimeoutMs'
  | 'quotationsIdleTimeoutMs'
  | 'securitiesTimeoutMs';

/**
 * A source setting, or its schema default when the config object was built by hand (tests, tools
 * that predate the setting): loaded configs always have it filled.
 */
export function sourceSetting<K extends SourceSetting>(
  sources: SourcesConfig,
  key: K,
): NonNullable<SourcesConfig[K]> {
  return (sources[key] ?? SourcesConfig.properties[key].default) as NonNullable<SourcesConfig[K]>;
}

export const ScrapersConfig = Type.Object(
  {
    sources: SourcesConfig,
    http: Type.Object(HttpClientConfig.properties, { default: {} }),
    codes: Type.Array(Type.String({ pattern: '^[0-9]{5}$' }), {
      default: [],
      description:
        'restrict per-stock jobs (CCASS, fundamentals) to these codes; empty = every stock in the CCASS stock list',
    }),
    concurrency: Type.Integer({
      minimum: 1,
      default: 4,
      description: 'jobs one scraper process works on at once',
    }),
    maxAttempts: Type.Integer({
      minimum: 1,
      default: 6,
      description: 'deliveries of a job before it goes to the DLQ (keep below the topology jobsMaxDeliver)',
    }),
    retryBaseDelayMs: Type.Integer({
      minimum: 10,
      default: 30_000,
      description:
        'first retry delay of a failed job (maintenance, truncated page, HTTP failure); doubles per attempt',
    }),
    maxRowsPerEnvelope: Type.Integer({
      minimum: 1,
      default: 5000,
      description: 'larger pages are published as several envelopes (NATS max payload)',
    }),
    planner: Type.Boolean({
      default: true,
      description: 'also turn scheduler ticks into jobs in this process',
    }),
    jobsCleanEveryMs: Type.Integer({
      minimum: 0,
      default: 60_000,
      description:
        'how often JOBS messages at or below the scrapers consumer ack floor are removed (a killed nats-server can leave acked jobs in the work queue, a false backlog); 0 = never',
    }),
  },
  { default: {} },
);
export type ScrapersConfig = Static<typeof ScrapersConfig>;
