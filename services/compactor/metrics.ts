import { counter, gauge, histogram, type ServiceDeps } from '../runtime/index.ts';

const FRESHNESS_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** The compactor's Prometheus metrics, registered once per process. */
export function compactorMetrics(deps: ServiceDeps) {
  const r = deps.registry;
  const ds = ['dataset'] as const;
  return {
    bufferedRows: gauge(r, 'harbour_compactor_buffered_rows', 'rows buffered, not yet committed', ds),
    bufferedBytes: gauge(r, 'harbour_compactor_buffered_bytes', 'estimated encoded bytes buffered', ds),
    filesCommitted: counter(r, 'harbour_compactor_files_committed_total', 'files committed to the lake', [
      'dataset',
      'kind',
    ]),
    rowsCommitted: counter(r, 'harbour_compactor_rows_committed_total', 'rows committed to the lake', ds),
    fileBytes: histogram(r, 'harbour_compactor_file_size_bytes', 'size of committed files', ds, [
      2 ** 16,
      2 ** 20,
      2 ** 23,
      2 ** 25,
      2 ** 27,
      2 ** 29,
    ]),
    flushSeconds: histogram(
      r,
      'harbour_compactor_flush_duration_seconds',
      'finish + upload + commit of one batch',
      ds,
      [0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    ),
    skipped: counter(
      r,
      'harbour_compactor_redeliveries_skipped_total',
      'redelivered envelopes already in a committed file',
      ds,
    ),
    dlq: counter(r, 'harbour_dlq_messages_total', 'messages sent to the DLQ', ['stage', 'code']),
    retries: counter(
      r,
      'harbour_compactor_commit_retries_total',
      'upload/commit attempts that failed and were retried',
      ['dataset', 'step'],
    ),
    lastCommit: gauge(r, 'harbour_compactor_last_commit_timestamp_seconds', 'time of the last commit', ds),
    leaseHeld: gauge(
      r,
      'harbour_compactor_lease_held',
      '1 while this compactor owns the dataset (its lease)',
      ds,
    ),
    runToLake: histogram(
      r,
      'harbour_run_to_lake_seconds',
      'scrape run completed (last job ended) → every record of the run committed to the lake',
      ds,
      FRESHNESS_BUCKETS,
    ),
    runToGold: histogram(
      r,
      'harbour_run_to_gold_seconds',
      'scrape run completed → the transformer loaded every lake file of its partitions (Postgres timestamps)',
      ds,
      FRESHNESS_BUCKETS,
    ),
    spoolFiles: gauge(r, 'harbour_compactor_spool_files', 'files in the spool directory after clean-up', []),
    spoolBytes: gauge(r, 'harbour_compactor_spool_bytes', 'bytes in the spool directory after clean-up', []),
    spoolRemoved: counter(
      r,
      'harbour_compactor_spool_removed_files_total',
      'spool files removed because no live writer owned them (left by a killed process)',
      [],
    ),
  };
}

export type CompactorMetrics = ReturnType<typeof compactorMetrics>;
