import { type Static, Type } from '@sinclair/typebox';
import { IsoDate, IsoInstant, SCHEMA_VERSION } from './common.ts';
import { DatasetName } from './datasets.ts';
import { compile } from './validate.ts';

/** `harbour.lake.committed.<dataset>`: a Parquet file became visible in the catalog (or a merge swapped files). */
export const LakeCommitted = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    dataset: DatasetName,
    /** Object key of the new file, relative to the lake root. */
    file_key: Type.String({ minLength: 1 }),
    partition_date: IsoDate,
    first_seq: Type.Integer({ minimum: 0 }),
    last_seq: Type.Integer({ minimum: 0 }),
    rows: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
    /** sha256 of the object, hex. */
    checksum: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    /** Keys this file replaced (a merge); empty for a fresh file. */
    replaces: Type.Array(Type.String()),
    committed_at: IsoInstant,
  },
  { additionalProperties: false },
);

/** `harbour.gold.updated.<model>`: a model run finished and its table changed for the given keys. */
export const GoldUpdated = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    model: Type.String({ minLength: 1 }),
    run_id: Type.String({ minLength: 1 }),
    codes: Type.Array(Type.String()),
    from: IsoDate,
    to: IsoDate,
    rows: Type.Integer({ minimum: 0 }),
    finished_at: IsoInstant,
  },
  { additionalProperties: false },
);

/** `harbour.tick.<job>`: the scheduler says a cron slot of `job` is due. */
export const Tick = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    job: Type.String({ minLength: 1 }),
    scheduled_at: IsoInstant,
    /** The business date the tick is for (Hong Kong date, already shifted by the job's date rule). */
    date: IsoDate,
    /** The dataset to collect; absent for jobs that collect nothing (e.g. the daily report). */
    dataset: Type.Optional(DatasetName),
    /** True when published late, while catching up after downtime. */
    catch_up: Type.Boolean(),
  },
  { additionalProperties: false },
);

/** `harbour.jobs.<source>`: one unit of scraping (e.g. CCASS: one stock × one date). */
export const ScrapeJob = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    job_id: Type.String({ minLength: 1 }),
    run_id: Type.String({ minLength: 1 }),
    dataset: DatasetName,
    date: IsoDate,
    /** Stock code for per-stock sources; absent for whole-market reports. */
    code: Type.Optional(Type.String({ pattern: '^[0-9]{5}$' })),
  },
  { additionalProperties: false },
);

/**
 * `harbour.run.completed.<dataset>`: every job of a scrape run ended (done, no data, skipped or
 * dead-lettered). Published by the scraper that recorded the last outcome, with
 * `Nats-Msg-Id = run:<run_id>` (several scrapers finishing the last jobs at once publish it once).
 * The compactor commits the run's open partitions once it has consumed up to `last_raw_seq`.
 */
export const RunCompleted = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    run_id: Type.String({ minLength: 1 }),
    dataset: DatasetName,
    /** Partition dates (envelope `as_of`) the run published rows for; empty when it published nothing. */
    partitions: Type.Array(IsoDate),
    /** Highest RAW stream sequence of the run's envelopes (0 = none published). */
    last_raw_seq: Type.Integer({ minimum: 0 }),
    /** When the last job ended, as recorded in the run history (`scrape_runs.completed_at`). */
    completed_at: IsoInstant,
  },
  { additionalProperties: false },
);

export type LakeCommitted = Static<typeof LakeCommitted>;
export type RunCompleted = Static<typeof RunCompleted>;
export type GoldUpdated = Static<typeof GoldUpdated>;
export type Tick = Static<typeof Tick>;
export type ScrapeJob = Static<typeof ScrapeJob>;

export const lakeCommittedValidator = compile(LakeCommitted, 'lake committed event');
export const runCompletedValidator = compile(RunCompleted, 'run completed event');
export const goldUpdatedValidator = compile(GoldUpdated, 'gold updated event');
export const tickValidator = compile(Tick, 'tick');
export const scrapeJobValidator = compile(ScrapeJob, 'scrape job');
