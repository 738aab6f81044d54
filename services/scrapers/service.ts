import { lazyService } from '../runtime/index.ts';
import { ScrapersConfig } from './config.ts';

/** The stage as the host runs it (`--service scrapers`); its code is imported when it starts. */
export const scrapersService = lazyService(
  'scrapers',
  ScrapersConfig,
  'turns ticks into jobs (planner) and jobs into raw envelopes (workers) from HKEX or the fixture site',
  async () => (await import('./scrapers.ts')).startScrapers,
);
