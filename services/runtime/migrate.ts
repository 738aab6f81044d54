import type pg from 'pg';

/** One schema change; `id` orders them and never changes once released. */
export interface Migration {
  id: string;
  sql: string;
}

/**
 * Applies each owner's migrations once, in order, under one advisory lock (several processes may
 * start at the same time). Applied ids are recorded in `harbour_migrations`.
 */
export async function migrate(
  pool: pg.Pool,
  owner: string,
  migrations: readonly Migration[],
): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', ['harbour-migrate']);
    await client.query(
      `create table if not exists harbour_migrations (
         owner text not null, id text not null, applied_at timestamptz not null default now(),
         primary key (owner, id))`,
    );
    const { rows } = await client.query<{ id: string }>(
      'select id from harbour_migrations where owner = $1',
      [owner],
    );
    const done = new Set(rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      await client.query('begin');
      try {
        await client.query(m.sql);
        await client.query('insert into harbour_migrations (owner, id) values ($1, $2)', [owner, m.id]);
        await client.query('commit');
        applied.push(m.id);
      } catch (err) {
        await client.query('rollback');
        throw err;
      }
    }
    return applied;
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', ['harbour-migrate']).catch(() => {});
    client.release();
  }
}
