-- model: stock_picker
-- description: one row per fundamentals row (stock × as-of date of the quote widget data).
--   close = close of the stock's latest daily_prices row on or before as_of (the widget's last price
--   when that row has none, e.g. suspended); name from that row, else the latest securities list,
--   else the code. eps, dividend_yield as the widget gives them; pe = the widget's P/E, or close ÷ EPS
--   when the widget has none and EPS is positive and in the quote's currency; market_cap = the widget's,
--   or close × issued shares. avg_turnover_20d = mean turnover over the stock's last 20 QUOTED days on
--   or before as_of (traded or no-trade, a no-trade day counting 0; suspended/halted days skipped;
--   fewer days for a new listing). turnover_ratio = avg_turnover_20d ÷ market_cap.
-- depends: silver.fundamentals, daily_prices, silver.securities
-- reads: daily_prices(name, currency, close, turnover, status)
-- key: code, as_of
-- scope: code, as_of
-- rebuild: duckdb
-- test: unique(code, as_of)
-- test: not_null(code, as_of, name)
-- test: range(avg_turnover_20d, 0, )
-- test: range(market_cap, 0, )
-- test: range(turnover_ratio, 0, )
-- test[warn]: range(dividend_yield, 0, 100)
-- @scope
select k, lo, hi from {{changed:silver.fundamentals}}
union all
-- a daily row reaches the as-of dates up to the 20th quoted day after it (turnover window; the
-- latest-row close is covered too); with fewer quoted days after it, every later as-of date
select s.k, s.lo, coalesce(t.d, 'infinity'::date)
from {{changed:daily_prices}} s
left join lateral (
  select p.trade_date as d from gold.daily_prices p
  where p.code = s.k and p.trade_date > s.hi and p.status in ('traded', 'no_trade')
  order by p.trade_date offset 19 limit 1
) t on true
union all
select k, lo, 'infinity'::date from {{changed:silver.securities}}
-- @model
-- Two ways to each row's latest daily row and turnover mean, chosen per stock. A stock with a few
-- fundamentals rows in scope (an event: one a stock) looks them up row by row through the indexes:
-- the cost follows the rows in scope, not the history behind them. A stock with more, and every
-- stock of a full rebuild (its scope starts at -infinity), reads its daily rows once: a row's latest
-- daily row and latest quoted day are found by a running max over the stock's daily and
-- fundamentals rows in date order, and a quoted day's mean is its last 20 quoted days added newest
-- first, term by term, as the look-up's avg adds them. So both ways agree to the last bit, and the
-- second gives the same bits in DuckDB, where a full rebuild computes this model (a window
-- aggregate would sum in another order there: its segment tree).
with keys as (
  select s.k, s.lo, s.hi, s.lo = '-infinity' or (
    select count(*) from silver.fundamentals x where x.code = s.k and x.as_of between s.lo and s.hi) > 4 as wide
  from {{scope}} s
),
days as (
  -- the wide stocks' daily rows from what their first scoped row looks back on (the 20th quoted
  -- day and the last daily row before lo); a quoted day with the mean of its last 20 quoted days
  select p.code, p.trade_date, p.name, p.close, p.currency, p.quoted,
    case when p.quoted then (0::float8 + p.t
      + lead(p.t, 1, 0::float8) over w
      + lead(p.t, 2, 0::float8) over w
      + lead(p.t, 3, 0::float8) over w
      + lead(p.t, 4, 0::float8) over w
      + lead(p.t, 5, 0::float8) over w
      + lead(p.t, 6, 0::float8) over w
      + lead(p.t, 7, 0::float8) over w
      + lead(p.t, 8, 0::float8) over w
      + lead(p.t, 9, 0::float8) over w
      + lead(p.t, 10, 0::float8) over w
      + lead(p.t, 11, 0::float8) over w
      + lead(p.t, 12, 0::float8) over w
      + lead(p.t, 13, 0::float8) over w
      + lead(p.t, 14, 0::float8) over w
      + lead(p.t, 15, 0::float8) over w
      + lead(p.t, 16, 0::float8) over w
      + lead(p.t, 17, 0::float8) over w
      + lead(p.t, 18, 0::float8) over w
      + lead(p.t, 19, 0::float8) over w)
      / count(*) over (
        partition by p.code, p.quoted order by p.trade_date desc rows between current row and 19 following)
    end as avg_turnover
  from keys s
  cross join lateral (
    select least(
      (select min(x.trade_date) from (
        select q.trade_date from gold.daily_prices q
        where q.code = s.k and q.trade_date < s.lo and q.status in ('traded', 'no_trade')
        order by q.trade_date desc limit 20) x),
      (select max(q.trade_date) from gold.daily_prices q where q.code = s.k and q.trade_date < s.lo)) as start
  ) st
  cross join lateral (
    select x.code, x.trade_date, x.name, x.close, x.currency, coalesce(x.turnover, 0) as t,
      x.status in ('traded', 'no_trade') as quoted
    from gold.daily_prices x
    where x.code = s.k and x.trade_date between coalesce(st.start, s.lo) and s.hi offset 0
  ) p
  where s.wide
  window w as (partition by p.code, p.quoted order by p.trade_date desc)
),
rows_in_scope as (
  select f.*, s.wide
  from keys s
  cross join lateral (
    select * from silver.fundamentals x where x.code = s.k and x.as_of between s.lo and s.hi offset 0) f
),
marks as (
  -- each wide row with the dates of its latest daily row and latest quoted day on or before as_of
  select code, d as as_of, day_on, quoted_on from (
    select code, d, is_row,
      max(case when not is_row then d end) over m as day_on,
      max(case when quoted then d end) over m as quoted_on
    from (
      select code, trade_date as d, false as is_row, quoted from days
      union all
      select code, as_of, true, false from rows_in_scope where wide
    ) u
    window m as (partition by code order by d, is_row rows unbounded preceding)
  ) x
  where is_row
),
looked_up as (
  select f.*, px.name as px_name, px.close as px_close, px.currency as px_currency, tv.avg_turnover
  from rows_in_scope f
  join marks k on k.code = f.code and k.as_of = f.as_of
  left join days px on px.code = f.code and px.trade_date = k.day_on
  left join days tv on tv.code = f.code and tv.trade_date = k.quoted_on
  union all
  select f.*, px.name, px.close, px.currency, tv.avg_turnover
  from rows_in_scope f
  -- Both look-ups read back from as_of in two steps, the recent weeks first and the rest only
  -- when those fall short: a backward index scan takes every row of the stock the index page
  -- holds up to as_of, so an unbounded one costs more the longer the history. Append runs its
  -- branches in order and the limit stops it, so the rows still come newest first.
  left join lateral (
    -- the latest daily row on or before as_of
    select * from (
      (select p.name, p.close, p.currency from gold.daily_prices p
       where p.code = f.code and p.trade_date <= f.as_of and p.trade_date > f.as_of - 14
       order by p.trade_date desc limit 1)
      union all
      (select p.name, p.close, p.currency from gold.daily_prices p
       where p.code = f.code and p.trade_date <= f.as_of - 14
       order by p.trade_date desc limit 1)
    ) u limit 1
  ) px on true
  left join lateral (
    select avg(coalesce(x.turnover, 0)) as avg_turnover from (
      select * from (
        (select p.turnover from gold.daily_prices p
         where p.code = f.code and p.trade_date <= f.as_of and p.trade_date > f.as_of - 42
           and p.status in ('traded', 'no_trade')
         order by p.trade_date desc limit 20)
        union all
        (select p.turnover from gold.daily_prices p
         where p.code = f.code and p.trade_date <= f.as_of - 42 and p.status in ('traded', 'no_trade')
         order by p.trade_date desc limit 20)
      ) u limit 20) x
  ) tv on true
  where not f.wide
),
unnamed as (
  -- a row without a daily row on or before as_of takes the name of the latest securities list
  select f.code, f.as_of, (
    select l.name from silver.securities l
    where l.code = f.code and l.as_of <= f.as_of
    order by l.as_of desc limit 1) as name
  from looked_up f
  where f.px_name is null
)
select f.code, f.as_of,
  coalesce(f.px_name, u.name, f.code) as name,
  coalesce(f.px_close, f.last) as close,
  f.eps,
  coalesce(f.pe, case
    when f.eps > 0 and coalesce(f.px_close, f.last) is not null and (f.eps_currency is null or f.eps_currency = f.px_currency)
    then coalesce(f.px_close, f.last) / f.eps end) as pe,
  f.dividend_yield,
  coalesce(f.market_cap, coalesce(f.px_close, f.last) * f.issued_shares) as market_cap,
  f.avg_turnover as avg_turnover_20d,
  case when coalesce(f.market_cap, coalesce(f.px_close, f.last) * f.issued_shares) > 0
    then f.avg_turnover / coalesce(f.market_cap, coalesce(f.px_close, f.last) * f.issued_shares) end as turnover_ratio
from looked_up f
left join unnamed u on u.code = f.code and u.as_of = f.as_of
-- @lineage
select 'fundamentals' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
from silver.fundamentals where code = $1 and as_of = $2
group by _file_key
union all
select 'quotes', _file_key, min(_seq), max(_seq), count(*)
from (select * from silver.quotes q where q.code = $1 and q.trade_date <= $2::date
      order by q.trade_date desc limit 20) x
group by _file_key
