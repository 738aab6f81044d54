import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoldTables, seedGold } from '../../test/support/gold.ts';
import { freshDatabase } from '../../test/support/infra.ts';
import { createHealthRegistry, createRegistry, silentLogger } from '../runtime/index.ts';
import { buildExporterApp, ExporterConfig } from './index.ts';

/** An error answer: `status`, and a JSON body with (at least) `body`. */
function expectError(
  res: { statusCode: number; json(): unknown },
  status: number,
  body: Record<string, string>,
) {
  expect(res.statusCode).toBe(status);
  expect(res.json()).toMatchObject(body);
}

/**
 * HTTP edge cases of the exporter's fastify plugins, through `inject` (no socket) against a real
 * Postgres with seeded gold: auth, limits, parameter errors, 405/404, metrics and the `onClose` hook.
 */
const TOKEN = 'a-token-of-at-least-16-chars';
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: FastifyInstance;
const registry = createRegistry({ defaultMetrics: false });
const health = createHealthRegistry();
const shutdown = new AbortController();
const config: ExporterConfig = {
  ...(Value.Default(ExporterConfig, {}) as ExporterConfig),
  token: TOKEN,
  bodyLimitBytes: 1024,
};
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  db = await freshDatabase();
  db.pool.on('error', () => {});
  await createGoldTables(db.pool);
  await seedGold(db.pool, { from: '2026-10-01', to: '2026-10-30' });
  app = await buildExporterApp(
    config,
    { pool: db.pool, logger: silentLogger(), registry, health },
    { log: silentLogger(), shutdown: shutdown.signal },
  );
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('exporter HTTP edge (inject)', () => {
  it('data routes need the bearer token; the page, health and metrics do not', async () => {
    const none = await app.inject({ url: '/api/stocks?q=TENCENT' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="harbour-exporter"');
    expect(none.json()).toMatchObject({ error: 'unauthorized' });
    const wrong = await app.inject({
      url: '/api/stocks?q=TENCENT',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
    const ok = await app.inject({ url: '/api/stocks?q=TENCENT', headers: auth });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ stocks: [{ code: '00700', name: 'TENCENT' }] });
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    for (const url of ['/', '/healthz', '/metrics']) expect((await app.inject({ url })).statusCode).toBe(200);
  });

  it('an over-long URL → 414 naming the parameter, before auth', async () => {
    const codes = Array.from({ length: 3_000 }, (_, i) => String(i + 1)).join(',');
    const res = await app.inject({ url: `/export.xlsx?codes=${codes}&from=2026-10-01&to=2026-10-30` });
    expectError(res, 414, { error: 'uri_too_long', parameter: 'codes' });
  });

  it('a body over bodyLimitBytes → 413', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/stocks',
      headers: auth,
      payload: 'x'.repeat(2048),
    });
    expectError(res, 413, { error: 'body_too_large' });
  });

  it('a known path with another method → 405 with Allow; an unknown path → 404', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/api/prices', headers: auth });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect((await app.inject({ url: '/nope', headers: auth })).json()).toMatchObject({ error: 'not_found' });
  });

  it('bad and unknown parameters → 400 naming them; an unknown code → 404', async () => {
    const extra = await app.inject({
      url: '/api/prices?code=700&from=2026-10-01&to=2026-10-30&colour=red',
      headers: auth,
    });
    expectError(extra, 400, { error: 'bad_parameter', parameter: 'colour' });
    const badDate = await app.inject({ url: '/api/ccass?code=700&date=2026-13-01', headers: auth });
    expectError(badDate, 400, { error: 'bad_parameter', parameter: 'date' });
    const unknown = await app.inject({
      url: '/api/prices?code=99999&from=2026-10-01&to=2026-10-30',
      headers: auth,
    });
    expectError(unknown, 404, { error: 'unknown_code', parameter: 'code' });
  });

  it('HEAD /export.xlsx answers the workbook headers without a body', async () => {
    const res = await app.inject({
      method: 'HEAD',
      url: '/export.xlsx?codes=700,99999&from=2026-10-01&to=2026-10-30',
      headers: auth,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-harbour-unknown-codes']).toBe('99999');
    expect(res.body).toBe('');
  });

  it('counts every answer by route and status', async () => {
    const count = async () => {
      const text = await registry.metrics();
      const m = /harbour_exporter_requests_total\{route="\/api\/prices",status="404"\} (\d+)/.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    const res = await app.inject({
      url: '/api/prices?code=99998&from=2026-10-01&to=2026-10-30',
      headers: auth,
    });
    expect(res.statusCode).toBe(404);
    // onResponse runs once the response has finished, which may be just after inject resolves.
    for (let i = 0; i < 50 && (await count()) === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await count()).toBe(before + 1);
  });

  it("closing the app removes the exporter's health check (onClose)", async () => {
    expect(Object.keys((await health.run()).checks)).toContain('exporter');
    await app.close();
    expect(Object.keys((await health.run()).checks)).not.toContain('exporter');
  });
});
