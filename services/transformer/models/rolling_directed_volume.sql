-- model: rolling_directed_volume
-- description: for every daily_prices row: the sum of directed_volume over the stock's last 30
--   TRADING days (rows of that stock with status traded, this day included when it traded) with their
--   count, and over the 30 CALENDAR days ending this day (traded rows in [day − 29, day]) with their
--   count. A sum is null when its window holds no trade. A stock listed mid-window simply has fewer days.
-- depends: daily_prices
-- reads: daily_prices(status, directed_volume)
-- key: code, trade_date
-- scope: code, trade_date
-- rebuild: duckdb
-- test: unique(code, trade_date)
-- test: not_null(code, trade_date, days_30d_trading, days_30d_calendar)
-- test: range(days_30d_trading, 0, 30)
-- test: range(days_30d_calendar, 0, 30)
-- test: expect(days_30d_trading > 0 or dv_30d_trading is null)
-- test: expect(days_30d_calendar > 0 or dv_30d_calendar is null)
-- test: expect(days_30d_calendar <= days_30d_trading)
-- @scope
-- A change on day d reaches the rows up to the 30th traded day after it (trading window) and
-- d + 29 (calendar window); with fewer than 30 traded days after it, every later row.
select s.k, s.lo,
  case when t.d is null then 'infinity'::date else greatest(s.hi + 29, t.d) end
from {{changed:daily_prices}} s
left join lateral (
  select p.trade_date as d from gold.daily_prices p
  where p.code = s.k and p.trade_date > s.hi and p.status = 'traded'
  order by p.trade_date offset 29 limit 1
) t on true
-- @model
-- Two ways to the same windows, chosen per stock by how many rows its scope holds. A few rows (a
-- day's event) read their windows row by row through the traded-rows index: the cost follows the
-- rows in scope, not the history behind them. Many rows (a rebuild, a late correction) run window
-- functions over the stock's rows once. Directed volumes are whole share counts (far below 10^15),
-- so a sum is exact whichever way it is taken: row by row newest first, or over numeric in the
-- windows, where a moving frame adds and removes rows instead of summing its rows again.
with keys as (
  select s.k, s.lo, s.hi, (
    select count(*) from gold.daily_prices x where x.code = s.k and x.trade_date between s.lo and s.hi) as n
  from {{scope}} s
),
narrow as (select k, lo, hi from keys where n <= 10),
wide as (select k, lo, hi from keys where n > 10),
b as (
  -- the scoped rows plus what their windows look back on: 30 traded rows (a row that did not
  -- trade sums the 30 traded days before it) and 29 calendar days before lo
  select p.code, p.trade_date, p.status, p.directed_volume
  from wide s
  cross join lateral (
    select min(x.trade_date) as start from (
      select q.trade_date from gold.daily_prices q
      where q.code = s.k and q.trade_date < s.lo and q.status = 'traded'
      order by q.trade_date desc limit 30) x
  ) st
  cross join lateral (
    select p.code, p.trade_date, p.status, p.directed_volume from gold.daily_prices p
    where p.code = s.k and p.trade_date <= s.hi and p.trade_date >= least(coalesce(st.start, s.lo), s.lo - 29)
    offset 0
  ) p
),
tr as (
  -- windows over the traded rows only
  select code, trade_date,
    (sum(directed_volume::numeric) over w)::float8 as dv,
    count(*) over w as days
  from b where status = 'traded'
  window w as (partition by code order by trade_date rows between 29 preceding and current row)
),
cal as (
  -- every row: its calendar window, and grp = traded rows so far (a non-traded row shares the
  -- group of the last traded row before it, hence its trading window)
  select b.code, b.trade_date, t.dv, t.days,
    count(*) filter (where b.status = 'traded') over (partition by b.code order by b.trade_date) as grp,
    (sum(b.directed_volume::numeric) filter (where b.status = 'traded')
      over (partition by b.code order by b.trade_date range between interval '29 days' preceding and current row))::float8 as dv_cal,
    count(*) filter (where b.status = 'traded')
      over (partition by b.code order by b.trade_date range between interval '29 days' preceding and current row) as days_cal
  from b left join tr t on t.code = b.code and t.trade_date = b.trade_date
)
select code, trade_date, dv_30d_trading, days_30d_trading, dv_30d_calendar, days_30d_calendar from (
select code, trade_date,
  max(dv) over g as dv_30d_trading, coalesce(max(days) over g, 0)::int as days_30d_trading,
  dv_cal as dv_30d_calendar, days_cal::int as days_30d_calendar
from cal
window g as (partition by code, grp)
) w
union all
select p.code, p.trade_date,
  tw.dv, tw.days::int,
  cw.dv, cw.days::int
from narrow s
cross join lateral (
  select x.code, x.trade_date from gold.daily_prices x
  where x.code = s.k and x.trade_date between s.lo and s.hi offset 0) p
cross join lateral (
  -- the recent weeks first, older rows only when they hold fewer than 30 trades (see stock_picker's
  -- look-ups: an unbounded backward scan costs more the longer the history)
  select sum(t.directed_volume) as dv, count(*) as days from (
    select * from (
      (select q.directed_volume from gold.daily_prices q
       where q.code = p.code and q.trade_date <= p.trade_date and q.trade_date > p.trade_date - 60
         and q.status = 'traded'
       order by q.trade_date desc limit 30)
      union all
      (select q.directed_volume from gold.daily_prices q
       where q.code = p.code and q.trade_date <= p.trade_date - 60 and q.status = 'traded'
       order by q.trade_date desc limit 30)
    ) u limit 30) t
) tw
cross join lateral (
  select sum(q.directed_volume) as dv, count(*) as days from gold.daily_prices q
  where q.code = p.code and q.status = 'traded' and q.trade_date between p.trade_date - 29 and p.trade_date
) cw
-- @lineage
select 'quotes' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
from silver.quotes
where code = $1 and trade_date <= $2::date and trade_date >= least($2::date - 29, coalesce((
  select min(x.trade_date) from (select q.trade_date from silver.quotes q where q.code = $1 and q.trade_date <= $2::date
    and q.status = 'traded' order by q.trade_date desc limit 30) x), $2::date))
group by _file_key
