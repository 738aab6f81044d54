import { defineService } from '../runtime/index.ts';
import { startCompactor } from './compactor.ts';
import { CompactorConfig } from './config.ts';

export { type CatalogFile, catalogMigrations, listFiles, migrateCatalog } from './catalog.ts';
export { startCompactor } from './compactor.ts';
export { CompactorConfig } from './config.ts';
export { fileKeyFor } from './file-key.ts';
export { mergePartitions } from './merge.ts';
export { sweepOrphans } from './sweep.ts';

export const compactorService = defineService({
  name: 'compactor',
  description:
    'batches raw envelopes into large Parquet files in the lake, exactly once, and merges small files',
  config: CompactorConfig,
  start: (config, deps) => startCompactor(config, deps),
});
