import { defineService } from '../runtime/index.ts';
import { ExporterConfig } from './config.ts';
import { startExporter } from './server.ts';

export { ExporterConfig, SHEET_KINDS, type SheetKind } from './config.ts';
export { renderPage } from './page.ts';
export {
  type ExportParams,
  ExportQuery,
  normaliseCode,
  ParamError,
  type ParamLimits,
  parseCodes,
  parseDate,
  parseExportParams,
  parseRange,
  parseSheets,
  rangeDays,
} from './params.ts';
export {
  type CcassHolder,
  type CcassTop,
  ccassTop,
  type PriceRow,
  readOnly,
  type SummaryRow,
  summaryRows,
} from './queries.ts';
export { type ExporterDeps, type ExporterService, isLoopback, startExporter } from './server.ts';
export {
  ccassSheetName,
  dmy,
  prepareWorkbook,
  SHEET_COLUMNS,
  safeText,
  stockSheetName,
  type WorkbookOptions,
  type WorkbookPlan,
  type WorkbookStats,
  writeWorkbook,
} from './workbook.ts';

export const exporterService = defineService({
  name: 'exporter',
  description: 'HTTP: Excel workbooks on demand (streamed), a web page with charts, JSON for the page',
  config: ExporterConfig,
  start: (config, deps) => startExporter(config, deps),
});
