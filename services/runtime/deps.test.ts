import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, startTestNats, testDir } from '../../test/support/infra.ts';
import { connectInfra, createHealthRegistry, createLogger, createRegistry } from './index.ts';

describe('connectInfra', () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    nats = await startTestNats();
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    await nats?.stop();
  });

  it('says in one short line per connection that Postgres closed it, never a stack trace or the client object', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const infra = await connectInfra(
      {
        nats: { url: nats.server.url, name: 'deps-test' },
        postgres: { url: db.url, poolMax: 4, outageWaitMaxMs: 1000 },
        objectStore: { backend: 'fs', root: await testDir('deps-lake') },
      },
      { logger: createLogger({ destination }), registry: createRegistry(), health: createHealthRegistry() },
    );
    try {
      // Four idle connections in the pool, then the server ends them all (as a Postgres stop does).
      await Promise.all(Array.from({ length: 4 }, () => infra.pool.query('select pg_sleep(0.05)')));
      expect(infra.pool.idleCount).toBe(4);
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      const { rows } = await admin.query(
        'select pg_terminate_backend(pid) as t from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      await admin.end();
      expect(rows.length).toBe(4);
      const until = Date.now() + 5000;
      while (infra.pool.totalCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(infra.pool.totalCount).toBe(0);
      const warned = lines.filter((l) => l.includes('Postgres connection lost'));
      expect(warned.length).toBe(4);
      for (const line of warned) {
        expect(line.length).toBeLessThan(400);
        const entry = JSON.parse(line);
        expect(entry.err).not.toHaveProperty('stack');
        expect(entry.err).not.toHaveProperty('client');
        expect(entry.err.type).toBe('error');
      }
      // The pool serves the next query on a new connection.
      expect((await infra.pool.query('select 1 as n')).rows[0].n).toBe(1);
    } finally {
      await infra.close();
    }
  });
});
