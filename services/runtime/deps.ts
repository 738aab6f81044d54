import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type Static, Type } from '@sinclair/typebox';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TradingCalendar } from '../calendar/index.ts';
import { createObjectStore, type ObjectStore, ObjectStoreConfig } from '../object-store/index.ts';
import type { Schedule } from '../scheduler/config.ts';
import type { HealthRegistry } from './health.ts';
import { briefError } from './logger.ts';
import { counter } from './metrics.ts';
import { guardPool } from './pg.ts';

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
        outageWaitMaxMs: Type.Integer({
          minimum: 0,
          default: 120_000,
          description:
            'commands that wait on the pipeline (harbour backfill, scrape, rebuild, lake ls) retry through a Postgres outage (restart, lost connection) this long, with back-off, before failing',
        }),
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
  /**
   * The scheduler section's jobs and time zone (the host passes them to every stage, so they are
   * configured once); a stage given none uses the scheduler's defaults.
   */
  schedule?: Schedule;
  /**
   * Each service's drain deadline: the host's `shutdown.drainTimeoutMs`, so one setting bounds
   * every drain (a service started without it uses `createLifecycle`'s 30 s).
   */
  drainTimeoutMs?: number;
}

/**
 * Opens NATS (reconnecting forever; see `watchNats`), a Postgres pool and the object store, and registers their
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
  watchNats(nc, base.logger, base.registry);
  const pool = guardPool(
    new pg.Pool({ connectionString: cfg.postgres.url, max: cfg.postgres.poolMax }),
    base.logger,
    base.registry,
  );
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

/**
 * Logs each NATS disconnect and reconnect as one line and counts them
 * (`harbour_nats_disconnects_total`, `harbour_nats_reconnects_total`). The connection retries
 * forever (`maxReconnectAttempts: -1`), so a nats-server restart is survived; JetStream consumers
 * resume where their server-side state left off. The per-attempt 'reconnecting' events are not
 * logged (one every `reconnectTimeWait` while the server is down).
 */
function watchNats(nc: NatsConnection, logger: Logger, registry: Registry): void {
  const disconnects = counter(registry, 'harbour_nats_disconnects_total', 'NATS connection lost');
  const reconnects = counter(registry, 'harbour_nats_reconnects_total', 'NATS connection re-established');
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        disconnects.inc();
        logger.warn({ server: s.server }, 'NATS disconnected, reconnecting');
      } else if (s.type === 'reconnect') {
        reconnects.inc();
        logger.info({ server: s.server }, 'NATS reconnected');
      } else if (s.type === 'error') {
        logger.warn({ err: briefError(s.error) }, 'NATS server error');
      }
    }
  })().catch(() => {});
}
