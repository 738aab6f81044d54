-- model: ccass_concentration
-- description: per stock and holding date (one CCASS set): participants = participant rows
--   (market intermediaries + consenting investors listed by name); top5_pct / top10_pct = the 5 / 10
--   largest participant holdings as % of issued shares; intermediaries / consenting / non-consenting
--   % = the page's summary lines' shareholdings as % of issued shares. Percentages are null when the
--   issued shares are unknown or zero.
-- depends: silver.ccass
-- engine: duckdb
-- key: code, holding_date
-- scope: code, holding_date
-- test: unique(code, holding_date)
-- test: not_null(code, holding_date, participants)
-- test: range(participants, 0, )
-- test: range(top5_pct, 0, 100)
-- test: range(top10_pct, 0, 100)
-- test: expect(top5_pct is null or top5_pct <= top10_pct)
-- test[warn]: range(intermediaries_pct, 0, 100)
-- test[warn]: range(consenting_pct, 0, 100)
-- test[warn]: range(non_consenting_pct, 0, 100)
-- @model
with ranked as (
  select code, holding_date, shareholding,
    row_number() over (partition by code, holding_date order by shareholding desc) as rn
  from cur where row_type = 'participant'
),
top as (
  select code, holding_date, count(*) as n,
    sum(shareholding) filter (where rn <= 5) as top5,
    sum(shareholding) filter (where rn <= 10) as top10
  from ranked group by code, holding_date
),
summary as (
  select code, holding_date,
    max(shareholding) filter (where row_type = 'issued_shares') as issued,
    max(shareholding) filter (where row_type = 'intermediaries') as intermediaries,
    max(shareholding) filter (where row_type = 'consenting') as consenting,
    max(shareholding) filter (where row_type = 'non_consenting') as non_consenting
  from cur where row_type <> 'participant' group by code, holding_date
)
select sets.code, sets.holding_date, sm.issued as issued_shares,
  coalesce(t.n, 0)::integer as participants,
  case when sm.issued > 0 then 100 * coalesce(t.top5, 0) / sm.issued end as top5_pct,
  case when sm.issued > 0 then 100 * coalesce(t.top10, 0) / sm.issued end as top10_pct,
  case when sm.issued > 0 then 100 * sm.intermediaries / sm.issued end as intermediaries_pct,
  case when sm.issued > 0 then 100 * sm.consenting / sm.issued end as consenting_pct,
  case when sm.issued > 0 then 100 * sm.non_consenting / sm.issued end as non_consenting_pct
from sets
left join top t using (code, holding_date)
left join summary sm using (code, holding_date)
-- @lineage
select 'ccass' as dataset, file_key, min(first_seq) as first_seq, max(last_seq) as last_seq, sum(rows) as rows
from silver.ccass_set_files where code = $1 and holding_date = $2
group by file_key
