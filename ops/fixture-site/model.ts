/**
 * The generator's own model of the fixture site: what each page it serves holds, in the parsers'
 * row shapes, so tests compare a parsed page with what was generated rather than with a copy of the
 * page's text.
 */
import type { CcassRow, FundamentalRow, QuoteRow, SecurityRow } from '../../contracts/datasets.ts';
import { isTradingDay } from './calendar.ts';
import { type CcassModel, type CcassSnapshot, pctHundredths } from './ccass-model.ts';
import type { DayQuote, Market } from './market.ts';
import type { WorkbookLayout } from './securities.ts';
import { FX_PER_HKD, type Stock } from './universe.ts';

/** The generator's own model, for tests comparing parsed pages with what was generated. */
export interface FixtureModel {
  stocks(): readonly Stock[];
  /** Latest trading day ≤ today. */
  latestTradingDay(): string;
  quote(code: string, date: string): DayQuote | undefined;
  /** What a Daily Quotations parser should extract for a trading day (undefined otherwise). */
  quoteRows(date: string): QuoteRow[] | undefined;
  ccass(code: string, date: string): CcassSnapshot | undefined;
  /** What a CCASS parser should extract (summary rows + participant rows). */
  ccassRows(code: string, date: string): CcassRow[] | undefined;
  securityRows(): SecurityRow[];
  /** What the quote widget answers now: the latest quote (the widget has no date). */
  fundamental(code: string): FundamentalRow | undefined;
}

/** Milli-dollars (the market's unit) → dollars; null stays null. */
const dollars = (milli: number | null) => (milli === null ? null : milli / 1000);

export function buildModel(
  universe: readonly Stock[],
  market: Market,
  ccass: CcassModel,
  latest: string,
  securitiesLayout: WorkbookLayout,
): FixtureModel {
  const byCode = new Map(universe.map((s) => [s.code, s]));
  const snapshot = (code: string, date: string) => {
    const s = byCode.get(code);
    return s ? ccass.snapshot(s, date) : undefined;
  };
  return {
    stocks: () => universe,
    latestTradingDay: () => latest,
    quote: (code, date) => market.day(code, date),
    quoteRows: (date) => quoteRowsOf(universe, market, date),
    ccass: snapshot,
    ccassRows(code, date) {
      const snap = snapshot(code, date);
      return snap ? ccassRowsOf(code, date, snap) : undefined;
    },
    securityRows: () => universe.map((s) => securityRowOf(s, securitiesLayout)),
    fundamental(code) {
      const s = byCode.get(code);
      const q = s ? market.day(code, latest) : undefined;
      return s && q ? fundamentalOf(s, q) : undefined;
    },
  };
}

/** A trading day's Daily Quotations rows, in universe order; undefined for a day without quotes. */
function quoteRowsOf(universe: readonly Stock[], market: Market, date: string): QuoteRow[] | undefined {
  if (!isTradingDay(date)) return undefined;
  const rows: QuoteRow[] = [];
  for (const s of universe) {
    const q = market.day(s.code, date);
    if (!q) return undefined;
    const stopped = q.status === 'suspended' || q.status === 'halted';
    const traded = q.status === 'traded';
    rows.push({
      code: s.code,
      trade_date: date,
      board: s.board,
      name: s.name.slice(0, 16).trim(),
      currency: s.currency,
      status: q.status,
      flags: s.marker,
      prev_close: stopped ? null : dollars(q.prevClose),
      open: null,
      high: traded ? dollars(q.high) : null,
      low: traded ? dollars(q.low) : null,
      close: stopped ? null : dollars(q.close),
      ask: stopped ? null : dollars(q.ask),
      bid: stopped ? null : dollars(q.bid),
      volume: traded ? q.volume : null,
      turnover: traded ? q.turnover : null,
    });
  }
  return rows;
}

/** A CCASS snapshot in parser order: participant rows (consenting names without the printed ` *`), then the summary. */
function ccassRowsOf(code: string, date: string, snap: CcassSnapshot): CcassRow[] {
  const row = (kind: CcassRow['row_type'], shares: number, more: Partial<CcassRow> = {}): CcassRow => ({
    code,
    holding_date: date,
    row_type: kind,
    participant_id: null,
    participant_name: null,
    address: null,
    shareholding: shares,
    pct_issued: null,
    participants: null,
    ...more,
  });
  const summary = (kind: CcassRow['row_type'], g: CcassSnapshot['total']): CcassRow =>
    row(kind, g.shares, { pct_issued: g.pctHundredths / 100, participants: g.count });
  return [
    ...snap.rows.map((r) =>
      row('participant', r.shares, {
        participant_id: r.id,
        participant_name: r.kind === 'consenting' ? r.name.replace(/\s*\*$/, '') : r.name,
        address: r.address,
        pct_issued: pctHundredths(r.shares, snap.issued) / 100,
      }),
    ),
    summary('intermediaries', snap.intermediaries),
    summary('consenting', snap.consenting),
    summary('non_consenting', snap.nonConsenting),
    summary('total', snap.total),
    row('issued_shares', snap.issued),
  ];
}

function orNull(s: string): string | null {
  const t = s.trim();
  return t === '' ? null : t;
}

function securityRowOf(s: Stock, layout: WorkbookLayout): SecurityRow {
  return {
    code: s.code,
    name: s.name,
    category: s.security.category,
    sub_category: orNull(s.security.subCategory),
    board_lot: s.boardLot,
    isin: orNull(s.security.isin),
    // the 2025 layout has a Trading Currency column, the 2021 one none
    currency: layout === '2025' ? s.currency : null,
  };
}

/** What the quote widget answers for a stock whose latest quote is `q`. */
function fundamentalOf(s: Stock, q: DayQuote): FundamentalRow {
  const last = q.close / 1000;
  return {
    code: s.code,
    as_of: q.date,
    last,
    prev_close: q.prevClose / 1000,
    open: dollars(q.open),
    high: dollars(q.high),
    low: dollars(q.low),
    volume: q.volume,
    turnover: q.turnover,
    eps: Math.round(s.epsHkd * FX_PER_HKD[s.epsCcy] * 10000) / 10000,
    eps_currency: s.epsCcy,
    pe: s.epsHkd > 0 ? Number((last / s.epsHkd).toFixed(2)) : null,
    dividend_yield: s.divYield,
    market_cap: last * s.issuedShares,
    issued_shares: s.issuedShares,
  };
}
