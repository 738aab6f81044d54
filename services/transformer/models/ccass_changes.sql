-- model: ccass_changes
-- description: per stock, holding date and participant (participant_key = participant ID, or the
--   name for rows without one: consenting investors, ID-less intermediaries such as HKSCC): shareholding now and at the stock's previous holding date in
--   silver, the change in shares and in percentage points of the issued shares (of this date), and
--   kind = new (absent before), exited (absent now: shareholding 0), changed or unchanged. The first
--   holding date of a stock has prev_holding_date null and every participant is new.
-- depends: silver.ccass
-- engine: duckdb
-- key: code, holding_date, participant_key
-- scope: code, holding_date
-- test: unique(code, holding_date, participant_key)
-- test: not_null(code, holding_date, participant_key, participant_name, shareholding, prev_shareholding, change_shares, kind)
-- test: accepted(kind, new|exited|changed|unchanged)
-- test: expect(change_shares = shareholding - prev_shareholding)
-- test: expect(kind <> 'exited' or shareholding = 0)
-- test: expect(kind <> 'new' or prev_shareholding = 0)
-- test: expect(prev_holding_date is null or prev_holding_date < holding_date)
-- @model
with c as (
  select code, holding_date, participant_key, participant_id, participant_name, shareholding
  from cur where row_type = 'participant'
),
p as (
  -- keyed by the set it is the comparison base of
  select s.code, s.holding_date, x.participant_key, x.participant_id, x.participant_name, x.shareholding
  from prev x join sets s on s.code = x.code and s.prev_holding_date = x.holding_date
  where x.row_type = 'participant'
),
issued as (
  select code, holding_date, shareholding as issued from cur where row_type = 'issued_shares' and participant_key = ''
),
j as (
  select coalesce(c.code, p.code) as code,
    coalesce(c.holding_date, p.holding_date) as holding_date,
    coalesce(c.participant_key, p.participant_key) as participant_key,
    coalesce(c.participant_id, p.participant_id) as participant_id,
    coalesce(c.participant_name, p.participant_name, c.participant_id, p.participant_id, '') as participant_name,
    coalesce(c.shareholding, 0) as shareholding,
    coalesce(p.shareholding, 0) as prev_shareholding,
    case when p.code is null then 'new' when c.code is null then 'exited'
         when c.shareholding <> p.shareholding then 'changed' else 'unchanged' end as kind
  from c full join p on c.code = p.code and c.holding_date = p.holding_date and c.participant_key = p.participant_key
)
select sets.code, sets.holding_date, sets.prev_holding_date, j.participant_key, j.participant_id, j.participant_name,
  j.shareholding, j.prev_shareholding, j.shareholding - j.prev_shareholding as change_shares,
  case when i.issued > 0 then 100 * (j.shareholding - j.prev_shareholding) / i.issued end as change_pct_issued,
  j.kind
from j join sets using (code, holding_date) left join issued i using (code, holding_date)
-- @lineage
select 'ccass' as dataset, f.file_key, min(f.first_seq) as first_seq, max(f.last_seq) as last_seq, sum(f.rows) as rows
from silver.ccass_set_files f
where f.code = $1 and (f.holding_date = $2 or f.holding_date = (
  select max(p.holding_date) from silver.ccass_sets p where p.code = $1 and p.holding_date < $2::date))
group by f.file_key
