/**
 * The lake catalog in Postgres (contracts/catalog.ts): the only module that knows its tables —
 * `lake_files`, `lake_watermarks`, `lake_committed_seqs`, `lake_outbox`, `lake_runs`. DDL
 * (schema.ts), the compactor's commits and merges (commit.ts), reads in the one `CatalogFile`
 * shape for the compactor, transformer, monitor and CLI (files.ts), and the runs confirmed in the
 * lake and in gold (runs.ts).
 */
export {
  type CommittedFile,
  commitBatch,
  commitMerge,
  committedAmong,
  markSent,
  type OutboxItem,
  pruneCommittedSeqs,
  readWatermark,
  unsentOutbox,
} from './commit.ts';
export {
  activeFiles,
  type CatalogFile,
  catalogFile,
  fileStatuses,
  type LakeDataset,
  lakeStats,
  listFiles,
  smallFilePartitions,
} from './files.ts';
export { markRunsInGold, type RunsPending, recordRunInLake, runsNotInGold } from './runs.ts';
export { catalogMigrations, migrateCatalog } from './schema.ts';
