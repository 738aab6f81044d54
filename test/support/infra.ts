import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { inject } from 'vitest';
import { type NatsServerHandle, startNatsServer } from '../../ops/launcher/nats.ts';
import { createCalendar } from '../../services/calendar/index.ts';
import type { ObjectStore } from '../../services/object-store/index.ts';
import {
  createHealthRegistry,
  createRegistry,
  type Logger,
  type ServiceDeps,
  silentLogger,
} from '../../services/runtime/index.ts';
import { defaultSchedule, type Schedule } from '../../services/scheduler/config.ts';

/** A nats-server of this test file's own (JetStream names are global; tests kill and restart it). */
export async function startTestNats(): Promise<{
  server: NatsServerHandle;
  nc: NatsConnection;
  jsm: JetStreamManager;
  stop(): Promise<void>;
}> {
  const dataDir = await mkdtemp(join(inject('testDataDir'), 'nats-'));
  const server = await startNatsServer({ dataDir });
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const jsm = await jetstreamManager(nc);
  return {
    server,
    nc,
    jsm,
    stop: async () => {
      await nc.close().catch(() => {});
      await server.stop();
    },
  };
}

/** A new empty database on the shared test Postgres; `drop()` removes it. */
export async function freshDatabase(): Promise<{ url: string; pool: pg.Pool; drop(): Promise<void> }> {
  const base = new URL(inject('pgUrl'));
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 5 });
  // `drop()` terminates the database's sessions; idle clients report that as an error we expect.
  pool.on('error', () => {});
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: base.toString() });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}

/** A directory of this test's own under the run's temp dir. */
export async function testDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(inject('testDataDir'), `${prefix}-`));
  // Readable by the `postgres` user that embedded Postgres runs as when we are root.
  await chmod(dir, 0o755);
  return dir;
}

/**
 * Service deps for a stage under test: real NATS (and Postgres/object store when given), a fresh
 * registry and health registry, a silent logger. Fields a test does not give throw on use.
 */
export async function serviceDeps(parts: {
  nc: NatsConnection;
  pool?: pg.Pool;
  store?: ObjectStore;
  logger?: Logger;
  schedule?: Schedule;
  /** The drain deadline the host would give (`shutdown.drainTimeoutMs`); none → the lifecycle's 30 s. */
  drainTimeoutMs?: number;
}): Promise<ServiceDeps> {
  const deps = {
    nc: parts.nc,
    js: jetstream(parts.nc),
    jsm: await jetstreamManager(parts.nc),
    logger: parts.logger ?? silentLogger(),
    registry: createRegistry({ defaultMetrics: false }),
    health: createHealthRegistry(),
    calendar: createCalendar(),
    schedule: parts.schedule ?? defaultSchedule(),
    drainTimeoutMs: parts.drainTimeoutMs,
    ...(parts.pool ? { pool: parts.pool } : {}),
    ...(parts.store ? { store: parts.store } : {}),
  };
  return new Proxy(deps, {
    get(target, prop) {
      if (prop in target || typeof prop === 'symbol' || prop === 'then') return Reflect.get(target, prop);
      throw new Error(`test gave no ${String(prop)} to this service`);
    },
  }) as ServiceDeps;
}

/** Every message stored in a stream (optionally only one subject), decoded as JSON, in sequence order. */
export async function readStream<T = unknown>(
  jsm: JetStreamManager,
  stream: string,
  subject?: string,
): Promise<{ seq: number; subject: string; data: T }[]> {
  const info = await jsm.streams.info(stream);
  const out: { seq: number; subject: string; data: T }[] = [];
  if (!info.state.messages) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m && (!subject || m.subject === subject)) out.push({ seq, subject: m.subject, data: m.json<T>() });
  }
  return out;
}

/** Whether the durable consumer `name` of `stream` exists now (a condition for `until`). */
export function consumerExists(jsm: JetStreamManager, stream: string, name: string): Promise<boolean> {
  return jsm.consumers.info(stream, name).then(
    () => true,
    () => false,
  );
}

/** Polls `cond` every 100 ms until it holds, or fails naming `what`. */
export async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
