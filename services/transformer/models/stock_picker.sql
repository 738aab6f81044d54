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
select f.code, f.as_of,
  coalesce(px.name, sec.name, f.code) as name,
  coalesce(px.close, f.last) as close,
  f.eps,
  coalesce(f.pe, case
    when f.eps > 0 and coalesce(px.close, f.last) is not null and (f.eps_currency is null or f.eps_currency = px.currency)
    then coalesce(px.close, f.last) / f.eps end) as pe,
  f.dividend_yield,
  coalesce(f.market_cap, coalesce(px.close, f.last) * f.issued_shares) as market_cap,
  tv.avg_turnover as avg_turnover_20d,
  case when coalesce(f.market_cap, coalesce(px.close, f.last) * f.issued_shares) > 0
    then tv.avg_turnover / coalesce(f.market_cap, coalesce(px.close, f.last) * f.issued_shares) end as turnover_ratio
from {{scope}} s
cross join lateral (
  select * from silver.fundamentals x where x.code = s.k and x.as_of between s.lo and s.hi offset 0) f
left join lateral (
  select p.name, p.close, p.currency from gold.daily_prices p
  where p.code = f.code and p.trade_date <= f.as_of
  order by p.trade_date desc limit 1
) px on true
left join lateral (
  select avg(coalesce(x.turnover, 0)) as avg_turnover from (
    select p.turnover from gold.daily_prices p
    where p.code = f.code and p.trade_date <= f.as_of and p.status in ('traded', 'no_trade')
    order by p.trade_date desc limit 20) x
) tv on true
left join lateral (
  select l.name from silver.securities l
  where l.code = f.code and l.as_of <= f.as_of
  order by l.as_of desc limit 1
) sec on true
-- @lineage
select 'fundamentals' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
from silver.fundamentals where code = $1 and as_of = $2
group by _file_key
union all
select 'quotes', _file_key, min(_seq), max(_seq), count(*)
from (select * from silver.quotes q where q.code = $1 and q.trade_date <= $2::date
      order by q.trade_date desc limit 20) x
group by _file_key
