import { type Static, Type } from '@sinclair/typebox';
import { IsoDate, IsoInstant, NullableNumber, NullableString, StockCode } from './common.ts';

/**
 * Gold tables in Postgres (schema `gold`): written by the transformer, read by the exporter,
 * reporter, monitor and Grafana. Column names here are the SQL column names; dates are `date`,
 * instants `timestamptz`, numbers `numeric`/`double precision`/`bigint` (read back as numbers).
 */
export const GOLD_SCHEMA = 'gold';

/** gold.daily_prices — key (code, trade_date). */
export const DailyPrice = Type.Object({
  code: StockCode,
  trade_date: IsoDate,
  name: Type.String(),
  currency: NullableString,
  status: Type.String({ description: 'traded | no_trade | suspended | halted' }),
  open: NullableNumber,
  high: NullableNumber,
  low: NullableNumber,
  close: NullableNumber,
  prev_close: NullableNumber,
  change_pct: NullableNumber,
  volume: NullableNumber,
  turnover: NullableNumber,
  /** volume × sign(close − prev_close); prev_close from the report when the stock did not trade the day before. */
  directed_volume: NullableNumber,
});

/** gold.monthly_high_low — key (code, month) with month = first day of the month. */
export const MonthlyHighLow = Type.Object({
  code: StockCode,
  month: IsoDate,
  open: NullableNumber,
  high: NullableNumber,
  high_date: Type.Union([IsoDate, Type.Null()]),
  low: NullableNumber,
  low_date: Type.Union([IsoDate, Type.Null()]),
  close: NullableNumber,
  volume: NullableNumber,
  trading_days: Type.Integer(),
});

/** gold.rolling_directed_volume — key (code, trade_date). */
export const RollingDirectedVolume = Type.Object({
  code: StockCode,
  trade_date: IsoDate,
  /** Sum over the stock's last 30 trading days (rows of that stock with a trade), this day included. */
  dv_30d_trading: NullableNumber,
  days_30d_trading: Type.Integer(),
  /** Sum over the 30 calendar days ending this day. */
  dv_30d_calendar: NullableNumber,
  days_30d_calendar: Type.Integer(),
});

/** gold.ccass_concentration — key (code, holding_date). Percentages are of issued shares, 0–100. */
export const CcassConcentration = Type.Object({
  code: StockCode,
  holding_date: IsoDate,
  issued_shares: NullableNumber,
  participants: Type.Integer(),
  top5_pct: NullableNumber,
  top10_pct: NullableNumber,
  intermediaries_pct: NullableNumber,
  consenting_pct: NullableNumber,
  non_consenting_pct: NullableNumber,
});

/** gold.ccass_changes — key (code, holding_date, participant_key); participant_key = id, or name for rows without one (consenting investors, ID-less intermediaries). */
export const CcassChange = Type.Object({
  code: StockCode,
  holding_date: IsoDate,
  prev_holding_date: Type.Union([IsoDate, Type.Null()]),
  participant_key: Type.String(),
  participant_id: NullableString,
  participant_name: Type.String(),
  shareholding: Type.Number(),
  prev_shareholding: Type.Number(),
  change_shares: Type.Number(),
  /** Change as percentage points of issued shares. */
  change_pct_issued: NullableNumber,
  kind: Type.String({ description: 'new | exited | changed | unchanged' }),
});

/** gold.stock_picker — key (code, as_of). */
export const StockPick = Type.Object({
  code: StockCode,
  as_of: IsoDate,
  name: Type.String(),
  close: NullableNumber,
  eps: NullableNumber,
  pe: NullableNumber,
  dividend_yield: NullableNumber,
  market_cap: NullableNumber,
  avg_turnover_20d: NullableNumber,
  /** avg_turnover_20d ÷ market_cap. */
  turnover_ratio: NullableNumber,
});

/** gold.dq_freshness — key (dataset). */
export const DqFreshness = Type.Object({
  dataset: Type.String(),
  latest_as_of: Type.Union([IsoDate, Type.Null()]),
  loaded_at: Type.Union([IsoInstant, Type.Null()]),
  lag_seconds: NullableNumber,
});

/** gold.dq_row_counts — key (dataset, as_of). */
export const DqRowCount = Type.Object({
  dataset: Type.String(),
  as_of: IsoDate,
  rows: Type.Integer(),
  expected: Type.Union([Type.Integer(), Type.Null()]),
  ratio: NullableNumber,
});

export type DailyPrice = Static<typeof DailyPrice>;
export type MonthlyHighLow = Static<typeof MonthlyHighLow>;
export type RollingDirectedVolume = Static<typeof RollingDirectedVolume>;
export type CcassConcentration = Static<typeof CcassConcentration>;
export type CcassChange = Static<typeof CcassChange>;
export type StockPick = Static<typeof StockPick>;
export type DqFreshness = Static<typeof DqFreshness>;
export type DqRowCount = Static<typeof DqRowCount>;

/** Table name → row schema, for readers that check what they get. */
export const goldTables = {
  daily_prices: DailyPrice,
  monthly_high_low: MonthlyHighLow,
  rolling_directed_volume: RollingDirectedVolume,
  ccass_concentration: CcassConcentration,
  ccass_changes: CcassChange,
  stock_picker: StockPick,
  dq_freshness: DqFreshness,
  dq_row_counts: DqRowCount,
} as const;
export type GoldTable = keyof typeof goldTables;

/** Sheet kinds of the export workbook (the fixed format): the exporter's `sheets=` and the reporter's attachment. */
export const SHEET_KINDS = ['summary', 'prices', 'ccass'] as const;
export type SheetKind = (typeof SHEET_KINDS)[number];
