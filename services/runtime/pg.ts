import type pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { backoffMs } from './backoff.ts';
import { briefError } from './logger.ts';
import { counter } from './metrics.ts';
import { sleep } from './service.ts';

/** Runs `fn` in one transaction: commit when it resolves, rollback when it throws. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Gives every client of `pool` an 'error' listener for its whole life. pg-pool listens only while a
 * client is idle, so a connection lost while checked out (57P01 on a Postgres restart, ECONNRESET)
 * emitted an unhandled 'error' and ended the process. Now the query in hand fails (its caller
 * retries as usual), the pool drops the dead client on release, and the loss is logged once per
 * client as one line with code and message (pg-pool attaches the client object to the error, which
 * pino would otherwise serialise, several KB) and counted in `harbour_postgres_connection_errors_total`.
 */
export function guardPool(pool: pg.Pool, logger: Logger, registry?: Registry): pg.Pool {
  const errors = registry
    ? counter(
        registry,
        'harbour_postgres_connection_errors_total',
        'Postgres connections lost (server restart, network); the work in hand is retried',
      )
    : undefined;
  pool.on('connect', (client) => {
    let reported = false;
    client.on('error', (err) => {
      if (reported) return;
      reported = true;
      errors?.inc();
      logger.warn({ err: briefError(err) }, 'Postgres connection lost');
    });
  });
  // Idle clients: pg-pool re-emits their error here; the client's own listener above logged it.
  pool.on('error', () => {});
  return pool;
}

const TRANSIENT_CODES = new Set([
  '57P01', // admin_shutdown: terminating connection due to administrator command
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the database system is starting up / shutting down
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * True for errors a Postgres restart or a network blip causes: the same request may succeed once
 * the server is back. Connection-class SQLSTATEs (08…) count too.
 */
export function isTransientPgError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (TRANSIENT_CODES.has(code) || code.startsWith('08')) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  );
}

/**
 * Runs `fn`, retrying it while it fails with a transient Postgres error (jittered back-off from
 * 250 ms up to 5 s), for at most `maxOutageMs` of consecutive failures; any other error, or an outage
 * longer than that, is thrown. `fn` must be safe to repeat (a read, or an idempotent write).
 */
export async function retryTransient<T>(
  fn: () => Promise<T>,
  opts: { logger: Logger; what: string; maxOutageMs: number; signal?: AbortSignal },
): Promise<T> {
  const started = Date.now();
  let announced = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await fn();
      if (announced) opts.logger.info({ what: opts.what, outageMs: Date.now() - started }, 'Postgres back');
      return out;
    } catch (err) {
      if (!isTransientPgError(err) || Date.now() - started > opts.maxOutageMs || opts.signal?.aborted)
        throw err;
      if (!announced) {
        announced = true;
        opts.logger.warn({ what: opts.what, err: briefError(err) }, 'Postgres unavailable, retrying');
      }
      await sleep(backoffMs(attempt, 250, 5000));
    }
  }
}
