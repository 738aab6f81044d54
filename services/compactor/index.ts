export { startCompactor } from './compactor.ts';
export { CompactorConfig } from './config.ts';
export { fileKeyFor } from './file-key.ts';
export { mergePartitions } from './merge.ts';
export { compactorService } from './service.ts';
export { sweepOrphans } from './sweep.ts';
