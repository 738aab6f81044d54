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
-- rebuild: duckdb
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
-- Aggregated per stock inside the lateral (a scope key is one stock): a group of ~20 rows each,
-- where a group by over all the rows sorted a day's 57,000 by text code first (~30 % of the run).
select p.*
from {{scope}} s
cross join lateral (
  select x.code, date_trunc('month', x.trade_date::timestamp)::date as month,
    (min(array[x.trade_date - date '2000-01-01', coalesce(x.open, x.close)])
      filter (where x.status = 'traded'))[2] as open,
    max(x.high) filter (where x.status = 'traded') as high,
    date '2000-01-01' - ((max(array[x.high, date '2000-01-01' - x.trade_date])
      filter (where x.status = 'traded' and x.high is not null))[2])::int as high_date,
    min(x.low) filter (where x.status = 'traded') as low,
    date '2000-01-01' + ((min(array[x.low, x.trade_date - date '2000-01-01'])
      filter (where x.status = 'traded' and x.low is not null))[2])::int as low_date,
    (max(array[x.trade_date - date '2000-01-01', x.close]) filter (where x.close is not null))[2] as close,
    coalesce(sum(x.volume) filter (where x.status = 'traded'), 0) as volume,
    (count(*) filter (where x.status = 'traded'))::int as trading_days
  from gold.daily_prices x
  where x.code = s.k and x.trade_date between s.lo and s.hi
  group by x.code, date_trunc('month', x.trade_date::timestamp)::date) p
-- @lineage
select 'quotes' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
from silver.quotes
where code = $1 and trade_date >= $2::date and trade_date < ($2::date + interval '1 month')
group by _file_key
