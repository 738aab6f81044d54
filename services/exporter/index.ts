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
  buildExporterApp,
  type ExporterDeps,
  type ExporterService,
  isLoopback,
  startExporter,
} from './server.ts';
export { exporterService } from './service.ts';
export { ExportSlots, type SlotRefusal, type SlotResult } from './slots.ts';
