-- model: dq_row_counts
-- description: per dataset and business date with rows in silver: rows, expected and rows ÷ expected.
--   quotes and fundamentals: rows = stocks of that date, expected = the securities in the latest List
--   of Securities on or before that date (all its lines; fundamentals are scraped for a watch list or
--   the CCASS stock list, so their ratio is below 1 by design when that list is shorter).
--   ccass: rows = participant rows of that holding date over all stocks, expected = the participant
--   counts the pages' own summaries promise (market intermediaries + consenting investors): 1 when
--   every page was complete. securities: rows = lines of that day's list, expected null (it is the
--   reference). A missing day has no row here; dq_freshness shows it.
-- depends: silver.securities, silver.quotes, silver.fundamentals, silver.ccass
-- key: dataset, as_of
-- scope: dataset, as_of
-- test: unique(dataset, as_of)
-- test: not_null(dataset, as_of, rows)
-- test: accepted(dataset, securities|quotes|fundamentals|ccass)
-- test: range(rows, 0, )
-- test[warn]: range(ratio, 0, 1.5)
-- @scope
select 'quotes' as k, min(lo) as lo, max(hi) as hi from {{changed:silver.quotes}} having count(*) > 0
union all
select 'fundamentals', min(lo), max(hi) from {{changed:silver.fundamentals}} having count(*) > 0
union all
select 'ccass', min(lo), max(hi) from {{changed:silver.ccass}} having count(*) > 0
union all
select 'securities', min(lo), max(hi) from {{changed:silver.securities}} having count(*) > 0
union all
-- a new list changes the expected counts of every later date
select 'quotes', min(lo), 'infinity' from {{changed:silver.securities}} having count(*) > 0
union all
select 'fundamentals', min(lo), 'infinity' from {{changed:silver.securities}} having count(*) > 0
-- @model
-- every read goes through a date index (ccass: the sets' own counts, silver.ccass_sets)
with counts as (
  select 'quotes' as dataset, q.trade_date as as_of, count(*) as n, null::bigint as promised
  from {{scope}} s cross join lateral (
    select x.trade_date from silver.quotes x where s.k = 'quotes' and x.trade_date between s.lo and s.hi offset 0) q
  group by q.trade_date
  union all
  select 'fundamentals', f.as_of, count(*), null
  from {{scope}} s cross join lateral (
    select x.as_of from silver.fundamentals x where s.k = 'fundamentals' and x.as_of between s.lo and s.hi offset 0) f
  group by f.as_of
  union all
  select 'ccass', cs.holding_date, sum(cs.participant_rows), sum(cs.promised)
  from {{scope}} s
  cross join lateral (
    select x.holding_date, x.participant_rows, x.promised from silver.ccass_sets x
    where s.k = 'ccass' and x.holding_date between s.lo and s.hi offset 0) cs
  group by cs.holding_date
  union all
  select 'securities', l.as_of, count(*), null
  from {{scope}} s cross join lateral (
    select x.as_of from silver.securities x where s.k = 'securities' and x.as_of between s.lo and s.hi offset 0) l
  group by l.as_of
),
expected as (
  select c.dataset, c.as_of, c.n,
    case
      when c.dataset = 'ccass' then c.promised
      when c.dataset in ('quotes', 'fundamentals') then (
        select nullif(count(*), 0) from silver.securities l
        where l.as_of = (select max(m.as_of) from silver.securities m where m.as_of <= c.as_of))
    end as expected
  from counts c
)
select dataset, as_of, n::int as rows, expected::int as expected,
  case when expected > 0 then n::double precision / expected end as ratio
from expected
-- @lineage
select dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows from (
  select 'quotes' as dataset, _file_key, _seq from silver.quotes where $1 = 'quotes' and trade_date = $2
  union all select 'fundamentals', _file_key, _seq from silver.fundamentals where $1 = 'fundamentals' and as_of = $2
  union all select 'securities', _file_key, _seq from silver.securities where $1 = 'securities' and as_of = $2
) x group by dataset, _file_key
union all
select 'ccass', file_key, min(first_seq), max(last_seq), sum(rows)
from silver.ccass_set_files where $1 = 'ccass' and holding_date = $2 group by file_key
