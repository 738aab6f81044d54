import type pg from 'pg';

/**
 * Read-only SQL over the gold tables (schema `gold`, see contracts/gold.ts). Every statement is
 * parameterised; dates come back as `yyyy-mm-dd` text and numbers as float8 so the readers do not
 * depend on the column types the transformer chose (numeric, bigint, double precision).
 */
export type Queryable = pg.ClientBase;

export interface StockName {
  code: string;
  name: string;
}

export interface SummaryRow {
  code: string;
  /** Latest name in gold.daily_prices; null = the code is unknown. */
  name: string | null;
  lastDate: string | null;
  lastClose: number | null;
  changePct: number | null;
  pe: number | null;
  dividendYield: number | null;
  /** Month-to-date high/low at `lastDate` (the month of lastDate, up to it) and the day each was reached. */
  monthHigh: number | null;
  monthHighDate: string | null;
  monthLow: number | null;
  monthLowDate: string | null;
  dv30: number | null;
  ccassTop10Pct: number | null;
  ccassDate: string | null;
}

export interface PriceRow {
  date: string;
  status: string;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  changePct: number | null;
  volume: number | null;
  turnover: number | null;
  directedVolume: number | null;
  dv30: number | null;
  /**
   * Month-to-date high/low: over the rows of this row's month up to and including this row's
   * date (what was known that day), with the first day each was reached. The month's final
   * figures are the last row of the month (and gold.monthly_high_low).
   */
  monthHigh: number | null;
  monthHighDate: string | null;
  monthLow: number | null;
  monthLowDate: string | null;
}

/** A row as stored, before the month-to-date figures are added. */
type DailyRow = Omit<PriceRow, 'monthHigh' | 'monthHighDate' | 'monthLow' | 'monthLowDate'>;

/** Largest absolute value per column of one stock's rows in a range (for column widths). */
export interface PriceStats {
  rows: number;
  price: number;
  changePct: number;
  volume: number;
  turnover: number;
  directedVolume: number;
  dv30: number;
}

export interface CcassHolder {
  rank: number;
  participantId: string | null;
  participantName: string;
  shareholding: number;
  pctIssued: number | null;
  changeShares: number;
  changePctIssued: number | null;
  kind: string;
}

export interface CcassTop {
  code: string;
  holdingDate: string;
  prevHoldingDate: string | null;
  issuedShares: number | null;
  top10Pct: number | null;
  participants: number | null;
  holders: CcassHolder[];
}

/**
 * Lateral joins `mh` (high, date) and `ml` (low, date) over the month of `<alias>.<dateCol>` up to
 * that date: month-to-date, never looking ahead. Ties go to the first day the value was reached.
 */
function monthToDate(alias: string, dateCol: string): string {
  const range = `q.code = ${alias}.code and q.trade_date >= date_trunc('month', ${alias}.${dateCol})::date
         and q.trade_date <= ${alias}.${dateCol}`;
  return `left join lateral (
       select q.high, q.trade_date from gold.daily_prices q
       where ${range} and q.high is not null order by q.high desc, q.trade_date limit 1
     ) mh on true
     left join lateral (
       select q.low, q.trade_date from gold.daily_prices q
       where ${range} and q.low is not null order by q.low asc, q.trade_date limit 1
     ) ml on true`;
}

/** Every code with its latest name: a loose index scan over the (code, trade_date) key, one lookup per code. */
export async function listStocks(db: Queryable): Promise<StockName[]> {
  const { rows } = await db.query<StockName>(
    `with recursive codes(code) as (
       (select code from gold.daily_prices order by code limit 1)
       union all
       select (select p.code from gold.daily_prices p where p.code > c.code order by p.code limit 1)
       from codes c where c.code is not null
     )
     select c.code, n.name
     from codes c
     cross join lateral (
       select name from gold.daily_prices p where p.code = c.code order by p.trade_date desc limit 1
     ) n
     where c.code is not null
     order by c.code`,
  );
  return rows;
}

/**
 * The Summary's as-of date: the latest day in `from`…`to` on which any of `codes` has a close;
 * null when none has.
 */
export async function summaryAsOf(
  db: Queryable,
  codes: string[],
  from: string,
  to: string,
): Promise<string | null> {
  const { rows } = await db.query<{ asOf: string | null }>(
    `select max(d)::text as "asOf" from unnest($1::text[]) as req(code)
     cross join lateral (
       select p.trade_date as d from gold.daily_prices p
       where p.code = req.code and p.trade_date between $2::date and $3::date and p.close is not null
       order by p.trade_date desc limit 1
     ) l`,
    [codes, from, to],
  );
  return rows[0]?.asOf ?? null;
}

/**
 * One row per asked code, every figure as of `asOf` (see `summaryAsOf`): the last close in
 * `from`…`asOf`, the month-to-date high/low and the 30-day directed volume on that close's day,
 * P/E and yield of the latest stock-picker row on or before `asOf`, CCASS top-10 of the latest
 * holding date on or before `asOf`. With `asOf` null only the names are filled.
 */
export async function summaryRows(
  db: Queryable,
  codes: string[],
  from: string,
  asOf: string | null,
): Promise<SummaryRow[]> {
  const { rows } = await db.query<SummaryRow>(
    `select req.code,
            nm.name,
            lp.trade_date::text as "lastDate",
            lp.close::float8 as "lastClose",
            lp.change_pct::float8 as "changePct",
            sp.pe::float8 as pe,
            sp.dividend_yield::float8 as "dividendYield",
            mh.high::float8 as "monthHigh",
            mh.trade_date::text as "monthHighDate",
            ml.low::float8 as "monthLow",
            ml.trade_date::text as "monthLowDate",
            r.dv_30d_trading::float8 as dv30,
            cc.top10_pct::float8 as "ccassTop10Pct",
            cc.holding_date::text as "ccassDate"
     from unnest($1::text[]) with ordinality as req(code, ord)
     left join lateral (
       select p.name from gold.daily_prices p where p.code = req.code order by p.trade_date desc limit 1
     ) nm on true
     left join lateral (
       select p.code, p.trade_date, p.close, p.change_pct from gold.daily_prices p
       where p.code = req.code and p.trade_date between $2::date and $3::date and p.close is not null
       order by p.trade_date desc limit 1
     ) lp on true
     left join lateral (
       select s.pe, s.dividend_yield from gold.stock_picker s
       where s.code = req.code and s.as_of <= $3::date order by s.as_of desc limit 1
     ) sp on true
     ${monthToDate('lp', 'trade_date')}
     left join gold.rolling_directed_volume r on r.code = req.code and r.trade_date = lp.trade_date
     left join lateral (
       select c.top10_pct, c.holding_date from gold.ccass_concentration c
       where c.code = req.code and c.holding_date <= $3::date order by c.holding_date desc limit 1
     ) cc on true
     order by req.ord`,
    // $3 null (no prices in the range): every lateral finds nothing, only the names remain.
    [codes, from, asOf],
  );
  return rows;
}

export async function priceStats(db: Queryable, code: string, from: string, to: string): Promise<PriceStats> {
  const { rows } = await db.query<PriceStats>(
    `select count(*)::int as rows,
            coalesce(max(greatest(abs(p.open), abs(p.high), abs(p.low), abs(p.close))), 0)::float8 as price,
            coalesce(max(abs(p.change_pct)), 0)::float8 as "changePct",
            coalesce(max(abs(p.volume)), 0)::float8 as volume,
            coalesce(max(abs(p.turnover)), 0)::float8 as turnover,
            coalesce(max(abs(p.directed_volume)), 0)::float8 as "directedVolume",
            coalesce(max(abs(r.dv_30d_trading)), 0)::float8 as dv30
     from gold.daily_prices p
     left join gold.rolling_directed_volume r on r.code = p.code and r.trade_date = p.trade_date
     where p.code = $1 and p.trade_date between $2::date and $3::date`,
    [code, from, to],
  );
  // A month-to-date high may come from the days of `from`'s month before `from`.
  const { rows: before } = await db.query<{ price: number | null }>(
    `select max(abs(high))::float8 as price from gold.daily_prices
     where code = $1 and trade_date >= date_trunc('month', $2::date)::date and trade_date < $2::date`,
    [code, from],
  );
  const stats = rows[0] as PriceStats;
  return { ...stats, price: Math.max(stats.price, before[0]?.price ?? 0) };
}

/**
 * One keyset page of a stock's rows: dates strictly after `after`, up to `to`, at most `limit`,
 * with month-to-date high/low. The query also reads the rows of the page's first month before
 * `after` (at most 31) so the running figures start from the 1st; they are computed here, in date
 * order, O(1) per row.
 */
export async function priceRows(
  db: Queryable,
  code: string,
  after: string,
  to: string,
  limit: number,
): Promise<PriceRow[]> {
  const { rows } = await db.query<DailyRow>(
    `select p.trade_date::text as date,
            p.status,
            p.open::float8 as open,
            p.high::float8 as high,
            p.low::float8 as low,
            p.close::float8 as close,
            p.change_pct::float8 as "changePct",
            p.volume::float8 as volume,
            p.turnover::float8 as turnover,
            p.directed_volume::float8 as "directedVolume",
            r.dv_30d_trading::float8 as dv30
     from gold.daily_prices p
     left join gold.rolling_directed_volume r on r.code = p.code and r.trade_date = p.trade_date
     where p.code = $1 and p.trade_date >= date_trunc('month', $2::date + 1)::date and p.trade_date <= $3::date
     order by p.trade_date
     limit $4::int + 31`,
    [code, after, to, limit],
  );
  const out: PriceRow[] = [];
  let month = '';
  let high: { v: number; d: string } | null = null;
  let low: { v: number; d: string } | null = null;
  for (const r of rows) {
    if (r.date.slice(0, 7) !== month) {
      month = r.date.slice(0, 7);
      high = null;
      low = null;
    }
    // Strictly greater / smaller: a tie keeps the first day the value was reached.
    if (r.high !== null && (!high || r.high > high.v)) high = { v: r.high, d: r.date };
    if (r.low !== null && (!low || r.low < low.v)) low = { v: r.low, d: r.date };
    if (r.date <= after) continue;
    // Field by field: spreading pg's row objects took ~8 µs a row (1 s of CPU in a 100×5y export).
    out.push({
      date: r.date,
      status: r.status,
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      changePct: r.changePct,
      volume: r.volume,
      turnover: r.turnover,
      directedVolume: r.directedVolume,
      dv30: r.dv30,
      monthHigh: high?.v ?? null,
      monthHighDate: high?.d ?? null,
      monthLow: low?.v ?? null,
      monthLowDate: low?.d ?? null,
    });
    if (out.length === limit) break;
  }
  return out;
}

/** Whole rows of a stock in a range (the page's chart; the range is capped by the caller). */
export async function allPriceRows(
  db: Queryable,
  code: string,
  from: string,
  to: string,
): Promise<PriceRow[]> {
  return priceRows(db, code, dayBefore(from), to, 100_000);
}

/** The largest CCASS holders of `code` on the latest holding date on or before `date` (any date when null). */
export async function ccassTop(
  db: Queryable,
  code: string,
  date: string | null,
  limit: number,
): Promise<CcassTop | null> {
  const head = await db.query<{
    holdingDate: string;
    issuedShares: number | null;
    top10Pct: number | null;
    participants: number | null;
  }>(
    `select d.holding_date::text as "holdingDate",
            c.issued_shares::float8 as "issuedShares",
            c.top10_pct::float8 as "top10Pct",
            c.participants::int as participants
     from (select max(holding_date) as holding_date from gold.ccass_changes
           where code = $1 and ($2::date is null or holding_date <= $2::date)) d
     left join gold.ccass_concentration c on c.code = $1 and c.holding_date = d.holding_date
     where d.holding_date is not null`,
    [code, date],
  );
  const h = head.rows[0];
  if (!h) return null;
  const { rows } = await db.query<CcassHolder & { prevHoldingDate: string | null }>(
    `select (row_number() over (order by x.shareholding desc, x.participant_key))::int as rank,
            x.participant_id as "participantId",
            x.participant_name as "participantName",
            x.shareholding::float8 as shareholding,
            case when $4::float8 > 0 then (x.shareholding::float8 / $4::float8 * 100) end as "pctIssued",
            x.change_shares::float8 as "changeShares",
            x.change_pct_issued::float8 as "changePctIssued",
            x.kind,
            x.prev_holding_date::text as "prevHoldingDate"
     from gold.ccass_changes x
     where x.code = $1 and x.holding_date = $2::date and x.kind <> 'exited'
     order by x.shareholding desc, x.participant_key
     limit $3`,
    [code, h.holdingDate, limit, h.issuedShares],
  );
  return {
    code,
    holdingDate: h.holdingDate,
    prevHoldingDate: rows[0]?.prevHoldingDate ?? null,
    issuedShares: h.issuedShares,
    top10Pct: h.top10Pct,
    participants: h.participants,
    holders: rows.map(({ prevHoldingDate: _p, ...holder }) => holder),
  };
}

/** Which of `codes` Harbour knows (has prices for), in the given order. */
export async function knownCodes(db: Queryable, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `select req.code from unnest($1::text[]) with ordinality as req(code, ord)
     where exists (select 1 from gold.daily_prices p where p.code = req.code)
     order by req.ord`,
    [codes],
  );
  return rows.map((r) => r.code);
}

export async function latestName(db: Queryable, code: string): Promise<string | null> {
  const { rows } = await db.query<{ name: string }>(
    'select name from gold.daily_prices where code = $1 order by trade_date desc limit 1',
    [code],
  );
  return rows[0]?.name ?? null;
}

export function dayBefore(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/**
 * Runs `fn` on one pooled client inside a read-only transaction with a server-side
 * `statement_timeout` (a slow query is cancelled by Postgres, not just abandoned).
 */
export async function readOnly<T>(
  pool: pg.Pool,
  timeoutMs: number,
  fn: (db: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    await client.query(`set local statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    const out = await fn(client);
    await client.query('commit');
    client.release();
    return out;
  } catch (err) {
    await client.query('rollback').then(
      () => client.release(),
      (e: Error) => client.release(e),
    );
    throw err;
  }
}
