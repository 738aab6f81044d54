import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { IsoDate, NonNegativeNumber, NullableNumber, NullableString, StockCode } from './common.ts';
import { compile, type Validator } from './validate.ts';

/**
 * Row shapes of each dataset as scraped (bronze). Prices and amounts are numbers in the listed
 * currency; share counts are whole numbers (doubles hold them exactly below 2^53).
 * Columns are snake_case because they are also the Parquet and Postgres column names.
 */

/** One line of HKEX's List of Securities workbook. */
export const SecurityRow = Type.Object(
  {
    code: StockCode,
    name: Type.String({ minLength: 1 }),
    category: Type.String(),
    sub_category: NullableString,
    board_lot: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    isin: NullableString,
    currency: NullableString,
  },
  { additionalProperties: false },
);

/** Which HKEX board's Daily Quotations report a row comes from: main board or GEM (codes 08xxx). */
export const QuoteBoard = Type.Union([Type.Literal('main'), Type.Literal('gem')]);

export const QuoteStatus = Type.Union([
  Type.Literal('traded'),
  Type.Literal('no_trade'),
  Type.Literal('suspended'),
  Type.Literal('halted'),
]);

/** One security of a Daily Quotations report. The report has no open: `open` is null unless another source gives it. */
export const QuoteRow = Type.Object(
  {
    code: StockCode,
    trade_date: IsoDate,
    board: QuoteBoard,
    name: Type.String(),
    currency: NullableString,
    status: QuoteStatus,
    /** Markers printed beside the code (`*`, `#`), never part of code or name. */
    flags: Type.String(),
    prev_close: NullableNumber,
    open: NullableNumber,
    high: NullableNumber,
    low: NullableNumber,
    close: NullableNumber,
    ask: NullableNumber,
    bid: NullableNumber,
    volume: Type.Union([NonNegativeNumber, Type.Null()]),
    turnover: Type.Union([NonNegativeNumber, Type.Null()]),
  },
  { additionalProperties: false },
);

/** Quote-widget data per stock: valuation and size figures, amounts already multiplied out of M/B units. */
export const FundamentalRow = Type.Object(
  {
    code: StockCode,
    as_of: IsoDate,
    last: NullableNumber,
    prev_close: NullableNumber,
    open: NullableNumber,
    high: NullableNumber,
    low: NullableNumber,
    volume: NullableNumber,
    turnover: NullableNumber,
    eps: NullableNumber,
    eps_currency: NullableString,
    pe: NullableNumber,
    dividend_yield: NullableNumber,
    market_cap: NullableNumber,
    issued_shares: NullableNumber,
  },
  { additionalProperties: false },
);

export const CcassRowType = Type.Union([
  Type.Literal('participant'),
  Type.Literal('intermediaries'),
  Type.Literal('consenting'),
  Type.Literal('non_consenting'),
  Type.Literal('total'),
  Type.Literal('issued_shares'),
]);

/**
 * CCASS shareholding: one row per participant line, and the page's summary lines as rows too
 * (`row_type` ≠ participant: `participants` holds their count, `participant_*` are null).
 * Consenting investor participants have no ID (`participant_id` null).
 */
export const CcassRow = Type.Object(
  {
    code: StockCode,
    holding_date: IsoDate,
    row_type: CcassRowType,
    participant_id: NullableString,
    participant_name: NullableString,
    address: NullableString,
    /** Can be negative: HKEX shows negative holdings for some intermediaries. */
    shareholding: Type.Number(),
    pct_issued: NullableNumber,
    participants: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  },
  { additionalProperties: false },
);

export type SecurityRow = Static<typeof SecurityRow>;
export type QuoteRow = Static<typeof QuoteRow>;
export type QuoteBoard = Static<typeof QuoteBoard>;
export type FundamentalRow = Static<typeof FundamentalRow>;
export type CcassRow = Static<typeof CcassRow>;

export const DATASETS = ['securities', 'quotes', 'fundamentals', 'ccass'] as const;
export type Dataset = (typeof DATASETS)[number];
export const DatasetName = Type.Union(DATASETS.map((d) => Type.Literal(d)));

export interface RowsByDataset {
  securities: SecurityRow;
  quotes: QuoteRow;
  fundamentals: FundamentalRow;
  ccass: CcassRow;
}

export const rowSchemas: { [D in Dataset]: TSchema } = {
  securities: SecurityRow,
  quotes: QuoteRow,
  fundamentals: FundamentalRow,
  ccass: CcassRow,
};

/**
 * Natural key columns of each dataset's rows. The lake partitions every dataset by the envelope's
 * `as_of`; `securities` rows carry no date of their own, so their key is `code` within an `as_of`.
 */
export const naturalKeys: { [D in Dataset]: readonly (keyof RowsByDataset[D])[] } = {
  securities: ['code'],
  quotes: ['code', 'trade_date'],
  fundamentals: ['code', 'as_of'],
  ccass: ['code', 'holding_date', 'row_type', 'participant_id', 'participant_name'],
};

export const rowValidators: { [D in Dataset]: Validator<TSchema> } = {
  securities: compile(rowSchemas.securities, 'securities row'),
  quotes: compile(rowSchemas.quotes, 'quotes row'),
  fundamentals: compile(rowSchemas.fundamentals, 'fundamentals row'),
  ccass: compile(rowSchemas.ccass, 'ccass row'),
};
