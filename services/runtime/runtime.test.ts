import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { backoffMs } from './backoff.ts';
import { configTable, loadConfig } from './config.ts';
import { createHealthRegistry } from './health.ts';
import { silentLogger } from './logger.ts';
import { createRegistry } from './metrics.ts';
import { startOpsServer } from './ops-server.ts';
import { createLifecycle, sleep, stageLifecycle } from './service.ts';

const Schema = Type.Object({
  nats: Type.Object(
    { url: Type.String({ default: 'nats://127.0.0.1:4222', description: 'NATS URL' }) },
    { default: {} },
  ),
  compactor: Type.Object(
    {
      flushAgeMs: Type.Integer({ minimum: 1000, default: 600_000, description: 'rotate after' }),
      datasets: Type.Array(Type.String(), { default: ['ccass'] }),
      enabled: Type.Boolean({ default: true }),
    },
    { default: {} },
  ),
});

describe('loadConfig', () => {
  it('fills defaults all the way down', () => {
    expect(loadConfig(Schema, { env: {} })).toEqual({
      nats: { url: 'nats://127.0.0.1:4222' },
      compactor: { flushAgeMs: 600_000, datasets: ['ccass'], enabled: true },
    });
  });

  it('reads env variables named from the path, converting types', () => {
    const cfg = loadConfig(Schema, {
      env: {
        HARBOUR_NATS_URL: 'nats://n1:4222',
        HARBOUR_COMPACTOR_FLUSH_AGE_MS: '5000',
        HARBOUR_COMPACTOR_DATASETS: 'ccass, quotes',
        HARBOUR_COMPACTOR_ENABLED: 'false',
      },
    });
    expect(cfg.compactor).toEqual({ flushAgeMs: 5000, datasets: ['ccass', 'quotes'], enabled: false });
    expect(cfg.nats.url).toBe('nats://n1:4222');
  });

  it('takes a list as a JSON array too, and names the variable when that JSON is broken', () => {
    const cfg = loadConfig(Schema, { env: { HARBOUR_COMPACTOR_DATASETS: '["quotes", "ccass"]' } });
    expect(cfg.compactor.datasets).toEqual(['quotes', 'ccass']);
    expect(() => loadConfig(Schema, { env: { HARBOUR_COMPACTOR_DATASETS: '["quotes",' } })).toThrow(
      'HARBOUR_COMPACTOR_DATASETS is not a JSON array',
    );
  });

  it('names the env variable of a bad value', () => {
    const err = (() => {
      try {
        loadConfig(Schema, { env: { HARBOUR_COMPACTOR_FLUSH_AGE_MS: '10' } });
      } catch (e) {
        return e as HarbourError;
      }
    })();
    expect(err).toBeInstanceOf(HarbourError);
    expect(err?.code).toBe(ErrorCodes.Config);
    expect(err?.message).toContain('HARBOUR_COMPACTOR_FLUSH_AGE_MS');
  });

  it('documents every setting in one table', () => {
    const table = configTable(Schema);
    expect(table).toContain('| `HARBOUR_COMPACTOR_FLUSH_AGE_MS` | `600000` | rotate after |');
    expect(table.split('\n')).toHaveLength(2 + 4);
  });
});

describe('lifecycle', () => {
  it('drains gracefully and aborts the signal first', async () => {
    const order: string[] = [];
    const lc = createLifecycle({
      name: 't',
      logger: silentLogger(),
      drain: async () => {
        order.push(`drain aborted=${lc.signal.aborted}`);
      },
      force: async () => {
        order.push('force');
      },
    });
    await lc.close();
    await lc.closed;
    expect(order).toEqual(['drain aborted=true']);
    expect(await lc.drained).toBe(true);
  });

  /** A stage's lifecycle whose drain outlasts any deadline here; `order` records the forced phase. */
  const stuckDrain = (drainTimeoutMs: number, order: string[]) =>
    stageLifecycle(
      't',
      silentLogger(),
      { drainTimeoutMs },
      {
        drain: () => sleep(10_000),
        force: async () => {
          order.push('force');
        },
      },
    );

  it('forces after the drain deadline (a stage takes it from deps.drainTimeoutMs)', async () => {
    const order: string[] = [];
    const lc = stuckDrain(50, order);
    const t0 = Date.now();
    await lc.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(order).toEqual(['force']);
    expect(await lc.drained).toBe(false);
  });

  it('force() cuts a drain short: the forced phase runs at once and drained is false', async () => {
    const order: string[] = [];
    const lc = stuckDrain(60_000, order);
    void lc.close();
    const t0 = Date.now();
    await lc.force();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(order).toEqual(['force']);
    expect(await lc.drained).toBe(false);
    await lc.force();
    expect(order).toEqual(['force']);
  });

  it('a drain that reports false (something inside was forced) is not drained', async () => {
    const lc = createLifecycle({ name: 't', logger: silentLogger(), drain: async () => false });
    await lc.close();
    expect(await lc.drained).toBe(false);
  });

  it('rejects closed with the failure when the service fails', async () => {
    const lc = createLifecycle({ name: 't', logger: silentLogger(), drain: async () => {} });
    lc.fail(new Error('boom'));
    await expect(lc.closed).rejects.toThrow('boom');
  });
});

describe('ops server', () => {
  it('serves Prometheus metrics and health over real HTTP', async () => {
    const registry = createRegistry();
    const health = createHealthRegistry();
    let natsUp = true;
    health.add('nats', () => ({ ok: natsUp, detail: natsUp ? 'connected' : 'disconnected' }));
    const srv = await startOpsServer({ host: '127.0.0.1', port: 0, registry, health });
    try {
      const metrics = await fetch(`${srv.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^harbour_process_cpu_user_seconds_total /m);
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
      natsUp = false;
      const down = await fetch(`${srv.url}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({
        ok: false,
        checks: { nats: { ok: false, detail: 'disconnected' } },
      });
      expect((await fetch(`${srv.url}/nope`)).status).toBe(404);
    } finally {
      await srv.close();
    }
  });
});

describe('backoffMs', () => {
  it('is full jitter: uniform in [0, min(max, base·2^(n−1))]', () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(0);
    expect(backoffMs(1, 1000, 60_000, () => 0.5)).toBe(500);
    expect(backoffMs(3, 1000, 60_000, () => 0.999_999)).toBe(4000);
    expect(backoffMs(30, 1000, 60_000, () => 0.999_999)).toBe(60_000);
    expect(backoffMs(5000, 1000, 60_000, () => 0.5)).toBe(30_000);
    const seen = Array.from({ length: 2000 }, () => backoffMs(4, 100, 10_000));
    // Equal jitter would never go below half the ceiling (400); full jitter fills [0, 800].
    expect(Math.min(...seen)).toBeLessThan(100);
    expect(Math.max(...seen)).toBeGreaterThan(700);
    expect(Math.max(...seen)).toBeLessThanOrEqual(800);
  });
});
