import type { Dataset } from '../contracts/index.ts';

/** Every subject Harbour publishes on. Nothing else in the code base spells a subject by hand. */
export const subjects = {
  tick: (job: string) => `harbour.tick.${job}`,
  ticksAll: 'harbour.tick.>',
  job: (source: string) => `harbour.jobs.${source}`,
  jobsAll: 'harbour.jobs.>',
  raw: (dataset: Dataset) => `harbour.raw.${dataset}`,
  rawAll: 'harbour.raw.>',
  lakeCommitted: (dataset: Dataset) => `harbour.lake.committed.${dataset}`,
  lakeCommittedAll: 'harbour.lake.committed.>',
  goldUpdated: (model: string) => `harbour.gold.updated.${model}`,
  goldUpdatedAll: 'harbour.gold.updated.>',
  runCompleted: (dataset: Dataset) => `harbour.run.completed.${dataset}`,
  runCompletedAll: 'harbour.run.completed.>',
  dlq: (stage: string) => `harbour.dlq.${stage}`,
  dlqAll: 'harbour.dlq.>',
} as const;

export const streamNames = {
  ticks: 'TICKS',
  jobs: 'JOBS',
  raw: 'RAW',
  events: 'EVENTS',
  dlq: 'DLQ',
  /** Run-completed events (a stream of its own: adding subjects to EVENTS would conflict with existing deployments). */
  runs: 'RUNS',
} as const;

export const kvBuckets = {
  scheduler: 'harbour-scheduler',
  /** Per-dataset compactor leases (`compactor.<dataset>`): one writer per dataset. */
  leases: 'harbour-leases',
} as const;

/** Durable consumer names; one per reading stage (and per dataset for the compactor). */
export const consumerNames = {
  planner: 'planner',
  scrapers: 'scrapers',
  compactor: (dataset: Dataset) => `compactor-${dataset}`,
  /** The compactor's consumer of `harbour.run.completed.<dataset>` on RUNS. */
  compactorRuns: (dataset: Dataset) => `compactor-runs-${dataset}`,
  transformer: 'transformer',
  reporter: 'reporter',
} as const;

/** Dedup id helpers: JetStream drops a second publish with the same `Nats-Msg-Id` inside the stream's window. */
export const msgIds = {
  tick: (job: string, scheduledAtIso: string) => `${job}:${scheduledAtIso}`,
  raw: (dataset: Dataset, key: string, date: string, contentHash: string) =>
    `${dataset}:${key}:${date}:${contentHash}`,
  runCompleted: (runId: string) => `run:${runId}`,
} as const;
