import {
  type ConsumerInfo,
  type JetStreamManager,
  RetentionPolicy,
  type StreamInfo,
} from '@nats-io/jetstream';
import type pg from 'pg';
import { type LakeDataset, lakeStats, type RunsPending, runsNotInGold } from '../catalog/index.ts';

export type { LakeDataset, RunsPending };

/** What the monitor reads, each part refreshed on its own: a part that fails is dropped, not kept stale. */
export interface StreamState {
  stream: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: number;
  /** Epoch ms of the newest message; null when the stream is empty. */
  lastMessageAt: number | null;
  /** Messages per subject, for the streams configured in `subjectStreams`. */
  subjects: Record<string, number> | null;
  /** A work-queue stream (JOBS): its backlog is what its consumers have pending, see `workQueueDepth`. */
  workQueue: boolean;
}

export interface ConsumerState {
  stream: string;
  consumer: string;
  /** Messages not yet delivered (`num_pending`). */
  pending: number;
  /** Delivered, not yet acknowledged (`num_ack_pending`). */
  ackPending: number;
  redelivered: number;
  waiting: number;
  deliveredSeq: number;
  ackFloorSeq: number;
  /** Epoch ms of the last delivery or ack; the creation time when the consumer never did either. */
  lastActiveAt: number;
}

export interface JetStreamSnapshot {
  streams: StreamState[];
  consumers: ConsumerState[];
}

/** Timestamps the server sends as ISO strings; Go's zero time (year 1) means "never". */
function instantMs(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms > Date.UTC(2000, 0, 1) ? ms : null;
}

function consumerState(c: ConsumerInfo): ConsumerState {
  const active = [instantMs(c.delivered?.last_active), instantMs(c.ack_floor?.last_active)].filter(
    (t): t is number => t !== null,
  );
  return {
    stream: c.stream_name,
    consumer: c.name,
    pending: c.num_pending,
    ackPending: c.num_ack_pending,
    redelivered: c.num_redelivered,
    waiting: c.num_waiting,
    deliveredSeq: c.delivered?.stream_seq ?? 0,
    ackFloorSeq: c.ack_floor?.stream_seq ?? 0,
    lastActiveAt: active.length ? Math.max(...active) : (instantMs(c.created) ?? Date.now()),
  };
}

/** Every stream (or the chosen ones) with its durable consumers; per-subject counts for `subjectStreams`. */
export async function readJetStream(
  jsm: JetStreamManager,
  opts: { streams: readonly string[]; subjectStreams: readonly string[] },
): Promise<JetStreamSnapshot> {
  const infos: StreamInfo[] = [];
  for await (const si of jsm.streams.list()) {
    if (!opts.streams.length || opts.streams.includes(si.config.name)) infos.push(si);
  }
  const streams: StreamState[] = [];
  const consumers: ConsumerState[] = [];
  for (const si of infos) {
    const name = si.config.name;
    let subjects: Record<string, number> | null = null;
    if (opts.subjectStreams.includes(name)) {
      const detailed = await jsm.streams.info(name, { subjects_filter: '>' });
      subjects = detailed.state.subjects ?? {};
    }
    streams.push({
      stream: name,
      messages: si.state.messages,
      bytes: si.state.bytes,
      firstSeq: si.state.first_seq,
      lastSeq: si.state.last_seq,
      consumers: si.state.consumer_count,
      lastMessageAt: si.state.messages > 0 ? instantMs(si.state.last_ts) : null,
      subjects,
      workQueue: si.config.retention === RetentionPolicy.Workqueue,
    });
    // Durable consumers only: ephemeral ones (ordered readers, KV watchers) come and go with random names.
    for await (const ci of jsm.consumers.list(name))
      if (ci.config.durable_name) consumers.push(consumerState(ci));
  }
  return { streams, consumers };
}

export const MONITORED_TABLES = [
  'gold.dq_freshness',
  'gold.dq_row_counts',
  'lake_files',
  'scrape_runs',
  'lake_runs',
] as const;
export type MonitoredTable = (typeof MONITORED_TABLES)[number];

/** Completed runs not in gold yet, per dataset; empty before the scrapers created the run history. */
export async function readRunsPending(
  pool: pg.Pool,
  present: Record<MonitoredTable, boolean>,
): Promise<RunsPending[]> {
  return present.scrape_runs ? runsNotInGold(pool, present.lake_runs) : [];
}

/** Which of the tables the monitor reads exist yet (the transformer and compactor create them). */
export async function tablesPresent(pool: pg.Pool): Promise<Record<MonitoredTable, boolean>> {
  const { rows } = await pool.query<{ name: MonitoredTable; present: boolean }>(
    `select t.name, to_regclass(t.name) is not null as present from unnest($1::text[]) as t(name)`,
    [MONITORED_TABLES],
  );
  const out = Object.fromEntries(MONITORED_TABLES.map((t) => [t, false])) as Record<MonitoredTable, boolean>;
  for (const r of rows) out[r.name] = r.present;
  return out;
}

export interface DatasetFreshness {
  dataset: string;
  /** Epoch seconds of 00:00 (in the business time zone) of the latest business date loaded. */
  latestAsOf: number | null;
  loadedAt: number | null;
  lagSeconds: number | null;
}

export interface DatasetRowCount {
  dataset: string;
  asOf: number;
  rows: number;
  expected: number | null;
  ratio: number | null;
}

export interface GoldSnapshot {
  freshness: DatasetFreshness[];
  /** The latest business date per dataset. */
  rowCounts: DatasetRowCount[];
}

/** The data-quality tables the transformer's `dq_*` models write; a table not created yet reads as empty. */
export async function readGold(
  pool: pg.Pool,
  present: Record<MonitoredTable, boolean>,
  timeZone: string,
): Promise<GoldSnapshot> {
  const snapshot: GoldSnapshot = { freshness: [], rowCounts: [] };
  if (present['gold.dq_freshness']) {
    const { rows } = await pool.query<DatasetFreshness>(
      `select dataset,
         extract(epoch from (latest_as_of::timestamp at time zone $1))::float8 as "latestAsOf",
         extract(epoch from loaded_at)::float8 as "loadedAt",
         lag_seconds::float8 as "lagSeconds"
       from gold.dq_freshness`,
      [timeZone],
    );
    snapshot.freshness = rows;
  }
  if (present['gold.dq_row_counts']) {
    const { rows } = await pool.query<DatasetRowCount>(
      `select distinct on (dataset) dataset,
         extract(epoch from (as_of::timestamp at time zone $1))::float8 as "asOf",
         rows::float8 as rows, expected::float8 as expected, ratio::float8 as ratio
       from gold.dq_row_counts order by dataset, as_of desc`,
      [timeZone],
    );
    snapshot.rowCounts = rows;
  }
  return snapshot;
}

/** Active files of the lake catalog per dataset (contracts/catalog.ts); empty before the compactor created it. */
export async function readLake(
  pool: pg.Pool,
  present: Record<MonitoredTable, boolean>,
): Promise<LakeDataset[]> {
  return present.lake_files ? lakeStats(pool) : [];
}
