import { type Static, Type } from '@sinclair/typebox';

export const TransformerConfig = Type.Object(
  {
    concurrency: Type.Integer({
      minimum: 1,
      default: 2,
      description:
        'events handled at once: files are fetched and decoded in parallel, the database work of one event at a time (advisory lock)',
    }),
    maxAttempts: Type.Integer({
      minimum: 1,
      default: 5,
      description:
        'deliveries of a lake event before it goes to the DLQ (a failed model test, an unreadable file, a missing catalog row)',
    }),
    retryBaseDelayMs: Type.Integer({
      minimum: 10,
      default: 5_000,
      description: 'first retry delay of a failed event; doubles per attempt',
    }),
    workingEveryMs: Type.Integer({
      minimum: 100,
      default: 30_000,
      description: 'while an event is in work, tell JetStream every this often (keeps it from redelivering)',
    }),
    outboxBatch: Type.Integer({
      minimum: 1,
      default: 500,
      description: 'gold.updated events published per outbox pass',
    }),
    workMem: Type.String({
      pattern: '^[0-9]+(kB|MB|GB)$',
      default: '128MB',
      description:
        'Postgres work_mem of the transformer transaction (sorts and hashes of a full-market CCASS day stay in memory)',
    }),
    statementTimeoutMs: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'Postgres statement_timeout of the transformer transaction (0 = none)',
    }),
    duckdbMemoryLimit: Type.String({
      pattern: '^[0-9]+(\\.[0-9]+)?\\s*(KB|MB|GB|KiB|MiB|GiB)$',
      default: '1GB',
      description: 'DuckDB memory_limit of the transformer (what does not fit spills to duckdbTempDir)',
    }),
    duckdbThreads: Type.Integer({
      minimum: 1,
      default: 2,
      description: 'DuckDB worker threads of the transformer',
    }),
    rebuildPassRows: Type.Integer({
      minimum: 1,
      default: 500_000,
      description:
        'CCASS rows a rebuild computes in one DuckDB pass: consecutive holding dates are grouped up to this many bronze rows (a date alone may have more); more per pass is faster and needs more of duckdbMemoryLimit',
    }),
    rebuildPassesAhead: Type.Integer({
      minimum: 1,
      default: 16,
      description:
        'CCASS passes a rebuild computes ahead of serving them into Postgres: their silver and gold Parquet wait in duckdbTempDir meanwhile (~20 MB a pass of 500,000 rows)',
    }),
    duckdbTempDir: Type.String({
      default: '',
      description:
        'local directory in which each DuckDB of the transformer makes its working directory (harbour-transformer-<pid>-<n>, removed when it closes) for spill files and working copies of lake files ("" = the OS temp directory)',
    }),
  },
  { default: {} },
);
export type TransformerConfig = Static<typeof TransformerConfig>;
