import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDatabase, testDir } from '../../test/support/infra.ts';
import { FsObjectStore } from '../object-store/index.ts';
import { duckOptionsOf, mirrorTable, openDuck } from './duck.ts';

describe('Duck fork', () => {
  it('runs beside its parent on the same database: own temp tables and files, shared tables', async () => {
    const root = await testDir('duck-fork');
    const duck = await openDuck(duckOptionsOf({ duckdbTempDir: root }));
    try {
      const fork = await duck.fork();
      await duck.run('create temp table t as select 1 as v; create table shared as select 42 as v');
      await fork.run('create temp table t as select 2 as v');
      // Statements of both at once, each on its own connection.
      const slow = 'select count(*)::double as n from range(30000000) a where a.range % 7 = 0';
      const [a, b] = await Promise.all([duck.rows(slow), fork.rows(slow)]);
      expect(a).toEqual(b);
      expect(await duck.rows('select v from t')).toEqual([{ v: 1 }]);
      expect(await fork.rows('select v from t')).toEqual([{ v: 2 }]);
      expect(await fork.rows('select v from shared')).toEqual([{ v: 42 }]);
      const out = fork.scratch('x.csv');
      await fork.run(`copy (select 1) to '${out}'`);
      expect(out.startsWith(root)).toBe(true);
      await fork.close();
      // The fork's files went with it; the parent works on.
      expect(existsSync(out)).toBe(false);
      expect(await duck.rows('select v from shared')).toEqual([{ v: 42 }]);
    } finally {
      await duck.close();
    }
  });
});

describe('Duck local copies', () => {
  it('evicts the least recently used copies beyond those it keeps, never a held one until released', async () => {
    const root = await testDir('duck-copies');
    const store = new FsObjectStore({ root: join(root, 'lake') });
    const objects: { key: string; checksum: string }[] = [];
    for (let i = 0; i < 120; i++) {
      const key = `silver/ccass/date=2026-01-01/part-${i}.parquet`;
      const bytes = Buffer.from(`object ${i}`);
      await store.put(key, bytes);
      objects.push({ key, checksum: createHash('sha256').update(bytes).digest('hex') });
    }
    const duck = await openDuck(duckOptionsOf({ duckdbTempDir: join(root, 'duck') }));
    try {
      const local = (o: { key: string; checksum: string }, hold = false) =>
        duck.local(store, o.key, o.checksum, { hold });
      // 60 held (more than a Duck keeps), then 60 more not held.
      const held = [];
      for (const o of objects.slice(0, 60)) held.push(await local(o, true));
      const loose = [];
      for (const o of objects.slice(60)) loose.push(await local(o));
      expect(held.filter((p) => !existsSync(p))).toEqual([]);
      // Nothing but held copies beyond the kept ones: every loose copy but the newest went.
      expect(loose.filter((p) => existsSync(p))).toEqual([loose.at(-1)]);

      // Held twice, released once: still there. Released again: evicted by the next fetches.
      const twice = await local(objects[0]!, true);
      duck.release(held);
      expect(existsSync(twice)).toBe(true);
      for (const o of objects.slice(60, 110)) await local(o);
      expect(existsSync(twice)).toBe(true);
      duck.release([twice]);
      for (const o of objects.slice(60, 110)) await local(o);
      await local(objects[110]!);
      expect(existsSync(twice)).toBe(false);
      expect(held.filter((p) => existsSync(p))).toEqual([]);
    } finally {
      await duck.close();
    }
  });
});

describe('mirrorTable', () => {
  it('makes a DuckDB table of the Postgres column types, and refuses a type it has no match for', async () => {
    const db = await freshDatabase();
    const duck = await openDuck(duckOptionsOf({ duckdbTempDir: await testDir('duck-mirror') }));
    const client = await db.pool.connect();
    try {
      await client.query(`create schema s; create table s.t (code text, d date, v double precision, n bigint,
        i integer, b boolean, at timestamptz)`);
      await mirrorTable(client, duck, 's.t');
      const cols = await duck.rows(
        `select column_name, data_type from information_schema.columns where table_schema = 's' and table_name = 't'
         order by ordinal_position`,
      );
      expect(cols.map((c) => `${c['column_name']} ${c['data_type']}`)).toEqual([
        'code VARCHAR',
        'd DATE',
        'v DOUBLE',
        'n BIGINT',
        'i INTEGER',
        'b BOOLEAN',
        'at TIMESTAMP WITH TIME ZONE',
      ]);
      await client.query('create table s.u (code text, x numeric)');
      await expect(mirrorTable(client, duck, 's.u')).rejects.toMatchObject({
        code: 'HARBOUR_ERR_INTERNAL',
        message: expect.stringMatching(/no DuckDB type for s\.u\.x \(numeric\)/),
      });
    } finally {
      client.release();
      await duck.close();
      await db.drop();
    }
  });
});
