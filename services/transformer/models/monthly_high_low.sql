-- model: monthly_high_low
-- description: per stock and calendar month (month = its first day): high and low of the traded days
--   with the (first) date each was reached, close = last known close of the month, volume = shares
--   traded in the month (0 when none), trading_days = days with a trade. The report has no opening
--   price, so open = the open of the month's first traded day when a source gives one, otherwise
--   that day's CLOSE (the first price the month really traded at). A month in which the stock never
--   traded has open/high/low null and trading_days 0 (still a row while it is quoted or suspended).
-- depends: daily_prices
-- key: code, month
-- scope: code, month
-- test: unique(code, month)
-- test: not_null(code, month, trading_days, volume)
-- test: range(trading_days, 0, 23)
-- test: range(volume, 0, )
-- test: expect(extract(day from month) = 1)
-- test: expect(high is null or low <= high)
-- test: expect(high_date is null or date_trunc('month', high_date)::date = month)
-- test: expect(low_date is null or date_trunc('month', low_date)::date = month)
-- test: expect((trading_days = 0) = (high is null))
-- @scope
select k,
  date_trunc('month', lo::timestamp)::date,
  (date_trunc('month', hi::timestamp) + interval '1 month' - interval '1 day')::date
from {{changed:daily_prices}}
-- @model
-- "The value on the first / last / extreme day" as min or max of [sort key, value] arrays (arrays
-- compare element by element, and a stock has one row a day): plain aggregates, where ordered
-- array_agg sorted each month's rows once per column (a day's event: 2,600 months, ~20 % faster).
select p.code, date_trunc('month', p.trade_date::timestamp)::date as month,
  (min(array[p.trade_date - date '2000-01-01', coalesce(p.open, p.close)])
    filter (where p.status = 'traded'))[2] as open,
  max(p.high) filter (where p.status = 'traded') as high,
  date '2000-01-01' - ((max(array[p.high, date '2000-01-01' - p.trade_date])
    filter (where p.status = 'traded' and p.high is not null))[2])::int as high_date,
  min(p.low) filter (where p.status = 'traded') as low,
  date '2000-01-01' + ((min(array[p.low, p.trade_date - date '2000-01-01'])
    filter (where p.status = 'traded' and p.low is not null))[2])::int as low_date,
  (max(array[p.trade_date - date '2000-01-01', p.close]) filter (where p.close is not null))[2] as close,
  coalesce(sum(p.volume) filter (where p.status = 'traded'), 0) as volume,
  (count(*) filter (where p.status = 'traded'))::int as trading_days
from {{scope}} s
cross join lateral (
  select x.code, x.trade_date, x.status, x.open, x.high, x.low, x.close, x.volume from gold.daily_prices x
  where x.code = s.k and x.trade_date between s.lo and s.hi offset 0) p
group by p.code, date_trunc('month', p.trade_date::timestamp)::date
-- @lineage
select 'quotes' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
from silver.quotes
where code = $1 and trade_date >= $2::date and trade_date < ($2::date + interval '1 month')
group by _file_key
