/**
 * Reading gold for people: the read-only query helpers and the streamed workbook writer that the
 * exporter (HTTP downloads) and the reporter (the daily report's attachment) both use.
 */
export { stockCode } from './codes.ts';
export {
  allPriceRows,
  type CcassHolder,
  type CcassTop,
  ccassTop,
  dayBefore,
  knownCodes,
  latestName,
  listStocks,
  type PriceRow,
  type PriceStats,
  priceRows,
  priceStats,
  type Queryable,
  readOnly,
  type StockName,
  type SummaryRow,
  summaryAsOf,
  summaryRows,
} from './queries.ts';
export {
  ccassSheetName,
  dmy,
  type ExportParams,
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
