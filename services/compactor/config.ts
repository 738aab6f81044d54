import { type Static, Type } from '@sinclair/typebox';
import { DATASETS, DatasetName } from '../../contracts/index.ts';

export const CompactorConfig = Type.Object(
  {
    datasets: Type.Array(DatasetName, {
      default: [...DATASETS],
      description: 'datasets this process compacts (one durable consumer each)',
    }),
    targetFileBytes: Type.Integer({
      minimum: 1024,
      default: 128 * 1024 * 1024,
      description: 'rotate a file once its encoded size reaches this',
    }),
    maxFileRows: Type.Integer({
      minimum: 1,
      default: 1_000_000,
      description: 'rotate a file once it holds this many rows',
    }),
    flushAgeMs: Type.Integer({
      minimum: 100,
      default: 10 * 60_000,
      description:
        'commit whatever is buffered once the oldest record is this old: the safety net for records without a run-completed event (a completed run commits at once)',
    }),
    maxBatchMessages: Type.Integer({
      minimum: 1,
      default: 40_000,
      description: 'commit once this many envelopes are unacked (keep below the consumer max_ack_pending)',
    }),
    drainFlushMinRows: Type.Integer({
      minimum: 1,
      default: 100_000,
      description:
        'commit as soon as the consumer has caught up (no messages pending) if the batch holds at least this many rows, instead of waiting for flushAgeMs: a backfill is visible when compacted, a trickle still waits',
    }),
    rowGroupRows: Type.Integer({
      minimum: 1000,
      default: 100_000,
      description: 'Parquet row group size: memory holds one row group per open partition',
    }),
    spoolDir: Type.String({
      default: '.harbour/spool/compactor',
      description: 'local directory where files are written before upload',
    }),
    writerId: Type.String({
      default: '',
      description: 'writer name in file keys and the lease owner; empty = hostname-pid',
    }),
    leaseTtlMs: Type.Integer({
      minimum: 0,
      default: 15_000,
      description:
        "one writer per dataset: a compactor consumes a dataset only while it holds the dataset's KV lease (renewed every third of this); a standby takes over once it lapses. 0 = no lease (compactors share the consumer)",
    }),
    commitRetryMaxMs: Type.Integer({
      minimum: 100,
      default: 30_000,
      description: 'longest back-off between upload/commit retries while the store or Postgres is down',
    }),
    mergeMinFiles: Type.Integer({
      minimum: 2,
      default: 4,
      description: 'a partition with at least this many small files is merged',
    }),
    mergeSmallFileBytes: Type.Integer({
      minimum: 1,
      default: 32 * 1024 * 1024,
      description: 'files below this size count as small for merging',
    }),
    mergeEveryMs: Type.Integer({
      minimum: 0,
      default: 10 * 60_000,
      description: 'how often partitions are checked for merging (0 = never)',
    }),
    sweepGraceMs: Type.Integer({
      minimum: 0,
      default: 3600_000,
      description:
        'objects not in the catalog and older than this are deleted, and so are temporary files of an fs lake (uploads a killed process left)',
    }),
    outboxEveryMs: Type.Integer({
      minimum: 100,
      default: 5000,
      description: 'how often unsent commit events are re-published',
    }),
  },
  { default: {} },
);
export type CompactorConfig = Static<typeof CompactorConfig>;
