-- model: dq_freshness
-- description: per dataset with data: latest_as_of = its latest business date in silver (quotes:
--   trade_date, ccass: holding_date, fundamentals / securities: as_of); loaded_at = when the data of
--   that date was fetched from the source (latest _fetched_at of its rows: a property of the data,
--   so a rebuild gives the same value); lag_seconds = loaded_at − the start (00:00 Hong Kong time) of
--   latest_as_of. Staleness "now" is now() − loaded_at, computed by the reader (Grafana, monitor).
-- depends: silver.securities, silver.quotes, silver.fundamentals, silver.ccass
-- key: dataset
-- scope: dataset
-- test: unique(dataset)
-- test: not_null(dataset, latest_as_of, loaded_at)
-- test: accepted(dataset, securities|quotes|fundamentals|ccass)
-- @scope
select 'securities' as k, '-infinity'::date as lo, 'infinity'::date as hi where exists (select 1 from {{changed:silver.securities}})
union all
select 'quotes', '-infinity', 'infinity' where exists (select 1 from {{changed:silver.quotes}})
union all
select 'fundamentals', '-infinity', 'infinity' where exists (select 1 from {{changed:silver.fundamentals}})
union all
select 'ccass', '-infinity', 'infinity' where exists (select 1 from {{changed:silver.ccass}})
-- @model
with latest as (
  select 'securities' as dataset, d.latest,
    (select max(x._fetched_at) from silver.securities x where x.as_of = d.latest) as loaded_at
  from (select max(as_of) as latest from silver.securities) d
  union all
  select 'quotes', d.latest, (select max(x._fetched_at) from silver.quotes x where x.trade_date = d.latest)
  from (select max(trade_date) as latest from silver.quotes) d
  union all
  select 'fundamentals', d.latest, (select max(x._fetched_at) from silver.fundamentals x where x.as_of = d.latest)
  from (select max(as_of) as latest from silver.fundamentals) d
  union all
  select 'ccass', d.latest, (select max(x.fetched_at) from silver.ccass_sets x where x.holding_date = d.latest)
  from (select max(holding_date) as latest from silver.ccass_sets) d
)
select dataset, latest as latest_as_of, loaded_at,
  extract(epoch from loaded_at - (latest::timestamp at time zone 'Asia/Hong_Kong'))::double precision as lag_seconds
from latest where latest is not null
-- @lineage
select dataset, file_key, first_seq, last_seq, rows from (
  select 'securities' as dataset, _file_key as file_key, min(_seq) as first_seq, max(_seq) as last_seq, count(*) as rows
  from silver.securities where $1 = 'securities' and as_of = (select max(as_of) from silver.securities) group by _file_key
  union all
  select 'quotes', _file_key, min(_seq), max(_seq), count(*)
  from silver.quotes where $1 = 'quotes' and trade_date = (select max(trade_date) from silver.quotes) group by _file_key
  union all
  select 'fundamentals', _file_key, min(_seq), max(_seq), count(*)
  from silver.fundamentals where $1 = 'fundamentals' and as_of = (select max(as_of) from silver.fundamentals) group by _file_key
  union all
  select 'ccass', file_key, min(first_seq), max(last_seq), sum(rows)
  from silver.ccass_set_files
  where $1 = 'ccass' and holding_date = (select max(holding_date) from silver.ccass_sets) group by file_key
) x where $2::date is null or $2::date is not null
