import { defineService } from '../runtime/index.ts';
import { TransformerConfig } from './config.ts';

/**
 * The stage as the host runs it (`--service transformer`). Its code is imported when it starts, so a
 * process pays (in memory and start-up) only for the stages it runs.
 */
export const transformerService = defineService({
  name: 'transformer',
  description:
    'loads committed lake files into silver and recomputes the affected gold tables (SQL models, tests, lineage); publishes harbour.gold.updated.<model>',
  config: TransformerConfig,
  start: async (config, deps) => (await import('./transformer.ts')).startTransformer(config, deps),
});
