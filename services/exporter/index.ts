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
export {
  buildExporterApp,
  type ExporterDeps,
  type ExporterService,
  isLoopback,
  startExporter,
} from './server.ts';
export { exporterService } from './service.ts';
export { ExportSlots, type SlotRefusal, type SlotResult } from './slots.ts';
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
  workbookFileName,
  writeWorkbook,
} from './workbook.ts';
