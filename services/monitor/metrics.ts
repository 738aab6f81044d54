import { DATASETS } from '../../contracts/index.ts';
import { type Counter, counter, type Registry, gauge as registerGauge } from '../runtime/index.ts';
import type {
  ConsumerState,
  DatasetFreshness,
  DatasetRowCount,
  GoldSnapshot,
  JetStreamSnapshot,
  LakeDataset,
  MonitoredTable,
  RunsPending,
  StreamState,
} from './sources.ts';

export const SOURCES = ['jetstream', 'gold', 'catalog'] as const;
export type Source = (typeof SOURCES)[number];

/** The latest reading of each source; `undefined` = the last refresh of that source failed (its series are dropped). */
export interface MonitorState {
  jetstream?: JetStreamSnapshot;
  gold?: GoldSnapshot;
  lake?: LakeDataset[];
  runs?: RunsPending[];
  /** monitor.runInGoldWithinMs in seconds. */
  runSloSeconds?: number;
  tables?: Record<MonitoredTable, boolean>;
  /** Business date (epoch seconds of its 00:00) each dataset's schedule expects loaded by now. */
  expected?: Map<string, number>;
  up: Partial<Record<Source, boolean>>;
  refreshedAt: Partial<Record<Source, number>>;
  refreshSeconds: Partial<Record<Source, number>>;
}

type Row<L extends string> = [Record<L, string>, number | null | undefined];

/** One state per registry: the gauges (registered once per registry) read whichever monitor started last. */
const states = new WeakMap<Registry, { current: MonitorState }>();

export function emptyState(): MonitorState {
  return { up: {}, refreshedAt: {}, refreshSeconds: {} };
}

/**
 * Registers one gauge whose series are `rows` of the latest state, computed at scrape time; a row
 * whose value is not a finite number has no series.
 */
type AddGauge = <L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  rows: (s: MonitorState) => Iterable<Row<L>>,
) => void;

const nowSeconds = () => Date.now() / 1000;

/**
 * Registers the monitor's gauges. Each gauge is filled at scrape time from the latest snapshot
 * (`collect()`): series of vanished streams, consumers or datasets disappear, ages are computed
 * at the moment of the scrape.
 */
export function monitorMetrics(r: Registry): {
  state: { current: MonitorState };
  refreshErrors: Counter<'source'>;
} {
  let holder = states.get(r);
  if (!holder) {
    holder = { current: emptyState() };
    states.set(r, holder);
  }
  const state = holder;
  const gauge: AddGauge = (name, help, labelNames, rows) => {
    registerGauge(r, name, help, labelNames, function collect() {
      this.reset();
      for (const [labels, value] of rows(state.current)) {
        if (typeof value === 'number' && Number.isFinite(value)) this.set(labels as never, value);
      }
    });
  };
  streamGauges(gauge);
  consumerGauges(gauge);
  datasetGauges(gauge);
  lakeGauges(gauge);
  runGauges(gauge);
  monitorGauges(gauge);
  const refreshErrors = counter(
    r,
    'harbour_monitor_refresh_errors_total',
    'refreshes of a source that failed',
    ['source'],
  );
  for (const source of SOURCES) refreshErrors.inc({ source }, 0);
  return { state, refreshErrors };
}

const streams = (s: MonitorState) => s.jetstream?.streams ?? [];
const consumers = (s: MonitorState) => s.jetstream?.consumers ?? [];

/** JetStream streams: one series per stream. */
function streamGauges(gauge: AddGauge): void {
  const streamGauge = (name: string, help: string, value: (x: StreamState) => number | null) =>
    gauge(name, help, ['stream'], (s) => streams(s).map((x) => [{ stream: x.stream }, value(x)]));
  streamGauge('harbour_jetstream_stream_messages', 'messages stored in the stream', (x) => x.messages);
  streamGauge('harbour_jetstream_stream_bytes', 'bytes stored in the stream', (x) => x.bytes);
  streamGauge(
    'harbour_jetstream_stream_first_sequence',
    'sequence of the oldest message kept',
    (x) => x.firstSeq,
  );
  streamGauge(
    'harbour_jetstream_stream_last_sequence',
    'sequence of the newest message (only grows: its rate is the publish rate)',
    (x) => x.lastSeq,
  );
  streamGauge('harbour_jetstream_stream_consumers', 'consumers of the stream', (x) => x.consumers);
  streamGauge(
    'harbour_jetstream_stream_last_message_age_seconds',
    'seconds since the newest message was stored (absent while the stream is empty)',
    (x) => (x.lastMessageAt === null ? null : nowSeconds() - x.lastMessageAt / 1000),
  );
  gauge(
    'harbour_jetstream_stream_subject_messages',
    'messages stored per subject (streams listed in monitor.subjectStreams)',
    ['stream', 'subject'],
    (s) =>
      streams(s).flatMap((x) =>
        Object.entries(x.subjects ?? {}).map(
          ([subject, n]): Row<'stream' | 'subject'> => [{ stream: x.stream, subject }, n],
        ),
      ),
  );
}

/** JetStream consumers: one series per durable consumer; and the depth of work-queue streams, which comes from them. */
function consumerGauges(gauge: AddGauge): void {
  const consumerGauge = (name: string, help: string, value: (c: ConsumerState) => number) =>
    gauge(name, help, ['stream', 'consumer'], (s) =>
      consumers(s).map((c) => [{ stream: c.stream, consumer: c.consumer }, value(c)]),
    );
  consumerGauge(
    'harbour_jetstream_consumer_pending_messages',
    'messages matching the consumer not yet delivered (num_pending)',
    (c) => c.pending,
  );
  consumerGauge(
    'harbour_jetstream_consumer_ack_pending_messages',
    'messages delivered and not yet acknowledged (num_ack_pending)',
    (c) => c.ackPending,
  );
  // A work-queue stream's message count is not its backlog: after a nats-server crash it can keep
  // acked messages behind the ack floor (never delivered again). What is really waiting is what
  // its consumers have not delivered plus what they have delivered and not acked.
  gauge(
    'harbour_jetstream_workqueue_depth',
    'work-queue streams (JOBS): messages waiting or in work (num_pending + num_ack_pending of its durable consumers)',
    ['stream'],
    (s) =>
      streams(s)
        .filter((x) => x.workQueue)
        .map(
          (x): Row<'stream'> => [
            { stream: x.stream },
            consumers(s)
              .filter((c) => c.stream === x.stream)
              .reduce((n, c) => n + c.pending + c.ackPending, 0),
          ],
        ),
  );
  consumerGauge(
    'harbour_jetstream_consumer_redelivered_messages',
    'messages currently redelivered at least once (num_redelivered)',
    (c) => c.redelivered,
  );
  consumerGauge(
    'harbour_jetstream_consumer_waiting_pulls',
    'pull requests waiting for messages (num_waiting)',
    (c) => c.waiting,
  );
  consumerGauge(
    'harbour_jetstream_consumer_delivered_sequence',
    'stream sequence of the last message delivered',
    (c) => c.deliveredSeq,
  );
  consumerGauge(
    'harbour_jetstream_consumer_ack_floor_sequence',
    'stream sequence below which every message is acknowledged',
    (c) => c.ackFloorSeq,
  );
  consumerGauge(
    'harbour_jetstream_consumer_last_active_age_seconds',
    'seconds since the consumer last delivered or had a message acknowledged (since creation if never)',
    (c) => nowSeconds() - c.lastActiveAt / 1000,
  );
}

/** Datasets as the gold data-quality tables see them (dq_freshness, dq_row_counts), and what the schedule expects. */
function datasetGauges(gauge: AddGauge): void {
  const freshnessGauge = (name: string, help: string, value: (f: DatasetFreshness) => number | null) =>
    gauge(name, help, ['dataset'], (s) =>
      (s.gold?.freshness ?? []).map((f) => [{ dataset: f.dataset }, value(f)]),
    );
  const rowCountGauge = (name: string, help: string, value: (c: DatasetRowCount) => number | null) =>
    gauge(name, help, ['dataset'], (s) =>
      (s.gold?.rowCounts ?? []).map((c) => [{ dataset: c.dataset }, value(c)]),
    );
  freshnessGauge(
    'harbour_dataset_latest_as_of_timestamp_seconds',
    'latest business date loaded (00:00 in the business time zone), from gold.dq_freshness',
    (f) => f.latestAsOf,
  );
  freshnessGauge(
    'harbour_dataset_loaded_timestamp_seconds',
    'when the data of the latest business date was fetched from the source, from gold.dq_freshness',
    (f) => f.loadedAt,
  );
  freshnessGauge(
    'harbour_dataset_load_lag_seconds',
    'fetch time of the latest business date minus its 00:00, from gold.dq_freshness',
    (f) => f.lagSeconds,
  );
  gauge(
    'harbour_dataset_expected_as_of_timestamp_seconds',
    'business date (00:00) the schedule expects loaded by now: latest trading-day tick older than monitor.freshnessGraceMs',
    ['dataset'],
    (s) => [...(s.expected ?? new Map<string, number>())].map(([dataset, t]) => [{ dataset }, t]),
  );
  rowCountGauge(
    'harbour_dataset_rows',
    'rows of the latest business date, from gold.dq_row_counts',
    (c) => c.rows,
  );
  rowCountGauge(
    'harbour_dataset_expected_rows',
    'rows expected for the latest business date, from gold.dq_row_counts',
    (c) => c.expected,
  );
  rowCountGauge(
    'harbour_dataset_rows_ratio',
    'rows ÷ expected rows of the latest business date, from gold.dq_row_counts',
    (c) => c.ratio,
  );
  rowCountGauge(
    'harbour_dataset_row_count_as_of_timestamp_seconds',
    'business date (00:00) the row count gauges describe',
    (c) => c.asOf,
  );
}

/** The lake catalog: one series per dataset. */
function lakeGauges(gauge: AddGauge): void {
  const lakeGauge = (name: string, help: string, value: (d: LakeDataset) => number | null) =>
    gauge(name, help, ['dataset'], (s) => (s.lake ?? []).map((d) => [{ dataset: d.dataset }, value(d)]));
  lakeGauge('harbour_lake_files', 'active Parquet files in the lake', (d) => d.files);
  lakeGauge('harbour_lake_size_bytes', 'bytes of the active Parquet files', (d) => d.bytes);
  lakeGauge('harbour_lake_rows', 'rows in the active Parquet files', (d) => d.rows);
  lakeGauge('harbour_lake_partitions', 'date partitions with active files', (d) => d.partitions);
  lakeGauge(
    'harbour_lake_max_files_per_partition',
    'most active files in one partition (merging keeps it low)',
    (d) => d.maxFilesPerPartition,
  );
  lakeGauge(
    'harbour_lake_last_commit_timestamp_seconds',
    'newest catalog commit (file or merge)',
    (d) => d.lastCommitAt,
  );
}

/**
 * Run freshness (issue #20): completed scrape runs not in gold yet. Every dataset gets a series
 * (0 = nothing pending), so the alert sees a value, not an absence; none while the runs could not
 * be read.
 */
function runGauges(gauge: AddGauge): void {
  const runGauge = (name: string, help: string, value: (p: RunsPending | undefined) => number) =>
    gauge(name, help, ['dataset'], (s) =>
      s.runs
        ? DATASETS.map((dataset) => [{ dataset }, value(s.runs?.find((p) => p.dataset === dataset))])
        : [],
    );
  runGauge(
    'harbour_run_gold_pending_seconds',
    'age of the oldest completed scrape run whose data is not in gold yet (0 = none), from scrape_runs and lake_runs',
    (p) => (p?.oldestCompletedAt ? Math.max(0, nowSeconds() - p.oldestCompletedAt) : 0),
  );
  runGauge(
    'harbour_run_gold_pending_runs',
    'completed scrape runs (of the last 7 days) whose data is not in gold yet',
    (p) => p?.pending ?? 0,
  );
  gauge(
    'harbour_run_gold_slo_seconds',
    'freshness service level: a run is expected in gold this long after it completed (monitor.runInGoldWithinMs)',
    ['dataset'],
    (s) => DATASETS.map((dataset) => [{ dataset }, s.runSloSeconds]),
  );
}

/** The monitor itself: each source's last refresh, and the tables it reads. */
function monitorGauges(gauge: AddGauge): void {
  const sourceGauge = (
    name: string,
    help: string,
    value: (s: MonitorState, source: Source) => Row<'source'>[1],
  ) => gauge(name, help, ['source'], (s) => SOURCES.map((source) => [{ source }, value(s, source)]));
  sourceGauge('harbour_monitor_source_up', '1 when the last refresh of the source succeeded', (s, source) =>
    s.up[source] === undefined ? null : s.up[source] ? 1 : 0,
  );
  gauge('harbour_monitor_table_present', '1 when the table the monitor reads exists', ['table'], (s) =>
    Object.entries(s.tables ?? {}).map(([table, present]) => [{ table }, present ? 1 : 0]),
  );
  sourceGauge(
    'harbour_monitor_last_refresh_timestamp_seconds',
    'end of the last successful refresh of the source',
    (s, source) => s.refreshedAt[source],
  );
  sourceGauge(
    'harbour_monitor_refresh_duration_seconds',
    'duration of the last refresh of the source',
    (s, source) => s.refreshSeconds[source],
  );
}
