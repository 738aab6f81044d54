import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHealthRegistry,
  createRegistry,
  Gauge,
  type OpsServer,
  startOpsServer,
} from '../../services/runtime/index.ts';
import { testDir } from '../../test/support/infra.ts';
import { which } from './programs.ts';
import { type PrometheusHandle, startPrometheus } from './prometheus.ts';

const installed =
  (await which('prometheus')) !== null || (typeof process.getuid === 'function' && process.getuid() === 0);
if (!installed)
  console.warn(
    '[prometheus.test] SKIPPED: prometheus is not installed and we are not root (apt-get install -y prometheus)',
  );

async function query(
  prom: PrometheusHandle,
  expr: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function opsServerWith(value: number): Promise<OpsServer> {
  const registry = createRegistry({ defaultMetrics: false });
  new Gauge({ name: 'harbour_test_value', help: 'test', registers: [registry] }).set(value);
  return startOpsServer({ host: '127.0.0.1', port: 0, registry, health: createHealthRegistry() });
}

describe.skipIf(!installed)('startPrometheus', () => {
  let a: OpsServer;
  let b: OpsServer;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    a = await opsServerWith(1);
    b = await opsServerWith(2);
    prom = await startPrometheus({
      dataDir: await testDir('prometheus'),
      targets: [new URL(a.url).host],
      intervalSeconds: 1,
    });
  });
  afterAll(async () => {
    await prom?.stop();
    await a?.close();
    await b?.close();
  });

  it('scrapes the given targets as job harbour and loads the repository rules', async () => {
    const got = await until('first scrape', async () => {
      const r = await query(prom, 'harbour_test_value');
      return r.length ? r : null;
    });
    expect(got).toEqual([
      {
        metric: { __name__: 'harbour_test_value', instance: new URL(a.url).host, job: 'harbour' },
        value: [expect.any(Number), '1'],
      },
    ]);
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
      data: { groups: { name: string }[] };
    };
    expect(rules.data.groups.map((g) => g.name).sort()).toEqual(['harbour-alerts', 'harbour-recording']);
  });

  it('picks up a rewritten targets file without a restart', async () => {
    await prom.setTargets([new URL(a.url).host, new URL(b.url).host]);
    const got = await until('second target', async () => {
      const r = await query(prom, 'sum(harbour_test_value)');
      return r[0]?.value[1] === '3' ? r : null;
    });
    expect(got[0]!.value[1]).toBe('3');
  });

  it('stops', async () => {
    await prom.stop();
    await expect(fetch(`${prom.url}/-/ready`)).rejects.toThrow();
  });
});
