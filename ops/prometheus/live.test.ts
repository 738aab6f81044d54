/**
 * The observability stack against a running pipeline: two Harbour processes (scheduler + scrapers +
 * compactor + transformer; the monitor) on real NATS, Postgres and a local lake, scraping the
 * fixture HKEX site for two business days, and a real Prometheus scraping both processes every
 * second with the repository's rules. Then every PromQL expression of the dashboards and rules must
 * return data, and every SQL panel must run on the pipeline's own database.
 */
import { Kvm } from '@nats-io/kv';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dataset, SCHEMA_VERSION, type Tick } from '../../contracts/index.ts';
import { dashboards, expandPromQL, promQueries } from '../../grafana/src/index.ts';
import { runSqlQueries } from '../../grafana/src/run-queries.ts';
import { compactorService } from '../../services/compactor/index.ts';
import { type HarbourConfig, type Host, harbourConfigSchema, startHost } from '../../services/host.ts';
import { monitorService } from '../../services/monitor/index.ts';
import { createLogger, loadConfig, type ServiceDefinition } from '../../services/runtime/index.ts';
import { DEFAULT_JOBS, schedulerService } from '../../services/scheduler/index.ts';
import { publishEnvelopes, scrapersService, toEnvelopes } from '../../services/scrapers/index.ts';
import { transformerService } from '../../services/transformer/index.ts';
import { ensureTopology, kvBuckets, msgIds, subjects, TopologyConfig } from '../../streams/index.ts';
import { freshDatabase, startTestNats, testDir } from '../../test/support/infra.ts';
import { defaultSamplesDir, type FixtureSite, startFixtureSite } from '../fixture-site/index.ts';
import { which } from '../launcher/programs.ts';
import { type PrometheusHandle, startPrometheus } from '../launcher/prometheus.ts';
import { isNumberLiteral, metricNames, topLevelOperands } from './promql.ts';

const installed =
  (await which('prometheus')) !== null || (typeof process.getuid === 'function' && process.getuid() === 0);
if (!installed)
  console.warn(
    '[live.test] SKIPPED: prometheus is not installed and we are not root (apt-get install -y prometheus)',
  );

const DEFINITIONS = [
  schedulerService,
  scrapersService,
  compactorService,
  transformerService,
  monitorService,
] as unknown as readonly ServiceDefinition[];
const TODAY = '2026-10-12';
const DAYS = ['2026-10-08', '2026-10-09'];
const CODES = ['00001', '00005'];
const DATASETS: Dataset[] = ['securities', 'quotes', 'fundamentals', 'ccass'];

type PromResult = { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[];

describe.skipIf(!installed)('dashboards and rules against a running pipeline', () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let site: FixtureSite;
  let pipeline: Host;
  let monitor: Host;
  let prom: PrometheusHandle;
  let startedAt: number;

  const query = async (path: string, params: Record<string, string>): Promise<PromResult> => {
    const res = await fetch(`${prom.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    const body = (await res.json()) as { status: string; error?: string; data: { result: PromResult } };
    if (body.status !== 'success') throw new Error(body.error ?? `HTTP ${res.status}`);
    return body.data.result;
  };
  /** The expression over the whole run, one point a second (what a dashboard shows). */
  const overRun = (expr: string) =>
    query('/api/v1/query_range', {
      query: expr,
      start: String(startedAt / 1000),
      end: String(Date.now() / 1000),
      step: '1',
    });
  const finiteValues = (r: PromResult) =>
    r.flatMap((s) => s.values ?? (s.value ? [s.value] : [])).filter(([, v]) => Number.isFinite(Number(v)));

  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const freshness = async () =>
    new Map(
      (
        await db.pool
          .query<{ dataset: string; d: string }>(
            `select dataset, latest_as_of::text as d from gold.dq_freshness`,
          )
          .catch(() => ({ rows: [] as { dataset: string; d: string }[] }))
      ).rows.map((r) => [r.dataset, r.d]),
    );

  const idle = async () => {
    for await (const stream of pipeline.deps.jsm.streams.list())
      for await (const c of pipeline.deps.jsm.consumers.list(stream.config.name))
        if (c.num_pending > 0 || c.num_ack_pending > 0) return false;
    const unsent = await db.pool.query('select 1 from lake_outbox where sent_at is null limit 1');
    return unsent.rowCount === 0;
  };

  /** Waits until Prometheus has scraped the pipeline's current counters (so the next day moves them again). */
  const untilScraped = async () => {
    for (const name of [
      'harbour_scraper_jobs_total',
      'harbour_compactor_files_committed_total',
      'harbour_transformer_events_total',
    ]) {
      const local = (await pipeline.deps.registry.getSingleMetric(name)!.get()).values.reduce(
        (n, v) => n + v.value,
        0,
      );
      await until(`Prometheus to scrape ${name} = ${local}`, async () => {
        const r = await query('/api/v1/query', { query: `sum(${name})` });
        return Number(r[0]?.value?.[1]) === local;
      });
    }
  };

  /**
   * Publishes one tick per dataset for `date`, as the scheduler does (a back-fill run, in effect).
   * Fundamentals are snapshots the planner refuses for past dates (the quote widget has no history),
   * so that day's snapshot is published to RAW as a scraper would have published it on the day.
   */
  const runDay = async (date: string) => {
    await publishEnvelopes(
      pipeline.deps.js,
      CODES.flatMap((code) =>
        toEnvelopes(
          {
            dataset: 'fundamentals',
            key: code,
            asOf: date,
            sourceUrl: `${site.url}/hkexwidget/data/getequityquote?sym=${Number(code)}&lang=eng`,
            rows: [{ ...site.model.fundamental(code)!, as_of: date }],
          },
          `live:${date}`,
          100,
        ),
      ),
    );
    for (const dataset of DATASETS.filter((d) => d !== 'fundamentals')) {
      const tick: Tick = {
        schema_version: SCHEMA_VERSION,
        job: `${dataset}-daily`,
        scheduled_at: `${date}T10:00:00.000Z`,
        date,
        dataset,
        catch_up: true,
      };
      await pipeline.deps.js.publish(subjects.tick(tick.job), JSON.stringify(tick), {
        msgID: msgIds.tick(tick.job, tick.scheduled_at),
      });
    }
    await until(
      `the pipeline to load ${date}`,
      async () => {
        const f = await freshness();
        return (
          f.get('quotes') === date &&
          f.get('ccass') === date &&
          f.get('fundamentals') === date &&
          f.has('securities')
        );
      },
      40_000,
    );
    // Settled: a quotes or CCASS date is fresh with its first file, while later files of the day may
    // still be in the compactor or its outbox. Every consumer idle and every committed file's event
    // sent, three polls in a row, means the transformer has handled the whole day.
    let quiet = 0;
    await until('the pipeline to settle', async () => {
      quiet = (await idle()) ? quiet + 1 : 0;
      return quiet >= 3;
    });
  };

  beforeAll(async () => {
    nats = await startTestNats();
    db = await freshDatabase();
    const dir = await testDir('live');
    site = await startFixtureSite({ samplesDir: defaultSamplesDir(), seed: 8, today: TODAY, stocks: 12 });
    // The scheduler has been down for a few minutes: it catches up its heartbeat ticks at once.
    await ensureTopology(nats.nc, nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
    const kv = await new Kvm(nats.nc).open(kvBuckets.scheduler);
    await kv.put('last.heartbeat', new Date(Date.now() - 3 * 60_000).toISOString());
    // The daily jobs are in the schedule (the monitor expects each dataset by it) but never tick
    // here: their last tick is in the future, so the real clock plans nothing on the fixed site.
    for (const job of DEFAULT_JOBS) await kv.put(`last.${job.name}`, '2100-01-01T00:00:00.000Z');

    const config = loadConfig(harbourConfigSchema(DEFINITIONS), {
      base: {
        nats: { url: nats.server.url },
        postgres: { url: db.url, poolMax: 6 },
        objectStore: { backend: 'fs', root: `${dir}/lake` },
        ops: { host: '127.0.0.1', port: 0 },
        shutdown: { drainTimeoutMs: 10_000 },
        scheduler: {
          jobs: [{ name: 'heartbeat', cron: '* * * * *' }, ...DEFAULT_JOBS],
          evaluateEveryMs: 500,
          catchUpMaxTicks: 2,
        },
        scrapers: {
          // planner window off: it runs on the real clock, the fixture site's `today` is fixed
          sources: {
            ccassBaseUrl: site.url,
            hkexBaseUrl: site.url,
            quoteBaseUrl: `${site.url}/hkexwidget`,
            ccassHistoryDays: 0,
          },
          http: {
            requestsPerSecond: 500,
            burst: 100,
            perHostConcurrency: 8,
            retryBaseDelayMs: 10,
            maxRetries: 1,
            timeoutMs: 10_000,
          },
          codes: CODES,
          concurrency: 4,
          retryBaseDelayMs: 50,
        },
        compactor: { flushAgeMs: 300, spoolDir: `${dir}/spool`, mergeEveryMs: 0, outboxEveryMs: 200 },
        transformer: { retryBaseDelayMs: 50 },
        monitor: { refreshEveryMs: 500 },
      },
    }) as HarbourConfig;
    const logger = createLogger({ level: process.env.HARBOUR_TEST_LOG ?? 'silent' });
    pipeline = await startHost(config, {
      services: ['scheduler', 'scrapers', 'compactor', 'transformer'],
      definitions: DEFINITIONS,
      logger,
    });
    monitor = await startHost(config, { services: ['monitor'], definitions: DEFINITIONS, logger });
    startedAt = Date.now();
    prom = await startPrometheus({
      dataDir: `${dir}/prometheus`,
      targets: [new URL(pipeline.opsUrl).host, new URL(monitor.opsUrl).host],
      intervalSeconds: 1,
    });
    await until(
      'Prometheus to scrape both processes',
      async () => (await query('/api/v1/query', { query: 'sum(up{job="harbour"})' }))[0]?.value?.[1] === '2',
    );

    // Day 1, with a CCASS maintenance page (a retried job) and a poison record (a DLQ entry).
    site.faults.set({ maintenance: 1 });
    await pipeline.deps.js.publish(subjects.raw('quotes'), 'not an envelope');
    await runDay(DAYS[0]!);
    // Prometheus must see day 1 before day 2 moves every counter and histogram again (rates need two samples).
    await untilScraped();
    await runDay(DAYS[1]!);
    await untilScraped();
    // A few more scrapes and rule evaluations of the settled pipeline.
    await new Promise((r) => setTimeout(r, 2000));
  }, 150_000);

  afterAll(async () => {
    await prom?.stop();
    await monitor?.close();
    await pipeline?.close();
    await site?.close();
    await db?.drop();
    await nats?.stop();
  });

  it('every PromQL query of every dashboard returns data', async () => {
    const opts = {
      rateInterval: '15s',
      interval: '1s',
      range: `${Math.ceil((Date.now() - startedAt) / 1000)}s`,
    };
    const empty: string[] = [];
    let checked = 0;
    for (const { dashboard } of dashboards()) {
      for (const q of promQueries(dashboard)) {
        const expr = expandPromQL(q.expr, opts);
        const result = await overRun(expr).catch((err: Error) => {
          throw new Error(`${q.dashboard} / ${q.panel} ${q.refId}: ${err.message}\n${expr}`);
        });
        checked++;
        if (!finiteValues(result).length) empty.push(`${q.dashboard} / ${q.panel} ${q.refId}: ${expr}`);
      }
    }
    expect(empty, 'queries without data').toEqual([]);
    expect(checked).toBeGreaterThan(30);
  });

  it('every rule evaluates cleanly, recording rules return data, and every operand of every alert returns data', async () => {
    const res = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
      data: {
        groups: {
          name: string;
          rules: { type: string; name: string; query: string; health: string; lastError?: string }[];
        }[];
      };
    };
    const rules = res.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(11);
    const problems: string[] = [];
    for (const rule of rules) {
      if (rule.health !== 'ok') problems.push(`${rule.name}: health ${rule.health} ${rule.lastError ?? ''}`);
      if (rule.type === 'recording') {
        if (!finiteValues(await overRun(rule.query)).length) problems.push(`${rule.name}: no data`);
        // The recorded series exists too.
        if (!finiteValues(await overRun(rule.name)).length) problems.push(`${rule.name}: nothing recorded`);
        continue;
      }
      await overRun(rule.query); // no error, whether or not it fires
      for (const operand of topLevelOperands(rule.query).filter((o) => !isNumberLiteral(o))) {
        if (!finiteValues(await overRun(operand)).length)
          problems.push(`${rule.name}: operand without data: ${operand}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every metric name in the dashboards and rules is one a running service registers (even where an `or` hides it)', async () => {
    const registered = new Set<string>(['up']);
    for (const host of [pipeline, monitor]) {
      for (const m of await host.deps.registry.getMetricsAsJSON()) {
        registered.add(m.name);
        if (String(m.type) === 'histogram')
          for (const suffix of ['_bucket', '_sum', '_count']) registered.add(m.name + suffix);
      }
    }
    const res = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; type: string; query: string }[] }[] };
    };
    const rules = res.data.groups.flatMap((g) => g.rules);
    for (const r of rules) if (r.type === 'recording') registered.add(r.name);
    const exprs = [
      ...dashboards().flatMap(({ dashboard }) => promQueries(dashboard).map((q) => q.expr)),
      ...rules.map((r) => r.query),
    ];
    const unknown = new Set(exprs.flatMap((e) => metricNames(e)).filter((n) => !registered.has(n)));
    expect([...unknown]).toEqual([]);
  });

  it('the monitor exports what the pipeline did', async () => {
    const last = async (expr: string) =>
      Number((await query('/api/v1/query', { query: expr }))[0]?.value?.[1]);
    expect(await last('max(harbour_jetstream_stream_messages{stream="DLQ"})')).toBe(1);
    expect(await last('max(harbour_lake_files{dataset="quotes"})')).toBe(2);
    expect(await last('max(harbour_dataset_latest_as_of_timestamp_seconds{dataset="quotes"})')).toBe(
      Date.parse(`${DAYS[1]}T00:00:00+08:00`) / 1000,
    );
    expect(await last('max(harbour:consumer_lag:messages{consumer="transformer"})')).toBe(0);
    expect(await last('sum(harbour_scraper_jobs_total{outcome="retrying"})')).toBeGreaterThanOrEqual(1);
  });

  it('every SQL panel runs on the pipeline database; the gold panels return rows', async () => {
    const range = { from: new Date(`${DAYS[0]}T00:00:00+08:00`), to: new Date() };
    const withoutRows: string[] = [];
    for (const { dashboard } of dashboards()) {
      for (const { query: q, rows } of await runSqlQueries(db.pool, dashboard, range))
        if (!rows.length) withoutRows.push(`${q.dashboard} / ${q.panel}`);
    }
    // A clean run has no failed model test and no day below its expected row count (both panels return rows
    // on the seeded database of grafana/grafana.test.ts).
    expect(withoutRows.sort()).toEqual([
      'harbour-data-quality / Days below expected',
      'harbour-data-quality / Failed model tests (run history)',
    ]);
  });
});
