export { TransformerConfig } from './config.ts';
export { fetchLakeFile } from './lake.ts';
export {
  findModel,
  type GoldLineage,
  type GoldRowLineage,
  type LineageFetch,
  type LineageSource,
  traceGold,
  traceGoldRow,
} from './lineage.ts';
export { type TransformerMetrics, transformerMetrics } from './metrics.ts';
export {
  downstreamOf,
  loadModels,
  MODELS_DIR,
  type Model,
  type ModelTest,
  parseModel,
  topoSort,
} from './models.ts';
export { type EventOutcome, flushOutbox, processLakeEvent, type TransformContext } from './process.ts';
export {
  type RebuildDeps,
  type RebuildOptions,
  type RebuildProgress,
  type RebuildResult,
  rebuild,
} from './rebuild.ts';
export {
  type InputFile,
  ModelRunError,
  type ModelRunResult,
  ModelTestFailure,
  type TestResult,
} from './runner.ts';
export { migrateTransformer, transformerMigrations } from './schema.ts';
export { transformerService } from './service.ts';
export { startTransformer } from './transformer.ts';
