import { lazyService } from '../runtime/index.ts';
import { TransformerConfig } from './config.ts';

/** The stage as the host runs it (`--service transformer`); its code is imported when it starts. */
export const transformerService = lazyService(
  'transformer',
  TransformerConfig,
  'loads committed lake files into silver and recomputes the affected gold tables (SQL models, tests, lineage); publishes harbour.gold.updated.<model>',
  async () => (await import('./transformer.ts')).startTransformer,
);
