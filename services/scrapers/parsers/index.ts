/** HKEX page parsers: pure functions from a fetched body to contract rows, or a coded refusal. */
export { type CcassSummary, type CcassSummaryLine, parseCcass } from './ccass.ts';
export { type CcassStock, parseCcassStockList } from './ccass-stock-list.ts';
export {
  decodeLatin1,
  latin1Lines,
  parseQuotations,
  type QuotationsParseOptions,
  QuotationsStreamParser,
} from './quotations.ts';
export { parseQuote, quoteDate } from './quote.ts';
export { parseSecuritiesList } from './securities-list.ts';
export { type ParseOutcome, parseOutcome } from './shared.ts';
