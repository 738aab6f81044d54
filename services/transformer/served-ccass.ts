import type pg from 'pg';
import { copyFromDuck, type Duck } from './duck.ts';

/**
 * gold.ccass_changes as Postgres serves it: one row per stock and holding date
 * (`gold.ccass_change_sets`: participant ids, shareholding now and before, as arrays) and a
 * participants dimension with integer keys (`gold.ccass_participants`), read through the view
 * `gold.ccass_changes` with exactly the columns of contracts/gold.ts. A full market's year is
 * ~640 k set rows instead of ~63 M participant rows; the full participant-by-day history is also
 * Parquet in the lake (`gold/ccass_changes/date=…/`).
 *
 * In the arrays a NULL shareholding means absent now (kind exited, shareholding 0) and a NULL
 * previous shareholding absent before (kind new); the view derives change_shares,
 * change_pct_issued (with the set's issued shares) and kind the way the model does, so it returns
 * the model's rows value for value.
 */
/** The table gold.ccass_changes is served from (one row per set, holding_date its date). */
export const SERVED_CCASS_CHANGES = 'gold.ccass_change_sets';

export const servedCcassMigration = `
  drop table gold.ccass_changes;
  create table gold.ccass_participants (
    id integer generated always as identity primary key,
    participant_key text not null,
    participant_id text,
    participant_name text not null
  );
  create unique index ccass_participants_triple
    on gold.ccass_participants (participant_key, (coalesce(participant_id, '')), participant_name);
  create table gold.ccass_change_sets (
    code text not null,
    holding_date date not null,
    prev_holding_date date,
    issued_shares double precision,
    participant integer[] not null,
    shareholding double precision[] not null,
    prev_shareholding double precision[] not null,
    primary key (code, holding_date)
  );
  create index ccass_change_sets_date on gold.ccass_change_sets (holding_date);
  -- A left join on the dimension's key: a query that reads no participant column (max(holding_date))
  -- never touches the dimension (join removal).
  create view gold.ccass_changes as
  select s.code, s.holding_date, s.prev_holding_date, p.participant_key, p.participant_id, p.participant_name,
    coalesce(u.sh, 0) as shareholding, coalesce(u.psh, 0) as prev_shareholding,
    coalesce(u.sh, 0) - coalesce(u.psh, 0) as change_shares,
    case when s.issued_shares > 0 then 100 * (coalesce(u.sh, 0) - coalesce(u.psh, 0)) / s.issued_shares end
      as change_pct_issued,
    case when u.psh is null then 'new' when u.sh is null then 'exited'
         when u.sh <> u.psh then 'changed' else 'unchanged' end as kind
  from gold.ccass_change_sets s
  cross join lateral unnest(s.participant, s.shareholding, s.prev_shareholding) as u (pid, sh, psh)
  left join gold.ccass_participants p on p.id = u.pid;`;

/**
 * Replaces the served sets of the dates `xs` with the rows of `rows`, a DuckDB table with the
 * model's columns (every set of those dates must be in it), in the caller's transaction: the
 * participants get their dimension ids, DuckDB folds each set's rows into its arrays (Postgres
 * array literals, ordered by participant_key; NULL = absent now / before), each set takes its
 * issued shares from `issued` (a DuckDB relation of code, holding_date, issued_shares) and they are
 * COPYed in. Returns participant rows deleted and written.
 */
export async function serveCcassChangeSets(
  client: pg.PoolClient,
  duck: Duck,
  rows: string,
  issued: string,
  xs: readonly string[],
): Promise<{ deleted: number; written: number }> {
  const triples = await duck.rows(
    `select distinct participant_key, participant_id, participant_name from ${rows}`,
  );
  const ids = await participantIds(client, triples);
  await duck.table(
    'dim',
    { id: 'integer', participant_key: 'varchar', participant_id: 'varchar', participant_name: 'varchar' },
    ids,
  );
  // One list per set in participant order, written as Postgres array literals. The list is sorted
  // after it is built (structs compare by their first field, the set's unique participant_key): with
  // an ordered aggregate this step took ~220 ms for a full-market day, sorted after ~135 ms.
  const arr = (field: string) =>
    `'{' || array_to_string(list_transform(l, p -> coalesce(p.${field}::varchar, 'NULL')), ',') || '}'`;
  const deleted = await dropServedSets(client, xs);
  await copyFromDuck(
    client,
    duck,
    `select code, holding_date, prev_holding_date, issued_shares, ${arr('id')}, ${arr('now')}, ${arr('before')}
     from (
       select g.code, g.holding_date, max(g.prev_holding_date) as prev_holding_date,
         max(i.issued_shares) as issued_shares,
         list_sort(list({'key': g.participant_key, 'id': d.id,
               'now': case when g.kind <> 'exited' then g.shareholding end,
               'before': case when g.kind <> 'new' then g.prev_shareholding end})) as l
       from ${rows} g
       join dim d on d.participant_key = g.participant_key and d.participant_name = g.participant_name
         and coalesce(d.participant_id, '') = coalesce(g.participant_id, '')
       left join ${issued} i on i.code = g.code and i.holding_date = g.holding_date
       group by g.code, g.holding_date)`,
    SERVED_CCASS_CHANGES,
    [
      'code',
      'holding_date',
      'prev_holding_date',
      'issued_shares',
      'participant',
      'shareholding',
      'prev_shareholding',
    ],
  );
  const [{ n } = { n: 0 }] = await duck.rows(`select count(*)::double as n from ${rows}`);
  return { deleted, written: Number(n) };
}

/** Deletes the served sets of `dates`; returns the participant rows they held. */
export async function dropServedSets(client: pg.PoolClient, dates: readonly string[]): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `with d as (delete from ${SERVED_CCASS_CHANGES} where holding_date = any($1::date[]) returning participant)
     select coalesce(sum(cardinality(participant)), 0)::float8 as n from d`,
    [dates],
  );
  return rows[0]?.n ?? 0;
}

export interface ParticipantTriple {
  participant_key: string;
  participant_id: string | null;
  participant_name: string;
}

/** Dimension ids of the given participants, adding those it lacks (in the caller's transaction). */
export async function participantIds(
  client: pg.PoolClient,
  triples: readonly Record<string, unknown>[],
): Promise<(ParticipantTriple & { id: number })[]> {
  // One statement: the join sees the dimension as it was, `ins` returns the rows it adds.
  const { rows } = await client.query<ParticipantTriple & { id: number }>(
    `with x as (
       select * from jsonb_to_recordset($1::jsonb) as x(participant_key text, participant_id text, participant_name text)
     ),
     ins as (
       insert into gold.ccass_participants (participant_key, participant_id, participant_name)
       select participant_key, participant_id, participant_name from x
       on conflict (participant_key, (coalesce(participant_id, '')), participant_name) do nothing
       returning id, participant_key, participant_id, participant_name
     )
     select p.id, p.participant_key, p.participant_id, p.participant_name from x
     join gold.ccass_participants p on p.participant_key = x.participant_key
       and coalesce(p.participant_id, '') = coalesce(x.participant_id, '') and p.participant_name = x.participant_name
     union all
     select id, participant_key, participant_id, participant_name from ins`,
    [JSON.stringify(triples)],
  );
  return rows;
}
