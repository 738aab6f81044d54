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
  },
  { default: {} },
);
export type SourcesConfig = Static<typeof SourcesConfig>;

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
