import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { type Static, Type } from '@sinclair/typebox';
import { DATASETS, ErrorCodes, HarbourError } from '../contracts/index.ts';
import { consumerNames, kvBuckets, streamNames, subjects } from './subjects.ts';

/** How long a stream keeps a message (at least a minute). */
const maxAge = (defaultMs: number, description: string) =>
  Type.Integer({ minimum: 60_000, default: defaultMs, description });

/** Knobs of the JetStream topology; everything else is fixed by design. */
export const TopologyConfig = Type.Object({
  replicas: Type.Integer({
    minimum: 1,
    maximum: 5,
    default: 1,
    description: 'stream and KV replicas: 1 on a single server, 3 on a JetStream cluster',
  }),
  storage: Type.Union([Type.Literal('file'), Type.Literal('memory')], {
    default: 'file',
    description: 'JetStream storage of every stream: `file` or `memory`',
  }),
  rawMaxAgeMs: maxAge(
    7 * 24 * 3600_000,
    'how long raw envelopes stay in RAW after the compactor acked them (replay window)',
  ),
  eventsMaxAgeMs: maxAge(
    30 * 24 * 3600_000,
    'how long lake-committed and gold-updated events stay in EVENTS (and run-completed events in RUNS)',
  ),
  dlqMaxAgeMs: maxAge(90 * 24 * 3600_000, 'how long dead letters stay in DLQ for inspection and replay'),
  ticksMaxAgeMs: maxAge(7 * 24 * 3600_000, 'how long scheduler ticks stay in TICKS'),
  duplicateWindowMs: Type.Integer({
    minimum: 1000,
    default: 24 * 3600_000,
    description:
      'JetStream dedup window for `Nats-Msg-Id`: a re-run of the same tick or page inside it publishes nothing',
  }),
  compactorAckWaitMs: Type.Integer({
    minimum: 1000,
    default: 5 * 60_000,
    description:
      'compactor consumers: redelivery after this long unacked; above the longest flush (the compactor also signals progress)',
  }),
  compactorMaxAckPending: Type.Integer({
    minimum: 1,
    default: 50_000,
    description: 'compactor consumers: unacked envelopes allowed, above the largest batch one file holds',
  }),
  jobsAckWaitMs: Type.Integer({
    minimum: 1000,
    default: 2 * 60_000,
    description: 'scraper jobs: a job unacked this long is handed to another scraper',
  }),
  jobsMaxDeliver: Type.Integer({
    minimum: 1,
    default: 10,
    description: 'scraper jobs: deliveries before JetStream stops offering a job',
  }),
  eventsAckWaitMs: Type.Integer({
    minimum: 1000,
    default: 10 * 60_000,
    description:
      'transformer consumer: a lake event unacked this long is redelivered (the transformer signals progress while it works)',
  }),
});
export type TopologyConfig = Static<typeof TopologyConfig>;

export interface DeclaredConsumer {
  stream: string;
  config: Partial<ConsumerConfig> & { durable_name: string };
}

export interface Topology {
  streams: (Partial<StreamConfig> & { name: string; subjects: string[] })[];
  consumers: DeclaredConsumer[];
  kv: { bucket: string; history: number }[];
}

/** The whole declared topology for a config. Pure: used by `ensureTopology` and by tests/docs. */
export function declareTopology(cfg: TopologyConfig): Topology {
  const storage = cfg.storage === 'memory' ? StorageType.Memory : StorageType.File;
  const common = { storage, num_replicas: cfg.replicas, duplicate_window: nanos(cfg.duplicateWindowMs) };
  const limits = { ...common, retention: RetentionPolicy.Limits, discard: DiscardPolicy.Old };
  const streams: Topology['streams'] = [
    { ...limits, name: streamNames.ticks, subjects: [subjects.ticksAll], max_age: nanos(cfg.ticksMaxAgeMs) },
    { ...common, name: streamNames.jobs, subjects: [subjects.jobsAll], retention: RetentionPolicy.Workqueue },
    { ...limits, name: streamNames.raw, subjects: [subjects.rawAll], max_age: nanos(cfg.rawMaxAgeMs) },
    {
      ...limits,
      name: streamNames.events,
      subjects: [subjects.lakeCommittedAll, subjects.goldUpdatedAll],
      max_age: nanos(cfg.eventsMaxAgeMs),
    },
    { ...limits, name: streamNames.dlq, subjects: [subjects.dlqAll], max_age: nanos(cfg.dlqMaxAgeMs) },
    {
      ...limits,
      name: streamNames.runs,
      subjects: [subjects.runCompletedAll],
      max_age: nanos(cfg.eventsMaxAgeMs),
    },
  ];
  const explicit = { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All };
  const consumers: DeclaredConsumer[] = [
    {
      stream: streamNames.ticks,
      config: {
        ...explicit,
        durable_name: consumerNames.planner,
        filter_subject: subjects.ticksAll,
        max_deliver: 20,
      },
    },
    {
      stream: streamNames.jobs,
      config: {
        ...explicit,
        durable_name: consumerNames.scrapers,
        filter_subject: subjects.jobsAll,
        ack_wait: nanos(cfg.jobsAckWaitMs),
        max_deliver: cfg.jobsMaxDeliver,
      },
    },
    ...DATASETS.map((d) => ({
      stream: streamNames.raw,
      config: {
        ...explicit,
        durable_name: consumerNames.compactor(d),
        filter_subject: subjects.raw(d),
        ack_wait: nanos(cfg.compactorAckWaitMs),
        max_ack_pending: cfg.compactorMaxAckPending,
      },
    })),
    ...DATASETS.map((d) => ({
      stream: streamNames.runs,
      config: {
        ...explicit,
        durable_name: consumerNames.compactorRuns(d),
        filter_subject: subjects.runCompleted(d),
        ack_wait: nanos(cfg.compactorAckWaitMs),
      },
    })),
    {
      stream: streamNames.events,
      config: {
        ...explicit,
        durable_name: consumerNames.transformer,
        filter_subject: subjects.lakeCommittedAll,
        ack_wait: nanos(cfg.eventsAckWaitMs),
        max_ack_pending: 1000,
      },
    },
  ];
  return {
    streams,
    consumers,
    kv: [
      { bucket: kvBuckets.scheduler, history: 1 },
      { bucket: kvBuckets.leases, history: 1 },
    ],
  };
}

export interface TopologyReport {
  created: string[];
  unchanged: string[];
}

/**
 * Creates what is missing and checks what exists. Idempotent: a second call creates nothing and
 * leaves every config as it was. An existing stream or consumer whose declared fields differ is
 * never replaced: the call throws `HARBOUR_ERR_TOPOLOGY_CONFLICT` listing every difference.
 */
export async function ensureTopology(
  nc: NatsConnection,
  jsm: JetStreamManager,
  cfg: TopologyConfig,
): Promise<TopologyReport> {
  const topo = declareTopology(cfg);
  const report: TopologyReport = { created: [], unchanged: [] };
  const conflicts: string[] = [];

  for (const want of topo.streams) {
    const have = await streamInfo(jsm, want.name);
    if (!have) {
      await jsm.streams.add(want);
      report.created.push(`stream ${want.name}`);
      continue;
    }
    const diff = differences(want, have, ['name']);
    if (diff.length) conflicts.push(...diff.map((d) => `stream ${want.name}: ${d}`));
    else report.unchanged.push(`stream ${want.name}`);
  }

  for (const { stream, config } of topo.consumers) {
    const label = `consumer ${stream}/${config.durable_name}`;
    const have = await consumerInfo(jsm, stream, config.durable_name);
    if (!have) {
      await jsm.consumers.add(stream, config);
      report.created.push(label);
      continue;
    }
    const diff = differences(config, have, ['durable_name']);
    if (diff.length) conflicts.push(...diff.map((d) => `${label}: ${d}`));
    else report.unchanged.push(label);
  }

  const kvm = new Kvm(nc);
  for (const { bucket, history } of topo.kv) {
    const label = `kv ${bucket}`;
    const have = await streamInfo(jsm, `KV_${bucket}`);
    if (!have) {
      await kvm.create(bucket, { history, replicas: cfg.replicas });
      report.created.push(label);
    } else if (have.num_replicas !== cfg.replicas || have.max_msgs_per_subject !== history) {
      conflicts.push(
        `${label}: replicas ${have.num_replicas}/history ${have.max_msgs_per_subject}, declared ${cfg.replicas}/${history}`,
      );
    } else report.unchanged.push(label);
  }

  if (conflicts.length) {
    throw new HarbourError(
      ErrorCodes.TopologyConflict,
      `existing JetStream topology differs from the declared one (nothing was changed):\n  ${conflicts.join('\n  ')}`,
      { detail: { conflicts } },
    );
  }
  return report;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamConfig | null> {
  try {
    return (await jsm.streams.info(name)).config;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === 10059) return null;
    throw err;
  }
}

async function consumerInfo(
  jsm: JetStreamManager,
  stream: string,
  name: string,
): Promise<ConsumerConfig | null> {
  try {
    return (await jsm.consumers.info(stream, name)).config;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === 10014) return null;
    throw err;
  }
}

/** Declared fields whose existing value differs; fields the server fills in on its own are not compared. */
function differences(want: object, have: object, skip: string[]): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(want)) {
    if (skip.includes(field) || value === undefined) continue;
    const actual: unknown = Reflect.get(have, field);
    const same = Array.isArray(value)
      ? Array.isArray(actual) && [...value].sort().join('\0') === [...actual].sort().join('\0')
      : value === actual;
    if (!same) out.push(`${field} is ${JSON.stringify(actual)}, declared ${JSON.stringify(value)}`);
  }
  return out;
}
