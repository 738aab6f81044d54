-- model: daily_prices
-- description: one row per stock and trade date of the Daily Quotations report. The report has no
--   opening price (open stays null unless a source gives it). prev_close is the report's own
--   "previous close", which HKEX carries over no-trade and suspended days, so the sign is right
--   after a gap. directed_volume = volume × sign(close − prev_close) on a traded day, 0 on a no-trade
--   day, null when suspended/halted or when the report gives no previous close (first day of listing).
--   change_pct = (close − prev_close) / prev_close × 100, null without both prices.
-- depends: silver.quotes
-- key: code, trade_date
-- scope: code, trade_date
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
-- @model
select q.code, q.trade_date, q.name, q.currency, q.status,
  q.open, q.high, q.low, q.close, q.prev_close,
  case when q.status in ('traded', 'no_trade') and q.close is not null and q.prev_close is not null and q.prev_close <> 0
       then (q.close - q.prev_close) / q.prev_close * 100 end as change_pct,
  q.volume, q.turnover,
  case
    when q.status = 'traded' and q.close is not null and q.prev_close is not null
      then q.volume * sign(q.close - q.prev_close)
    when q.status = 'no_trade' then 0
  end as directed_volume
from {{scope}} s
cross join lateral (
  select * from silver.quotes x where x.code = s.k and x.trade_date between s.lo and s.hi offset 0) q
-- @lineage
select 'quotes' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
from silver.quotes where code = $1 and trade_date = $2
group by _file_key
