-- model: daily_prices
-- description: one row per stock and trade date of the Daily Quotations report. The report has no
--   opening price: open = the quote widget's open (`op`) from the fundamentals snapshot of that stock
--   and day (silver.fundamentals, as_of = trade_date) on a traded day when it is positive, else null;
--   a fundamentals row arriving after the quotes updates the day. prev_close is the report's own
--   "previous close", which HKEX carries over no-trade and suspended days, so the sign is right
--   after a gap. directed_volume = volume × sign(close − prev_close) on a traded day, 0 on a no-trade
--   day, null when suspended/halted or when the report gives no previous close (first day of listing).
--   change_pct = (close − prev_close) / prev_close × 100, null without both prices.
-- depends: silver.quotes, silver.fundamentals
-- key: code, trade_date
-- scope: code, trade_date
-- rebuild: duckdb
-- test: unique(code, trade_date)
-- test: not_null(code, trade_date, name, status)
-- test: accepted(status, traded|no_trade|suspended|halted)
-- test: range(volume, 0, )
-- test: range(turnover, 0, )
-- test: expect(status <> 'traded' or close is not null)
-- test: expect(high is null or low is null or low <= high)
-- test: expect(status <> 'suspended' or directed_volume is null)
-- @scope
select k, lo, hi from {{changed:silver.quotes}}
union all
select k, lo, hi from {{changed:silver.fundamentals}}
-- @model
-- Two ways to the same rows, chosen per stock by how many rows its scope holds. A few (a day's
-- event) are read key by key through the indexes, each with its fundamentals row looked up: the
-- cost follows the rows in scope, not the history behind them. More (a rebuild) are hash-joined
-- with the tables in bulk (Postgres builds no hash table when no stock has that many rows).
with keys as (
  select s.k, s.lo, s.hi, (
    select count(*) from silver.quotes x where x.code = s.k and x.trade_date between s.lo and s.hi) as n
  from {{scope}} s
),
wide_fundamentals as materialized (
  -- materialized: hash-joined below, not probed row by row through the index
  select f.code, f.as_of, f.open
  from keys s
  join silver.fundamentals f on s.n > 10 and f.code = s.k and f.as_of between s.lo and s.hi
),
q as (
  select x.*, f.open as fundamentals_open
  from keys s
  join silver.quotes x on s.n > 10 and x.code = s.k and x.trade_date between s.lo and s.hi
  left join wide_fundamentals f on f.code = x.code and f.as_of = x.trade_date
  union all
  select x.*, f.open
  from keys s
  cross join lateral (
    select * from silver.quotes x where s.n <= 10 and x.code = s.k and x.trade_date between s.lo and s.hi offset 0) x
  left join silver.fundamentals f on f.code = x.code and f.as_of = x.trade_date
)
select q.code, q.trade_date, q.name, q.currency, q.status,
  coalesce(q.open, case when q.status = 'traded' and q.fundamentals_open > 0 then q.fundamentals_open end) as open,
  q.high, q.low, q.close, q.prev_close,
  case when q.status in ('traded', 'no_trade') and q.close is not null and q.prev_close is not null and q.prev_close <> 0
       then (q.close - q.prev_close) / q.prev_close * 100 end as change_pct,
  q.volume, q.turnover,
  case
    when q.status = 'traded' and q.close is not null and q.prev_close is not null
      then q.volume * sign(q.close - q.prev_close)
    when q.status = 'no_trade' then 0
  end as directed_volume
from q
-- @lineage
select 'quotes' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
from silver.quotes where code = $1 and trade_date = $2
group by _file_key
union all
select 'fundamentals', _file_key, min(_seq), max(_seq), count(*)
from silver.fundamentals where code = $1 and as_of = $2
group by _file_key
