import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, HarbourError } from '../../../contracts/errors.ts';
import {
  CookieJar,
  createHttpClient,
  DEFAULT_USER_AGENT,
  type HttpClient,
  type HttpClientConfigInput,
  parseRetryAfterMs,
  resolveHttpClientConfig,
} from './index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let port: number;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
let inFlight = 0;
let maxInFlight = 0;

/** A route the test installs; `hits` counts requests per path. */
function route(path: string, handler: Handler): string {
  routes.set(path, handler);
  hits.set(path, 0);
  return `${base}${path}`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      inFlight--;
    };
    res.on('close', finish);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const handler = routes.get(path);
      if (!handler) {
        res.writeHead(404).end('no route');
        return;
      }
      handler(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  routes.clear();
  hits.clear();
  inFlight = 0;
  maxInFlight = 0;
});

/** Fast defaults for tests: no politeness waits unless a test asks for them. */
function client(config: HttpClientConfigInput = {}, registry = new Registry()): HttpClient {
  const c = createHttpClient(
    {
      perHostConcurrency: 4,
      requestsPerSecond: 1000,
      burst: 1000,
      timeoutMs: 2000,
      maxRetries: 3,
      retryBaseDelayMs: 5,
      retryMaxDelayMs: 20,
      adaptiveDelayStepMs: 0,
      ...config,
    },
    { metrics: { registry } },
  );
  clients.push(c);
  return c;
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

const ok: Handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('politeness', () => {
  it('never exceeds perHostConcurrency in flight', async () => {
    const url = route('/slow', (_req, res) => {
      setTimeout(() => res.writeHead(200).end('slow'), 40);
    });
    const c = client({ perHostConcurrency: 2 });
    const results = await Promise.all(Array.from({ length: 8 }, () => c.request({ method: 'GET', url })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(maxInFlight).toBe(2);
    expect(hits.get('/slow')).toBe(8);
  });

  it('spaces request starts by the token bucket rate after the burst', async () => {
    const url = route('/ok', ok);
    const c = client({ perHostConcurrency: 8, requestsPerSecond: 20, burst: 2 });
    const started = performance.now();
    await Promise.all(Array.from({ length: 8 }, () => c.request({ method: 'GET', url })));
    // 2 at once, then 6 more at 20/s → ≥ 300 ms; asserted loosely.
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('widens the host delay on 5xx and decays it on fast 2xx', async () => {
    let n = 0;
    const url = route('/flaky', (_req, res) => {
      n++;
      if (n <= 2) res.writeHead(503).end();
      else res.writeHead(200).end('ok');
    });
    const registry = new Registry();
    const c = client({ adaptiveDelayStepMs: 10, adaptiveDelayFactor: 2, adaptiveDelayDecay: 0.5 }, registry);
    const host = `127.0.0.1:${port}`;
    await c.request({ method: 'GET', url }); // 503, 503, 200
    // 10 → 20 on the two 503s, then 20 * 0.5 = 10 on the fast 200
    expect(c.hostDelayMs(host)).toBe(10);
    expect(await metric(registry, 'harbour_http_host_delay_ms', { host })).toBe(10);
    await c.request({ method: 'GET', url }); // 10 * 0.5 < step → 0
    expect(c.hostDelayMs(host)).toBe(0);
    expect(await metric(registry, 'harbour_http_host_delay_ms', { host })).toBe(0);
  });

  it('treats a slow answer as a stress sign', async () => {
    const url = route('/sluggish', (_req, res) => {
      setTimeout(() => res.writeHead(200).end('late'), 60);
    });
    const c = client({ slowResponseMs: 20, adaptiveDelayStepMs: 15 });
    await c.request({ method: 'GET', url });
    expect(c.hostDelayMs(`127.0.0.1:${port}`)).toBe(15);
  });
});

describe('retries', () => {
  it('retries 503 twice then succeeds, counting metrics', async () => {
    let n = 0;
    const url = route('/unavailable', (_req, res) => {
      n++;
      if (n <= 2) res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
      else res.writeHead(200).end('finally');
    });
    const registry = new Registry();
    const c = client({}, registry);
    const res = await c.request({ method: 'GET', url });
    expect(res.status).toBe(200);
    expect(res.text()).toBe('finally');
    expect(res.attempts).toBe(3);
    expect(hits.get('/unavailable')).toBe(3);
    const host = `127.0.0.1:${port}`;
    expect(await metric(registry, 'harbour_http_requests_total', { host, outcome: 'retry' })).toBe(2);
    expect(await metric(registry, 'harbour_http_requests_total', { host, outcome: 'ok' })).toBe(1);
    expect(await metric(registry, 'harbour_http_retries_total', { host })).toBe(2);
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/^harbour_http_request_duration_seconds_count\{host="[^"]+"\} 3$/m);
  });

  it('honours Retry-After (seconds) on 429', async () => {
    let n = 0;
    const url = route('/limited', (_req, res) => {
      n++;
      if (n === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.writeHead(200).end('ok');
    });
    const c = client();
    const started = performance.now();
    const res = await c.request({ method: 'GET', url });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('gives up at once when Retry-After exceeds retryAfterMaxMs', async () => {
    const url = route('/go-away', (_req, res) => res.writeHead(503, { 'retry-after': '3600' }).end());
    const c = client({ retryAfterMaxMs: 1000 });
    const err = await rejection(c.request({ method: 'GET', url }));
    expect(err).toBeInstanceOf(HarbourError);
    expect((err as HarbourError).code).toBe(ErrorCodes.HttpFailed);
    expect((err as HarbourError).detail).toMatchObject({
      attempts: 1,
      lastStatus: 503,
      retryAfterMs: 3_600_000,
    });
  });

  it('retries a connection reset', async () => {
    let n = 0;
    const url = route('/reset', (req, res) => {
      n++;
      if (n === 1) req.socket.destroy();
      else res.writeHead(200).end('after reset');
    });
    const registry = new Registry();
    const c = client({}, registry);
    const res = await c.request({ method: 'GET', url });
    expect(res.text()).toBe('after reset');
    expect(res.attempts).toBe(2);
    expect(await metric(registry, 'harbour_http_retries_total', { host: `127.0.0.1:${port}` })).toBe(1);
  });

  it('retries a refused connection, then fails with HttpFailed naming the error', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const c = client({ maxRetries: 2 });
    const err = await rejection(c.request({ method: 'GET', url: `http://127.0.0.1:${closedPort}/` }));
    expect((err as HarbourError).code).toBe(ErrorCodes.HttpFailed);
    expect((err as HarbourError).detail).toMatchObject({ attempts: 3 });
    expect(String((err as HarbourError).detail?.['lastError'])).toMatch(/ECONNREFUSED/);
  });

  it('retries timeouts, then throws HttpFailed', async () => {
    const url = route('/hang', () => {
      /* never answers */
    });
    const registry = new Registry();
    const c = client({ timeoutMs: 100, maxRetries: 2 }, registry);
    const started = performance.now();
    const err = await rejection(c.request({ method: 'GET', url }));
    expect(err).toBeInstanceOf(HarbourError);
    expect((err as HarbourError).code).toBe(ErrorCodes.HttpFailed);
    expect((err as HarbourError).detail).toMatchObject({ url, attempts: 3 });
    expect(String((err as HarbourError).detail?.['lastError'])).toMatch(/timeout/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(hits.get('/hang')).toBe(3);
    const host = `127.0.0.1:${port}`;
    expect(await metric(registry, 'harbour_http_requests_total', { host, outcome: 'timeout' })).toBe(1);
    expect(await metric(registry, 'harbour_http_requests_total', { host, outcome: 'retry' })).toBe(2);
  });

  it('returns 404 without retrying', async () => {
    const url = route('/missing', (_req, res) => res.writeHead(404).end('not here'));
    const registry = new Registry();
    const c = client({}, registry);
    const res = await c.request({ method: 'GET', url });
    expect(res.status).toBe(404);
    expect(res.text()).toBe('not here');
    expect(res.attempts).toBe(1);
    expect(hits.get('/missing')).toBe(1);
    const host = `127.0.0.1:${port}`;
    expect(await metric(registry, 'harbour_http_requests_total', { host, outcome: 'http_4xx' })).toBe(1);
    expect(await metric(registry, 'harbour_http_retries_total', { host })).toBe(0);
  });

  it('throws HttpFailed with lastStatus when 5xx persists', async () => {
    const url = route('/down', (_req, res) => res.writeHead(502).end());
    const c = client({ maxRetries: 1 });
    const err = await rejection(c.request({ method: 'GET', url }));
    expect((err as HarbourError).code).toBe(ErrorCodes.HttpFailed);
    expect((err as HarbourError).detail).toMatchObject({ url, attempts: 2, lastStatus: 502 });
  });
});

describe('logging', () => {
  it('logs retries at debug and giving up at warn, on a per-host child', async () => {
    const url = route('/down', (_req, res) => res.writeHead(503).end());
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    });
    const c = createHttpClient(
      { retryBaseDelayMs: 1, retryMaxDelayMs: 2, maxRetries: 1, requestsPerSecond: 1000, burst: 10 },
      { logger: pino({ level: 'debug' }, sink) },
    );
    clients.push(c);
    await rejection(c.request({ method: 'GET', url }));
    const host = `127.0.0.1:${port}`;
    const retry = lines.find((l) => l['msg'] === 'http retry scheduled');
    const giveUp = lines.find((l) => l['msg'] === 'http request failed, giving up');
    expect(retry).toMatchObject({ level: 20, host, component: 'http-client', url, attempt: 1 });
    expect(giveUp).toMatchObject({ level: 40, host, url, attempts: 2, lastStatus: 503 });
  });
});

describe('budget', () => {
  it('refuses requests once the budget is spent', async () => {
    const url = route('/ok', ok);
    const c = client({ requestBudget: 2 });
    await c.request({ method: 'GET', url });
    await c.request({ method: 'GET', url });
    expect(c.budgetRemaining()).toBe(0);
    const err = await rejection(c.request({ method: 'GET', url }));
    expect((err as HarbourError).code).toBe(ErrorCodes.HttpBudget);
    expect(hits.get('/ok')).toBe(2);
  });

  it('refills over its window: a rate, not a lifetime', async () => {
    const url = route('/refill', ok);
    const c = client({ requestBudget: 3, requestBudgetWindowMs: 600 });
    const started = performance.now();
    for (let i = 0; i < 9; i++) expect((await c.request({ method: 'GET', url })).status).toBe(200);
    // 3 at once, then 6 more at the refill rate of one per 200 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_100);
    expect(hits.get('/refill')).toBe(9);
    await new Promise((r) => setTimeout(r, 700));
    expect(c.budgetRemaining()).toBe(3);
  });

  it('counts retries against the budget', async () => {
    const url = route('/down', (_req, res) => res.writeHead(503).end());
    const c = client({ requestBudget: 2, maxRetries: 5 });
    const err = await rejection(c.request({ method: 'GET', url }));
    expect((err as HarbourError).code).toBe(ErrorCodes.HttpBudget);
    expect(hits.get('/down')).toBe(2);
  });
});

describe('abort and close', () => {
  /** A request to `url` aborted after `afterMs` rejects with AbortError within a second of starting. */
  const expectQuickAbort = async (c: HttpClient, url: string, afterMs: number) => {
    const ac = new AbortController();
    const started = performance.now();
    const p = c.request({ method: 'GET', url, signal: ac.signal });
    setTimeout(() => ac.abort(), afterMs);
    const err = await rejection(p);
    expect((err as Error).name).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(1000);
  };

  it('abort during back-off rejects quickly with AbortError', async () => {
    const url = route('/later', (_req, res) => res.writeHead(503, { 'retry-after': '30' }).end());
    const c = client();
    await expectQuickAbort(c, url, 100);
    expect(hits.get('/later')).toBe(1);
  });

  it('abort during an in-flight request rejects quickly with AbortError', async () => {
    const url = route('/hang', () => {
      /* never answers */
    });
    const c = client({ timeoutMs: 10_000 });
    await expectQuickAbort(c, url, 50);
  });

  it('abort while queued behind the rate limit rejects quickly', async () => {
    const url = route('/ok', ok);
    const c = client({ requestsPerSecond: 0.1, burst: 1 });
    await c.request({ method: 'GET', url }); // spends the only token; the next waits ~10 s
    await expectQuickAbort(c, url, 50);
    expect(hits.get('/ok')).toBe(1);
  });

  it('an already aborted signal rejects without sending', async () => {
    const url = route('/ok', ok);
    const c = client();
    const err = await rejection(c.request({ method: 'GET', url, signal: AbortSignal.abort() }));
    expect((err as Error).name).toBe('AbortError');
    expect(hits.get('/ok')).toBe(0);
  });

  it('close() aborts in-flight requests and refuses new ones', async () => {
    const url = route('/hang', () => {
      /* never answers */
    });
    const c = client({ timeoutMs: 10_000 });
    const settled = rejection(c.request({ method: 'GET', url }));
    await new Promise((r) => setTimeout(r, 30));
    await c.close();
    expect(((await settled) as Error).name).toBe('AbortError');
    expect(((await rejection(c.request({ method: 'GET', url }))) as Error).name).toBe('AbortError');
  });
});

describe('request shape', () => {
  it('sends the default User-Agent, or the caller override', async () => {
    const url = route('/ua', (req, res) => res.writeHead(200).end(req.headers['user-agent'] ?? ''));
    const c = client();
    expect((await c.request({ method: 'GET', url })).text()).toBe(DEFAULT_USER_AGENT);
    const custom = await c.request({ method: 'GET', url, headers: { 'User-Agent': 'probe/1' } });
    expect(custom.text()).toBe('probe/1');
  });

  it('sends a cookie set on GET with the following POST (ASP.NET flow) and encodes the form', async () => {
    route('/ccass/search.aspx', (req, res, body) => {
      if (req.method === 'GET') {
        res
          .writeHead(200, {
            'set-cookie': ['ASP.NET_SessionId=abc123; path=/; HttpOnly', 'other=1; path=/elsewhere'],
          })
          .end('<form><input name="__VIEWSTATE" value="/wE+=="></form>');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ cookie: req.headers.cookie, contentType: req.headers['content-type'], body }));
    });
    const url = `${base}/ccass/search.aspx`;
    const c = client();
    await c.request({ method: 'GET', url });
    const res = await c.request({
      method: 'POST',
      url,
      form: { __VIEWSTATE: '/wE+==', txtStockCode: '00700', 'a b': 'x&y z' },
    });
    const echoed = JSON.parse(res.text()) as { cookie: string; contentType: string; body: string };
    expect(echoed.cookie).toBe('ASP.NET_SessionId=abc123');
    expect(echoed.contentType).toBe('application/x-www-form-urlencoded');
    expect(echoed.body).toBe('__VIEWSTATE=%2FwE%2B%3D%3D&txtStockCode=00700&a+b=x%26y+z');
    expect(Object.fromEntries(new URLSearchParams(echoed.body))).toEqual({
      __VIEWSTATE: '/wE+==',
      txtStockCode: '00700',
      'a b': 'x&y z',
    });
  });

  it('follows a POST→302 redirect as GET, carrying cookies', async () => {
    route('/post', (_req, res) =>
      res.writeHead(302, { location: '/result', 'set-cookie': 'sid=42; path=/' }).end(),
    );
    route('/result', (req, res, body) =>
      res.writeHead(200).end(JSON.stringify({ method: req.method, cookie: req.headers.cookie, body })),
    );
    const c = client();
    const res = await c.request({ method: 'POST', url: `${base}/post`, form: { a: '1' } });
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${base}/result`);
    expect(JSON.parse(res.text())).toEqual({ method: 'GET', cookie: 'sid=42', body: '' });
  });

  it('decodes gzip bodies and text in the declared charset', async () => {
    const url = route('/gz', (req, res) => {
      expect(req.headers['accept-encoding']).toContain('gzip');
      res
        .writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/html; charset=utf-8' })
        .end(gzipSync(Buffer.from('<p>中央結算</p>')));
    });
    const c = client();
    expect((await c.request({ method: 'GET', url })).text()).toBe('<p>中央結算</p>');
  });

  it('refuses bodies larger than maxBodyBytes (declared, streamed, decoded)', async () => {
    const big = Buffer.alloc(4096, 'a');
    const declared = route('/big', (_req, res) =>
      res.writeHead(200, { 'content-length': big.length }).end(big),
    );
    const chunked = route('/big-chunked', (_req, res) => {
      res.writeHead(200);
      res.write(big.subarray(0, 2048));
      res.end(big.subarray(2048));
    });
    const bomb = route('/bomb', (_req, res) =>
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(1_000_000))),
    );
    const c = client({ maxBodyBytes: 3000 });
    for (const url of [declared, chunked, bomb]) {
      const err = await rejection(c.request({ method: 'GET', url }));
      expect((err as HarbourError).code).toBe(ErrorCodes.HttpBodyTooLarge);
    }
    expect(hits.get('/big')).toBe(1);
  });
});

describe('streamed bodies and per-request deadlines', () => {
  it('feeds a gzip body to the sink chunk by chunk and stops reading when the sink has enough', async () => {
    const parts = Array.from({ length: 64 }, (_, i) => `line ${i}\r\n`.repeat(2000));
    const url = route('/stream', (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.from(parts.join(''))));
    });
    const c = client();
    const seen: number[] = [];
    const res = await c.request({
      method: 'GET',
      url,
      sink: () => ({
        write(chunk) {
          seen.push(chunk.length);
          return false;
        },
      }),
    });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.reduce((a, n) => a + n, 0)).toBe(parts.join('').length);

    // a sink that has what it needs ends the read: the rest is never decoded
    let got = 0;
    await c.request({
      method: 'GET',
      url,
      sink: () => ({
        write(chunk) {
          got += chunk.length;
          return true;
        },
      }),
    });
    expect(got).toBe(seen[0]);
  });

  it('a 404 is buffered for the caller; a sink error ends the request without a retry', async () => {
    const missing = route('/missing', (_req, res) => res.writeHead(404).end('gone'));
    const page = route('/page', (_req, res) => res.writeHead(200).end('not what the parser wants'));
    const c = client();
    const res = await c.request({ method: 'GET', url: missing, sink: () => ({ write: () => false }) });
    expect([res.status, res.text(), res.sink]).toEqual([404, 'gone', undefined]);
    const refusal = new HarbourError(ErrorCodes.ParseLayout, 'not a report');
    const err = await rejection(
      c.request({
        method: 'GET',
        url: page,
        sink: () => ({
          write() {
            throw refusal;
          },
        }),
      }),
    );
    expect(err).toBe(refusal);
    expect(hits.get('/page')).toBe(1);
  });

  it('a request may have a longer deadline than the client, and an idle limit between chunks', async () => {
    const slow = route('/slow-body', (_req, res) => {
      res.writeHead(200);
      let n = 0;
      const tick = setInterval(() => {
        res.write('x'.repeat(100));
        if (++n === 6) {
          clearInterval(tick);
          res.end();
        }
      }, 60);
    });
    const c = client({ timeoutMs: 200, maxRetries: 0 });
    // the client's 200 ms whole-attempt deadline cuts the ~360 ms body…
    const cut = await rejection(c.request({ method: 'GET', url: slow }));
    expect((cut as HarbourError).code).toBe(ErrorCodes.HttpFailed);
    // …a request sized for its source gets it whole, chunks arriving well within the idle limit
    const res = await c.request({ method: 'GET', url: slow, timeoutMs: 5000, idleTimeoutMs: 1000 });
    expect(res.body.length).toBe(600);
    // and an idle limit shorter than a pause between chunks fails it (undici's body timer is coarse:
    // about a second)
    const stall = route('/stall', (_req, res) => {
      res.writeHead(200);
      res.write('x');
      setTimeout(() => res.end('y'), 3000).unref();
    });
    const idle = await rejection(
      c.request({ method: 'GET', url: stall, timeoutMs: 10_000, idleTimeoutMs: 300 }),
    );
    expect(String((idle as HarbourError).detail?.['lastError'])).toMatch(/UND_ERR_BODY_TIMEOUT|timeout/i);
  });
});

describe('helpers', () => {
  it('fills config defaults and rejects bad values', () => {
    const cfg = resolveHttpClientConfig();
    expect(cfg).toMatchObject({
      userAgent: DEFAULT_USER_AGENT,
      perHostConcurrency: 2,
      requestsPerSecond: 2,
      burst: 4,
      timeoutMs: 20_000,
      maxRetries: 4,
      retryBaseDelayMs: 500,
      retryMaxDelayMs: 20_000,
      slowResponseMs: 5_000,
      requestBudget: 20_000,
      maxBodyBytes: 50 * 1024 * 1024,
    });
    expect(() => resolveHttpClientConfig({ perHostConcurrency: 0 })).toThrow(/perHostConcurrency/);
    expect(() => resolveHttpClientConfig({ retryBaseDelayMs: 10, retryMaxDelayMs: 5 })).toThrow(HarbourError);
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfterMs('3')).toBe(3000);
    expect(parseRetryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });

  it('cookie jar honours path, expiry and secure', () => {
    const jar = new CookieJar();
    const url = new URL('http://example.com/a/page');
    jar.store(url, [
      's=1',
      'root=2; Path=/',
      'gone=3; Max-Age=0',
      'insecure=6; Secure',
      'foreign=5; Domain=other.com',
    ]);
    // A Secure cookie counts only when set over https (RFC 6265bis); then it goes to https only.
    jar.store(new URL('https://example.com/a/page'), 'sec=4; Secure');
    expect(jar.header(new URL('http://example.com/a/other'))).toBe('s=1; root=2');
    expect(jar.header(new URL('http://example.com/b'))).toBe('root=2');
    expect(jar.header(new URL('https://example.com/a/x'))).toBe('s=1; sec=4; root=2');
    jar.store(url, 'root=2; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    expect(jar.header(new URL('http://example.com/b'))).toBeUndefined();
    // Host-only: a cookie with Domain=example.com set by www.example.com stays with www.example.com.
    jar.store(new URL('http://www.example.com/'), 'shared=7; Domain=example.com; Path=/');
    expect(jar.header(new URL('http://www.example.com/x'))).toBe('shared=7');
    expect(jar.header(new URL('http://example.com/x'))).toBeUndefined();
    expect(jar.header(new URL('http://api.example.com/x'))).toBeUndefined();
  });
});
