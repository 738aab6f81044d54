import { lazyService } from '../runtime/index.ts';
import { CompactorConfig } from './config.ts';

/** The stage as the host runs it (`--service compactor`); its code is imported when it starts. */
export const compactorService = lazyService(
  'compactor',
  CompactorConfig,
  'batches raw envelopes into large Parquet files in the lake, exactly once, and merges small files',
  async () => (await import('./compactor.ts')).startCompactor,
);
