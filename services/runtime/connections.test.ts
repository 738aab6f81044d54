import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, startTestNats, testDir, until } from '../../test/support/infra.ts';
import { captureLog } from '../../test/support/log-capture.ts';
import { connectInfra } from './deps.ts';
import { dispositionFor } from './disposition.ts';
import { createHealthRegistry } from './health.ts';
import { createRegistry } from './metrics.ts';
import { retryTransient, withTransaction } from './pg.ts';

describe('connections survive Postgres and NATS outages', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let infra: Awaited<ReturnType<typeof connectInfra>>;
  const log = captureLog();
  const registry = createRegistry({ defaultMetrics: false });

  beforeAll(async () => {
    db = await freshDatabase();
    nats = await startTestNats();
    infra = await connectInfra(
      {
        nats: { url: nats.server.url, name: 'connections-test' },
        postgres: { url: db.url, poolMax: 3, outageWaitMaxMs: 10_000 },
        objectStore: { backend: 'fs', root: await testDir('connections-lake') },
      },
      { logger: log.logger, registry, health: createHealthRegistry() },
    );
  });
  afterAll(async () => {
    await infra?.close();
    await nats?.stop();
    await db?.drop();
  });

  const killSessions = async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    // The same FATAL 57P01 every session gets from `pg_ctl stop -m fast`.
    const { rowCount } = await admin.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    await admin.end();
    return rowCount ?? 0;
  };
  const metricValue = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;

  it('a checked-out client that loses its connection fails the work in hand, not the process', async () => {
    let inTx!: () => void;
    const entered = new Promise<void>((r) => {
      inTx = r;
    });
    const work = withTransaction(infra.pool, async (client) => {
      await client.query('select 1');
      inTx();
      await client.query('select pg_sleep(10)');
    }).catch((e: unknown) => e);
    await entered;
    // While the transaction is in hand, plus an idle client in the pool.
    await infra.pool.query('select 1');
    expect(await killSessions()).toBeGreaterThanOrEqual(1);
    const err = (await work) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('57P01');
    // The pool drops the dead clients (the idle one when its server's FATAL arrives, which under
    // load can come after this line) and serves the next query on a new connection.
    await until(async () => infra.pool.idleCount === 0, 5_000, 'the pool to drop its dead idle client');
    expect((await infra.pool.query('select 42 as n')).rows[0].n).toBe(42);
    await until(
      async () => (await metricValue('harbour_postgres_connection_errors_total')) >= 1,
      5_000,
      'metric',
    );
    const lost = log.raw.filter((l) => l.includes('Postgres connection lost'));
    expect(lost.length).toBeGreaterThanOrEqual(1);
    // One short line per lost client with code and message, never the pg Client object. The idle
    // client sees its socket close; the one in hand gets the server's FATAL 57P01.
    expect(lost.length).toBeLessThanOrEqual(2);
    for (const line of lost) {
      expect(line.length).toBeLessThan(400);
      expect(Object.keys(JSON.parse(line).err).sort()).toEqual(
        line.includes('"code"') ? ['code', 'message', 'type'] : ['message', 'type'],
      );
    }
    expect(lost.map((l) => JSON.parse(l).err)).toContainEqual({
      type: 'error',
      code: '57P01',
      message: 'terminating connection due to administrator command',
    });
  });

  it('an error logged with { err } keeps type, code, message and stack, never the attached pg client', async () => {
    const { raw, logger } = captureLog();
    const client = await infra.pool.connect();
    const err = Object.assign(new Error('Connection terminated unexpectedly'), {
      code: 'ECONNRESET',
      client,
    });
    logger.warn({ err }, 'idle Postgres client failed');
    client.release();
    const line = JSON.parse(raw[0]!);
    expect(Object.keys(line.err).sort()).toEqual(['code', 'message', 'stack', 'type']);
    expect(line.err).toMatchObject({
      type: 'Error',
      code: 'ECONNRESET',
      message: 'Connection terminated unexpectedly',
    });
    // pino's own serialiser would have written the client (connection parameters, socket state: KBs).
    expect(raw[0]!.length).toBeLessThan(2_000);
  });

  it('retryTransient waits out a lost connection and returns the result', async () => {
    let calls = 0;
    const out = await retryTransient(
      async () => {
        calls += 1;
        if (calls === 1) {
          const c = await infra.pool.connect();
          try {
            const q = c.query('select pg_sleep(10)').catch((e: unknown) => e);
            await killSessions();
            throw await q;
          } finally {
            c.release();
          }
        }
        return (await infra.pool.query('select 7 as n')).rows[0].n as number;
      },
      { logger: log.logger, what: 'test', maxOutageMs: 10_000 },
    );
    expect(out).toBe(7);
    expect(calls).toBe(2);
    // A non-transient error is thrown at once.
    const err = await retryTransient(() => infra.pool.query('select * from no_such_table'), {
      logger: log.logger,
      what: 'test',
      maxOutageMs: 10_000,
    }).catch((e) => e);
    expect(err.code).toBe('42P01');
  });

  it('a message that failed on a lost Postgres connection is retried past maxAttempts, never dead-lettered', async () => {
    const lost = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    expect(dispositionFor(lost, 50, 5, 1000)).toMatchObject({ kind: 'retry' });
    expect((dispositionFor(lost, 50, 5, 1000) as { delayMs: number }).delayMs).toBeLessThanOrEqual(60_000);
    // Anything else still ends in the DLQ after maxAttempts.
    expect(dispositionFor(new Error('boom'), 5, 5, 1000)).toMatchObject({ kind: 'dlq' });
  });

  it('a nats-server kill and restart is logged once each way, counted, and survived', async () => {
    const before = log.raw.length;
    await nats.server.kill();
    await until(
      async () => (await metricValue('harbour_nats_disconnects_total')) === 1,
      10_000,
      'disconnect',
    );
    await new Promise((r) => setTimeout(r, 1_500)); // several reconnect attempts while it is down
    await nats.server.start();
    await until(async () => (await metricValue('harbour_nats_reconnects_total')) === 1, 15_000, 'reconnect');
    const lines = log.raw.slice(before).map((l) => JSON.parse(l).msg as string);
    expect(lines.filter((m) => m === 'NATS disconnected, reconnecting')).toHaveLength(1);
    expect(lines.filter((m) => m === 'NATS reconnected')).toHaveLength(1);
    // The connection works again: a JetStream request answers.
    expect((await infra.jsm.getAccountInfo()).streams).toBeGreaterThanOrEqual(0);
  });
});
