import type pg from 'pg';
import type { PriceRow } from '../gold/index.ts';

/**
 * What the daily report shows, read from the gold tables for a watch list and a business date: a
 * stock's figures of the day as the workbook's price rows have them (none when it has no row).
 */
export interface StockDay
  extends Pick<PriceRow, 'close' | 'changePct' | 'volume' | 'turnover' | 'directedVolume' | 'dv30'> {
  code: string;
  name: string | null;
  date: string | null;
  status: string | null;
}

export interface ConcentrationChange {
  code: string;
  name: string | null;
  date: string;
  prevDate: string | null;
  top10Pct: number | null;
  prevTop10Pct: number | null;
  participants: number | null;
}

export interface ParticipantMove {
  code: string;
  name: string | null;
  date: string;
  prevDate: string | null;
  participantKey: string;
  participantId: string | null;
  participantName: string;
  shareholding: number;
  changeShares: number;
  changePctIssued: number | null;
}

export interface Freshness {
  dataset: string;
  latestAsOf: string | null;
  loadedAt: string | null;
  lagSeconds: number | null;
}

export interface RowCount {
  dataset: string;
  asOf: string;
  rows: number;
  expected: number | null;
  ratio: number | null;
}

export interface ReportData {
  date: string;
  stocks: StockDay[];
  concentration: ConcentrationChange[];
  moves: ParticipantMove[];
  freshness: Freshness[];
  rowCounts: RowCount[];
}

/** SQL joining `nm.name`: the name on the latest gold price row of the stock `code` (an SQL expression). */
const latestName = (code: string) => `left join lateral (
       select d.name from gold.daily_prices d where d.code = ${code} order by d.trade_date desc limit 1
     ) nm on true`;

/** What every alert event says of its stock, from its row: code, name, date. */
const about = (r: { code: string; name: string | null; date: string }) => ({
  code: r.code,
  name: r.name,
  date: r.date,
});

export async function loadReportData(
  db: pg.ClientBase,
  codes: string[],
  date: string,
  top: number,
): Promise<ReportData> {
  const stocks = await db.query<StockDay>(
    `select req.code, p.name, p.trade_date::text as date, p.status, p.close::float8 as close,
            p.change_pct::float8 as "changePct", p.volume::float8 as volume, p.turnover::float8 as turnover,
            p.directed_volume::float8 as "directedVolume", r.dv_30d_trading::float8 as dv30
     from unnest($1::text[]) with ordinality as req(code, ord)
     left join lateral (
       select * from gold.daily_prices d where d.code = req.code and d.trade_date <= $2::date
       order by d.trade_date desc limit 1
     ) p on true
     left join gold.rolling_directed_volume r on r.code = req.code and r.trade_date = p.trade_date
     order by req.ord`,
    [codes, date],
  );
  const concentration = await db.query<ConcentrationChange>(
    `select req.code, nm.name, c1.holding_date::text as date, c0.holding_date::text as "prevDate",
            c1.top10_pct::float8 as "top10Pct", c0.top10_pct::float8 as "prevTop10Pct", c1.participants::int as participants
     from unnest($1::text[]) with ordinality as req(code, ord)
     join lateral (
       select * from gold.ccass_concentration c where c.code = req.code and c.holding_date <= $2::date
       order by c.holding_date desc limit 1
     ) c1 on true
     left join lateral (
       select * from gold.ccass_concentration c where c.code = req.code and c.holding_date < c1.holding_date
       order by c.holding_date desc limit 1
     ) c0 on true
     ${latestName('req.code')}
     order by abs(coalesce(c1.top10_pct - c0.top10_pct, 0)) desc, req.ord`,
    [codes, date],
  );
  const moves = await db.query<ParticipantMove>(
    `select x.code, nm.name, x.holding_date::text as date, x.prev_holding_date::text as "prevDate",
            x.participant_key as "participantKey", x.participant_id as "participantId",
            x.participant_name as "participantName", x.shareholding::float8 as shareholding,
            x.change_shares::float8 as "changeShares", x.change_pct_issued::float8 as "changePctIssued"
     from unnest($1::text[]) as req(code)
     join lateral (
       select max(c.holding_date) as d from gold.ccass_changes c where c.code = req.code and c.holding_date <= $2::date
     ) last on true
     join gold.ccass_changes x on x.code = req.code and x.holding_date = last.d and x.prev_holding_date is not null
     ${latestName('req.code')}
     where x.change_pct_issued is not null
     order by abs(x.change_pct_issued) desc, x.code, x.participant_key
     limit $3`,
    [codes, date, top],
  );
  const freshness = await db.query<Freshness>(
    `select dataset, latest_as_of::text as "latestAsOf", to_char(loaded_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "loadedAt",
            lag_seconds::float8 as "lagSeconds"
     from gold.dq_freshness order by dataset`,
  );
  const rowCounts = await db.query<RowCount>(
    `select distinct on (dataset) dataset, as_of::text as "asOf", rows::int as rows, expected::int as expected,
            ratio::float8 as ratio
     from gold.dq_row_counts where as_of <= $1::date order by dataset, as_of desc`,
    [date],
  );
  return {
    date,
    stocks: stocks.rows,
    concentration: concentration.rows,
    moves: moves.rows,
    freshness: freshness.rows,
    rowCounts: rowCounts.rows,
  };
}

/** One market event a rule found; `key` is unique per event (the dedup key of its email). */
export type AlertEvent =
  | {
      rule: 'ccass_move';
      key: string;
      code: string;
      name: string | null;
      date: string;
      prevDate: string;
      participantId: string | null;
      participantName: string;
      shareholding: number;
      changeShares: number;
      changePctIssued: number;
    }
  | {
      rule: 'month_high' | 'month_low';
      key: string;
      code: string;
      name: string | null;
      date: string;
      close: number;
      /** The level broken: month-so-far high/low before this day (previous month's on the first trading day). */
      level: number;
      levelFrom: 'month_to_date' | 'previous_month';
    }
  | {
      rule: 'dv_sign';
      key: string;
      code: string;
      name: string | null;
      date: string;
      prevDate: string;
      dv30: number;
      prevDv30: number;
    };

export interface AlertQuery {
  codes: string[];
  date: string;
  lookbackDays: number;
  ccassMovePctIssued: number;
  monthHighLow: boolean;
  directedVolumeSign: boolean;
}

/** Every event of the enabled rules on the watch list, dated within the lookback window, oldest first. */
export async function findAlertEvents(db: pg.ClientBase, q: AlertQuery): Promise<AlertEvent[]> {
  const events: AlertEvent[] = [];
  const since = `($2::date - ($3::int - 1))`;
  const names = latestName('t.code');
  if (q.ccassMovePctIssued > 0) {
    const { rows } = await db.query(
      `select t.code, nm.name, t.holding_date::text as date, t.prev_holding_date::text as "prevDate",
              t.participant_key as "participantKey", t.participant_id as "participantId",
              t.participant_name as "participantName", t.shareholding::float8 as shareholding,
              t.change_shares::float8 as "changeShares", t.change_pct_issued::float8 as "changePctIssued"
       from gold.ccass_changes t
       ${names}
       where t.code = any($1::text[]) and t.holding_date between ${since} and $2::date
         and t.prev_holding_date is not null and abs(t.change_pct_issued) > $4::float8
       order by t.holding_date, t.code, t.participant_key`,
      [q.codes, q.date, q.lookbackDays, q.ccassMovePctIssued],
    );
    for (const r of rows) {
      events.push({
        rule: 'ccass_move',
        key: `ccass-move:${r.code}:${r.date}:${r.participantKey}`,
        ...about(r),
        prevDate: r.prevDate,
        participantId: r.participantId,
        participantName: r.participantName,
        shareholding: r.shareholding,
        changeShares: r.changeShares,
        changePctIssued: r.changePctIssued,
      });
    }
  }
  if (q.monthHighLow) {
    const { rows } = await db.query(
      `select t.code, nm.name, t.trade_date::text as date, t.close::float8 as close,
              case when mtd.days > 0 then mtd.high else pm.high end::float8 as high,
              case when mtd.days > 0 then mtd.low else pm.low end::float8 as low,
              case when mtd.days > 0 then 'month_to_date' else 'previous_month' end as "levelFrom"
       from gold.daily_prices t
       cross join lateral (
         select max(q.high) as high, min(q.low) as low, count(*) as days from gold.daily_prices q
         where q.code = t.code and q.status = 'traded' and q.close is not null
           and q.trade_date >= date_trunc('month', t.trade_date)::date and q.trade_date < t.trade_date
       ) mtd
       left join gold.monthly_high_low pm
         on pm.code = t.code and pm.month = (date_trunc('month', t.trade_date) - interval '1 month')::date
       ${names}
       where t.code = any($1::text[]) and t.trade_date between ${since} and $2::date
         and t.status = 'traded' and t.close is not null
       order by t.trade_date, t.code`,
      [q.codes, q.date, q.lookbackDays],
    );
    for (const r of rows) {
      const broken = [
        ['month_high', 'month-high', r.high, r.high !== null && r.close > r.high],
        ['month_low', 'month-low', r.low, r.low !== null && r.close < r.low],
      ] as const;
      for (const [rule, keyPrefix, level, hit] of broken) {
        if (hit) {
          const key = `${keyPrefix}:${r.code}:${r.date}`;
          events.push({ rule, key, ...about(r), close: r.close, level, levelFrom: r.levelFrom });
        }
      }
    }
  }
  if (q.directedVolumeSign) {
    const { rows } = await db.query(
      `select t.code, nm.name, t.trade_date::text as date, t.dv_30d_trading::float8 as dv30,
              p.trade_date::text as "prevDate", p.dv_30d_trading::float8 as "prevDv30"
       from gold.rolling_directed_volume t
       cross join lateral (
         select q.trade_date, q.dv_30d_trading from gold.rolling_directed_volume q
         where q.code = t.code and q.trade_date < t.trade_date order by q.trade_date desc limit 1
       ) p
       ${names}
       where t.code = any($1::text[]) and t.trade_date between ${since} and $2::date
         and t.dv_30d_trading <> 0 and p.dv_30d_trading is not null
         and sign(t.dv_30d_trading) <> sign(p.dv_30d_trading)
       order by t.trade_date, t.code`,
      [q.codes, q.date, q.lookbackDays],
    );
    for (const r of rows) {
      events.push({
        rule: 'dv_sign',
        key: `dv-sign:${r.code}:${r.date}:${r.dv30 > 0 ? 'positive' : 'negative'}`,
        ...about(r),
        prevDate: r.prevDate,
        dv30: r.dv30,
        prevDv30: r.prevDv30,
      });
    }
  }
  return events.sort((a, b) => a.date.localeCompare(b.date) || a.key.localeCompare(b.key));
}
