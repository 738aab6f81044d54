-- model: ccass_changes
-- description: per stock, holding date and participant (participant_key = participant ID, or the
--   name for rows without one: consenting investors, ID-less intermediaries such as HKSCC): shareholding now and at the stock's previous holding date in
--   silver, the change in shares and in percentage points of the issued shares (of this date), and
--   kind = new (absent before), exited (absent now: shareholding 0), changed or unchanged. The first
--   holding date of a stock has prev_holding_date null and every participant is new.
-- depends: silver.ccass
-- key: code, holding_date, participant_key
-- scope: code, holding_date
-- test: unique(code, holding_date, participant_key)
-- test: not_null(code, holding_date, participant_key, participant_name, shareholding, prev_shareholding, change_shares, kind)
-- test: accepted(kind, new|exited|changed|unchanged)
-- test: expect(change_shares = shareholding - prev_shareholding)
-- test: expect(kind <> 'exited' or shareholding = 0)
-- test: expect(kind <> 'new' or prev_shareholding = 0)
-- test: expect(prev_holding_date is null or prev_holding_date < holding_date)
-- @scope
-- a set also changes the next holding date's comparison
select s.k, s.lo, coalesce((
  select min(n.holding_date) from silver.ccass_sets n where n.code = s.k and n.holding_date > s.hi), s.hi)
from {{changed:silver.ccass}} s
-- @model
with d as (
  select cs.code, cs.holding_date, (
    select max(p.holding_date) from silver.ccass_sets p
    where p.code = cs.code and p.holding_date < cs.holding_date) as prev
  from {{scope}} s
  cross join lateral (
    select x.code, x.holding_date from silver.ccass_sets x
    where x.code = s.k and x.holding_date between s.lo and s.hi offset 0) cs
),
cur as (
  select d.code, d.holding_date, d.prev, c.participant_key, c.participant_id, c.participant_name, c.shareholding
  from d cross join lateral (
    select * from silver.ccass x
    where x.code = d.code and x.holding_date = d.holding_date and x.row_type = 'participant' offset 0) c
),
old as (
  select d.code, d.holding_date, d.prev, c.participant_key, c.participant_id, c.participant_name, c.shareholding
  from d cross join lateral (
    select * from silver.ccass x
    where x.code = d.code and x.holding_date = d.prev and x.row_type = 'participant' offset 0) c
),
issued as (
  select d.code, d.holding_date, c.shareholding as issued
  from d cross join lateral (
    select x.shareholding from silver.ccass x
    where x.code = d.code and x.holding_date = d.holding_date and x.row_type = 'issued_shares'
      and x.participant_key = '' offset 0) c
),
j as (
  select coalesce(cur.code, old.code) as code, coalesce(cur.holding_date, old.holding_date) as holding_date,
    coalesce(cur.prev, old.prev) as prev_holding_date,
    coalesce(cur.participant_key, old.participant_key) as participant_key,
    coalesce(cur.participant_id, old.participant_id) as participant_id,
    coalesce(cur.participant_name, old.participant_name, cur.participant_id, old.participant_id, '') as participant_name,
    coalesce(cur.shareholding, 0) as shareholding,
    coalesce(old.shareholding, 0) as prev_shareholding,
    case when old.code is null then 'new' when cur.code is null then 'exited'
         when cur.shareholding <> old.shareholding then 'changed' else 'unchanged' end as kind
  from cur full join old
    on cur.code = old.code and cur.holding_date = old.holding_date and cur.participant_key = old.participant_key
)
select j.code, j.holding_date, j.prev_holding_date, j.participant_key, j.participant_id, j.participant_name,
  j.shareholding, j.prev_shareholding, j.shareholding - j.prev_shareholding as change_shares,
  case when i.issued > 0 then 100 * (j.shareholding - j.prev_shareholding) / i.issued end as change_pct_issued,
  j.kind
from j left join issued i on i.code = j.code and i.holding_date = j.holding_date
-- @lineage
select 'ccass' as dataset, c._file_key as file_key, min(c._seq) as first_seq, max(c._seq) as last_seq, count(*) as rows
from silver.ccass c
where c.code = $1 and (c.holding_date = $2 or c.holding_date = (
  select max(p.holding_date) from silver.ccass_sets p where p.code = $1 and p.holding_date < $2::date))
group by c._file_key
