import { defineService } from '../runtime/index.ts';
import { ScrapersConfig } from './config.ts';
import { startScrapers } from './scrapers.ts';

export { ScrapersConfig, SourcesConfig } from './config.ts';
export { createHttpClient, type HttpClient } from './http/index.ts';
export {
  decodeLatin1,
  parseCcass,
  parseCcassStockList,
  parseOutcome,
  parseQuotations,
  parseQuote,
  parseSecuritiesList,
} from './parsers/index.ts';
export { jobId, type PlanRequest, planRun } from './planner.ts';
export { migrateRunHistory, type RunProgress, runProgress } from './run-history.ts';
export { startScrapers, tickRunId } from './scrapers.ts';
export { fetchForJob } from './sources.ts';
export { publishEnvelopes, toEnvelopes } from './worker.ts';

export const scrapersService = defineService({
  name: 'scrapers',
  description:
    'turns ticks into jobs (planner) and jobs into raw envelopes (workers) from HKEX or the fixture site',
  config: ScrapersConfig,
  start: (config, deps) => startScrapers(config, deps),
});
