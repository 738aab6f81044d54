import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type Static, Type } from '@sinclair/typebox';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TradingCalendar } from '../calendar/index.ts';
import { createObjectStore, type ObjectStore, ObjectStoreConfig } from '../object-store/index.ts';
import type { HealthRegistry } from './health.ts';

/** Connections every service shares; one set per process. */
export const InfraConfig = Type.Object(
  {
    nats: Type.Object(
      {
        url: Type.String({
          default: 'nats://127.0.0.1:4222',
          description: 'NATS server URL(s), comma-separated',
        }),
        name: Type.String({
          default: 'harbour',
          description: 'NATS connection name (shows in server monitoring)',
        }),
      },
      { default: {} },
    ),
    postgres: Type.Object(
      {
        url: Type.String({
          default: 'postgres://harbour:harbour@127.0.0.1:5432/harbour',
          description: 'Postgres URL of the catalog, silver and gold tables',
        }),
        poolMax: Type.Integer({ minimum: 1, default: 10, description: 'Postgres pool size per process' }),
      },
      { default: {} },
    ),
    objectStore: ObjectStoreConfig,
  },
  { default: {} },
);
export type InfraConfig = Static<typeof InfraConfig>;

export interface ServiceDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: pg.Pool;
  store: ObjectStore;
  logger: Logger;
  registry: Registry;
  health: HealthRegistry;
  /**
   * The trading calendar of the `market` setting (the host and the CLI build it from the config);
   * a stage given none uses the default Hong Kong calendar.
   */
  calendar?: TradingCalendar;
}

/**
 * Opens NATS (reconnecting forever), a Postgres pool and the object store, and registers their
 * health checks. `close()` closes them in reverse order.
 */
export async function connectInfra(
  cfg: InfraConfig,
  base: { logger: Logger; registry: Registry; health: HealthRegistry },
): Promise<ServiceDeps & { close(): Promise<void> }> {
  const nc = await connect({
    servers: cfg.nats.url.split(',').map((s) => s.trim()),
    name: cfg.nats.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const pool = new pg.Pool({ connectionString: cfg.postgres.url, max: cfg.postgres.poolMax });
  // Postgres stopping ends every idle connection at once; one short line per outage (not a stack
  // trace and the client's whole state per connection) says it. A new connection re-arms it.
  let idleLossLogged = false;
  pool.on('connect', () => {
    idleLossLogged = false;
  });
  pool.on('error', (err: Error & { code?: string }) => {
    if (idleLossLogged) return;
    idleLossLogged = true;
    base.logger.warn(
      { postgres: postgresHost(cfg.postgres.url), code: err.code, reason: err.message },
      'idle Postgres connections closed by the server',
    );
  });
  const store = createObjectStore(cfg.objectStore);
  base.health.add('nats', () => ({ ok: !nc.isClosed() && nc.info !== undefined, detail: nc.getServer() }));
  base.health.add('postgres', async () => {
    await pool.query('select 1');
    return { ok: true };
  });
  return {
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    pool,
    store,
    ...base,
    close: async () => {
      await store.close();
      await pool.end();
      await nc.drain().catch(() => nc.close());
    },
  };
}

/** `host:port` of a Postgres URL, without credentials (for logs). */
function postgresHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}`;
  } catch {
    return '(unparseable HARBOUR_POSTGRES_URL)';
  }
}
