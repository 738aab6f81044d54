import { defineService } from '../runtime/index.ts';
import { ScrapersConfig } from './config.ts';

/**
 * The stage as the host runs it (`--service scrapers`). Its code is imported when it starts, so a
 * process pays (in memory and start-up) only for the stages it runs.
 */
export const scrapersService = defineService({
  name: 'scrapers',
  description:
    'turns ticks into jobs (planner) and jobs into raw envelopes (workers) from HKEX or the fixture site',
  config: ScrapersConfig,
  start: async (config, deps) => (await import('./scrapers.ts')).startScrapers(config, deps),
});
