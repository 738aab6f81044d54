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
export { jobId, type PlanRequest, planRun, refusePastSnapshot } from './planner.ts';
export {
  PAGE_KIND_ALIASES,
  PAGE_KINDS,
  type Page,
  type PageKind,
  pageKindOf,
  parsePage,
  probePage,
} from './probe.ts';
export { tokenFromPage, tokenPageUrl } from './quote-widget.ts';
export { migrateRunHistory, type RunProgress, runProgress } from './run-history.ts';
export { startScrapers, tickRunId } from './scrapers.ts';
export { scrapersService } from './service.ts';
export { fetchForJob } from './sources.ts';
export { publishEnvelopes, toEnvelopes } from './worker.ts';
