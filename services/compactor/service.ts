import { defineService } from '../runtime/index.ts';
import { CompactorConfig } from './config.ts';

/**
 * The stage as the host runs it (`--service compactor`). Its code is imported when it starts, so a
 * process pays (in memory and start-up) only for the stages it runs.
 */
export const compactorService = defineService({
  name: 'compactor',
  description:
    'batches raw envelopes into large Parquet files in the lake, exactly once, and merges small files',
  config: CompactorConfig,
  start: async (config, deps) => (await import('./compactor.ts')).startCompactor(config, deps),
});
