import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HarbourConfig, harbourConfigSchema, startHost } from '../services/host.ts';
import {
  createLifecycle,
  defineService,
  loadConfig,
  type ServiceDefinition,
  silentLogger,
  sleep,
} from '../services/runtime/index.ts';
import { freshDatabase, startTestNats, testDir } from './support/infra.ts';

/**
 * One shutdown policy: the host gives every service `shutdown.drainTimeoutMs` to drain, then each
 * service runs its own forced close within `shutdown.forceGraceMs`, all inside the host's deadline.
 * Real NATS and Postgres: the host connects to them as `npm start` does.
 */
describe('host shutdown policy', { timeout: 60_000 }, () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let dir: string;
  beforeAll(async () => {
    nats = await startTestNats();
    db = await freshDatabase();
    dir = await testDir('shutdown');
  });
  afterAll(async () => {
    await db?.drop();
    await nats?.stop();
  });

  /** A service whose drain takes `drainMs` and whose forced close takes `forceMs`; it records both. */
  const slow = (name: string, drainMs: number, forceMs: number, events: string[]): ServiceDefinition =>
    defineService({
      name,
      description: 'test service',
      config: Type.Object({}, { default: {} }),
      start: async (_config, deps) =>
        createLifecycle({
          name,
          logger: deps.logger,
          drainTimeoutMs: deps.drainTimeoutMs,
          drain: async () => {
            await sleep(drainMs);
            events.push(`${name} drained`);
          },
          force: async () => {
            await sleep(forceMs);
            events.push(`${name} forced`);
          },
        }),
    });

  const config = (definitions: ServiceDefinition[], drainTimeoutMs: number, forceGraceMs: number) =>
    loadConfig(harbourConfigSchema(definitions), {
      env: {
        HARBOUR_NATS_URL: nats.server.url,
        HARBOUR_POSTGRES_URL: db.url,
        HARBOUR_OBJECT_STORE_ROOT: join(dir, 'lake'),
        HARBOUR_OPS_PORT: '0',
        HARBOUR_SHUTDOWN_DRAIN_TIMEOUT_MS: String(drainTimeoutMs),
        HARBOUR_SHUTDOWN_FORCE_GRACE_MS: String(forceGraceMs),
      },
    }) as HarbourConfig;

  it('gives each service its drain deadline and runs its own forced close before the connections go', async () => {
    const events: string[] = [];
    // `quick` drains in time; `stuck` needs 20 s, longer than the 300 ms deadline, and forces in 200 ms.
    const defs = [slow('quick', 10, 0, events), slow('stuck', 20_000, 200, events)];
    const host = await startHost(config(defs, 300, 2_000), { definitions: defs, logger: silentLogger() });
    const t0 = Date.now();
    await host.close();
    const took = Date.now() - t0;
    expect(events).toEqual(['quick drained', 'stuck forced']);
    // Within drain deadline + force grace, not after the stuck drain's 20 s.
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(2_300);
    // A service was forced, so the host did not drain (`npm start` exits 3).
    expect(await host.drained).toBe(false);
    expect(host.deps.nc.isClosed()).toBe(true);
  });

  it('drains when every service finishes within the deadline', async () => {
    const events: string[] = [];
    const defs = [slow('a', 50, 0, events), slow('b', 100, 0, events)];
    const host = await startHost(config(defs, 5_000, 1_000), { definitions: defs, logger: silentLogger() });
    await host.close();
    expect(events.sort()).toEqual(['a drained', 'b drained']);
    expect(await host.drained).toBe(true);
  });

  it("forces the services itself when their own forced close overruns the host's deadline", async () => {
    const events: string[] = [];
    // Its force takes 10 s; the host's deadline (200 ms + 300 ms grace) passes first.
    const defs = [slow('hung', 20_000, 10_000, events)];
    const host = await startHost(config(defs, 200, 300), { definitions: defs, logger: silentLogger() });
    const t0 = Date.now();
    await host.close();
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(await host.drained).toBe(false);
    expect(host.deps.nc.isClosed()).toBe(true);
  });
});
