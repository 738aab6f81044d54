/**
 * Freshness without small files (issue #20), on real nats-server, Postgres, a lake directory and
 * the fixture HKEX site: a finished run's data reaches the lake within seconds with the DEFAULT
 * compactor settings (flushAgeMs 10 min, drainFlushMinRows 100k), and run completion keeps
 * exactly-once when runs interleave and the compactor is killed between them.
 */
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { type RunCompleted, SCHEMA_VERSION } from '../contracts/index.ts';
import { createCalendar } from '../services/calendar/index.ts';
import { listFiles, migrateCatalog } from '../services/catalog/index.ts';
import { CompactorConfig, startCompactor } from '../services/compactor/index.ts';
import { createObjectStore } from '../services/object-store/index.ts';
import type { Service } from '../services/runtime/index.ts';
import {
  createHttpClient,
  migrateRunHistory,
  type PlanRequest,
  planRun,
  runProgress,
  ScrapersConfig,
  startScrapers,
} from '../services/scrapers/index.ts';
import { startTransformer, TransformerConfig } from '../services/transformer/index.ts';
import { msgIds, streamNames, subjects } from '../streams/index.ts';
import { readStream, serviceDeps, testDir, until } from './support/infra.ts';
import { ccassEnvelope, queryLake } from './support/lake.ts';
import { logTail, type ServiceProcess, startServiceProcess } from './support/service-process.ts';
import { fsLakeEnv, useSuiteInfra } from './support/suite.ts';

const DAYS = ['2026-10-05', '2026-10-06', '2026-10-07', '2026-10-08', '2026-10-09'];

describe('a backfill with the default compactor settings', () => {
  const services: Service[] = [];
  const infra = useSuiteInfra({
    site: { seed: 11, stocks: 40, today: '2026-10-16' },
    beforeStop: async () => {
      for (const s of services.reverse()) await s.close();
    },
  });

  it('is in the lake within 2 s of its last job and in gold shortly after', {
    timeout: 120_000,
  }, async () => {
    const store = createObjectStore({ backend: 'fs', root: await testDir('lake') });
    const deps = await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool, store });
    const defaults = Value.Default(ScrapersConfig, {}) as ScrapersConfig;
    const scrapers: ScrapersConfig = {
      ...defaults,
      planner: false,
      sources: { ccassBaseUrl: infra.site.url, hkexBaseUrl: infra.site.url, quoteBaseUrl: infra.site.url },
      http: { ...defaults.http, requestsPerSecond: 50, burst: 10 },
    };
    const compactor: CompactorConfig = {
      ...(Value.Default(CompactorConfig, {}) as CompactorConfig),
      spoolDir: await testDir('spool'),
    };
    expect(compactor.flushAgeMs).toBe(600_000); // the defaults, not a test override
    services.push(await startCompactor(compactor, deps));
    services.push(await startTransformer(Value.Default(TransformerConfig, {}) as TransformerConfig, deps));

    // What `harbour backfill --dataset quotes --from 2026-10-05 --to 2026-10-09` does.
    await migrateRunHistory(infra.db.pool);
    const plan = async (req: PlanRequest) => {
      const http = createHttpClient(scrapers.http, { logger: deps.logger });
      const ctx = {
        js: deps.js,
        pool: infra.db.pool,
        http,
        sources: scrapers.sources,
        calendar: createCalendar(),
        codes: [],
        logger: deps.logger,
      };
      await planRun(ctx, req).finally(() => http.close());
    };
    const runs: string[] = [];
    for (const date of DAYS) {
      const runId = `backfill:test:quotes:${date}`;
      await plan({ runId, dataset: 'quotes', date, trigger: 'backfill' });
      runs.push(runId);
    }
    services.push(await startScrapers(scrapers, deps));
    await until(
      async () => {
        const p = await runProgress(infra.db.pool, runs);
        return p.total === runs.length && p.finished === p.total;
      },
      60_000,
      'the backfill to finish',
    );

    // One run-completed event per run: its partition and the highest RAW sequence of its envelopes.
    // The run history marks a job finished before its worker publishes the run's event.
    let events: RunCompleted[] = [];
    await until(
      async () => {
        events = (await readStream<RunCompleted>(infra.nats.jsm, streamNames.runs)).map((m) => m.data);
        return events.length >= runs.length;
      },
      10_000,
      'every run-completed event',
    );
    const raw = await readStream<{ run_id: string }>(infra.nats.jsm, streamNames.raw, subjects.raw('quotes'));
    expect(events.map((e) => e.run_id).sort()).toEqual(runs);
    for (const e of events) {
      const seqs = raw.filter((m) => m.data.run_id === e.run_id).map((m) => m.seq);
      expect(seqs.length).toBeGreaterThan(0);
      expect(e.last_raw_seq).toBe(Math.max(...seqs));
      expect(e.partitions).toEqual([e.run_id.slice(-10)]);
    }

    // Every run completed, and its data is in the lake within 2 s of its last job.
    await until(
      async () => (await infra.db.pool.query('select 1 from lake_runs')).rowCount === DAYS.length,
      10_000,
      'every run in the lake',
    );
    const { rows: timing } = await infra.db.pool.query<{ run_id: string; lake_s: number; parts: string[] }>(
      `select s.run_id, extract(epoch from l.in_lake_at - s.completed_at)::float8 as lake_s,
         to_json(s.partitions) as parts
       from scrape_runs s join lake_runs l using (run_id) where s.run_id = any($1) order by s.run_id`,
      [runs],
    );
    console.log('run completed → in lake (s):', timing.map((t) => t.lake_s.toFixed(3)).join(', '));
    expect(timing.map((t) => t.parts)).toEqual(DAYS.map((d) => [d]));
    for (const t of timing) expect(t.lake_s).toBeLessThan(2);

    // One file per partition, holding exactly the site's rows for that day.
    const files = await listFiles(infra.db.pool, { dataset: 'quotes' });
    expect(files.map((f) => f.partitionDate)).toEqual(DAYS);
    for (const f of files) expect(f.rows).toBe(infra.site.model.quoteRows(f.partitionDate)?.length);
    const [lake] = await queryLake<{ n: number; days: number }>(
      infra.db.pool,
      store,
      'quotes',
      'select count(*)::int as n, count(distinct trade_date)::int as days from lake',
    );
    const expected = DAYS.reduce((a, d) => a + (infra.site.model.quoteRows(d)?.length ?? 0), 0);
    expect(lake).toEqual({ n: expected, days: DAYS.length });

    // And in gold shortly after: daily_prices holds every quotation row; the run history says when.
    await until(
      async () =>
        (await infra.db.pool.query('select 1 from lake_runs where in_gold_at is not null')).rowCount ===
        DAYS.length,
      30_000,
      'every run in gold',
    );
    const { rows: gold } = await infra.db.pool.query<{ n: string }>(
      'select count(*) as n from gold.daily_prices where trade_date = any($1::date[])',
      [DAYS],
    );
    expect(Number(gold[0]?.n)).toBe(expected);
    const { rows: goldTiming } = await infra.db.pool.query<{ s: number }>(
      'select extract(epoch from in_gold_at - completed_at)::float8 as s from lake_runs order by run_id',
    );
    console.log('run completed → in gold (s):', goldTiming.map((t) => t.s.toFixed(3)).join(', '));
    for (const t of goldTiming) expect(t.s).toBeLessThan(15);

    // A run whose jobs end without data (an unknown stock) completes too; the event names only
    // what was published.
    const ccassRun = 'backfill:test:ccass:2026-10-09';
    const known = infra.site.universe()[0]!.code;
    await plan({
      runId: ccassRun,
      dataset: 'ccass',
      date: '2026-10-09',
      trigger: 'backfill',
      codes: [known, '99999'],
    });
    await until(
      async () =>
        (await infra.db.pool.query('select 1 from lake_runs where run_id = $1', [ccassRun])).rowCount === 1,
      30_000,
      'the CCASS run in the lake',
    );
    expect((await runProgress(infra.db.pool, [ccassRun])).byStatus).toEqual({ done: 1, unknown_stock: 1 });
    const { rows: status } = await infra.db.pool.query(
      'select done, unknown_stock, open, completed_at is not null as completed from scrape_run_status where run_id = $1',
      [ccassRun],
    );
    expect(status).toEqual([{ done: '1', unknown_stock: '1', open: '0', completed: true }]);
    const ccassEvent = (
      await readStream<RunCompleted>(infra.nats.jsm, streamNames.runs, subjects.runCompleted('ccass'))
    )[0]?.data;
    expect(ccassEvent?.partitions).toEqual(['2026-10-09']);
    expect((await listFiles(infra.db.pool, { dataset: 'ccass' })).map((f) => f.rows)).toEqual([
      infra.site.model.ccassRows(known, '2026-10-09')?.length,
    ]);

    // The histograms a dashboard reads.
    const metrics = await deps.registry.metrics();
    expect(metrics).toMatch(/harbour_run_to_lake_seconds_count\{dataset="quotes"\} 5/);
    expect(metrics).toMatch(/harbour_run_to_gold_seconds_count\{dataset="quotes"\} 5/);
  });
});

describe('interleaved runs and a compactor killed between their completions', () => {
  const ACK_WAIT_MS = 3000;
  let child: ServiceProcess | undefined;
  const infra = useSuiteInfra({
    topology: { compactorAckWaitMs: ACK_WAIT_MS },
    prepare: () => migrateCatalog(infra.db.pool),
    beforeStop: async () => child?.stop('SIGKILL'),
  });

  it('commits each record once, each run as soon as it completes', { timeout: 120_000 }, async () => {
    const root = await testDir('lake');
    const store = createObjectStore({ backend: 'fs', root });
    const spool = await testDir('spool');
    const logPath = join(spool, 'compactor.log');
    // Default compactor settings (flushAgeMs 10 min) except a short lease, so the restart need not wait 15 s.
    const env = infra.env({
      ...fsLakeEnv(root),
      HARBOUR_TOPOLOGY_COMPACTOR_ACK_WAIT_MS: String(ACK_WAIT_MS),
      HARBOUR_COMPACTOR_DATASETS: 'ccass',
      HARBOUR_COMPACTOR_SPOOL_DIR: spool,
      HARBOUR_COMPACTOR_LEASE_TTL_MS: '1500',
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'info',
    });
    const js = jetstream(infra.nats.nc);
    const seqs: Record<'a' | 'b' | 'c', number[]> = { a: [], b: [], c: [] };
    const publish = async (run: 'a' | 'b' | 'c', i: number) => {
      // Run a collects 2026-10-05 and 2026-10-06, run b 2026-10-06 and 2026-10-07: one shared partition.
      const date =
        run === 'c'
          ? '2026-10-08'
          : run === 'a'
            ? i % 2
              ? '2026-10-05'
              : '2026-10-06'
            : i % 2
              ? '2026-10-06'
              : '2026-10-07';
      const env = { ...ccassEnvelope(`${run}${i}`, date, 40), run_id: `run-${run}` };
      seqs[run].push((await js.publish(subjects.raw('ccass'), JSON.stringify(env))).seq);
    };
    const complete = (run: 'a' | 'b' | 'c', partitions: string[]) => {
      const event: RunCompleted = {
        schema_version: SCHEMA_VERSION,
        run_id: `run-${run}`,
        dataset: 'ccass',
        partitions,
        last_raw_seq: Math.max(...seqs[run]),
        completed_at: new Date().toISOString(),
      };
      return js.publish(subjects.runCompleted('ccass'), JSON.stringify(event), {
        msgID: msgIds.runCompleted(event.run_id),
      });
    };
    const lakeSeconds = async (run: string) =>
      Number(
        (
          await infra.db.pool.query(
            'select extract(epoch from in_lake_at - completed_at)::float8 as s from lake_runs where run_id = $1',
            [run],
          )
        ).rows[0]?.s,
      );
    const inLake = async (run: string) =>
      (
        await infra.db.pool
          .query('select 1 from lake_runs where run_id = $1', [run])
          .catch(() => ({ rowCount: 0 }))
      ).rowCount === 1;
    const consumed = async () => {
      const info = await infra.nats.jsm.consumers.info(streamNames.raw, 'compactor-ccass');
      return info.num_pending === 0;
    };

    child = await startServiceProcess('compactor', env, logPath);
    // Interleaved: a0 b0 a1 b1 … ; run a completes, and is committed at once.
    for (let i = 0; i < 20; i++) {
      await publish('a', i);
      await publish('b', i);
    }
    await until(consumed, 10_000, 'the compactor to take runs a and b');
    await complete('a', ['2026-10-05', '2026-10-06']);
    await until(() => inLake('run-a'), 10_000, `run a in the lake\n${await logTail(logPath)}`);
    const aSeconds = await lakeSeconds('run-a');
    console.log(`run a in the lake ${aSeconds.toFixed(3)} s after its completion`);
    expect(aSeconds).toBeLessThan(2);

    // More of run b, consumed (buffered, not committed) by the compactor, which is then killed.
    for (let i = 20; i < 30; i++) await publish('b', i);
    await until(consumed, 10_000, 'the compactor to take run b');
    await new Promise((r) => setTimeout(r, 300));
    await child.stop('SIGKILL');
    // The rest of b while no compactor runs, then b completes; a new compactor takes over.
    for (let i = 30; i < 40; i++) await publish('b', i);
    await complete('b', ['2026-10-06', '2026-10-07']);
    // A second completion of the same run (another scraper saw it finish too) is dropped.
    expect((await complete('b', ['2026-10-06', '2026-10-07'])).duplicate).toBe(true);
    child = await startServiceProcess('compactor', env, logPath);
    await until(() => inLake('run-b'), 30_000, `run b in the lake\n${await logTail(logPath)}`);
    // b's records the killed compactor held come back after ack_wait; b waits for them, not for flushAgeMs.
    const bSeconds = await lakeSeconds('run-b');
    console.log(
      `run b in the lake ${bSeconds.toFixed(3)} s after its completion (ack wait ${ACK_WAIT_MS} ms)`,
    );
    expect(bSeconds).toBeLessThan(30);

    // Every record once: DuckDB over the files the catalog lists.
    const [lake] = await queryLake<{ n: number; ids: number; seqs: number }>(
      infra.db.pool,
      store,
      'ccass',
      'select count(*)::int as n, count(distinct participant_id)::int as ids, count(distinct _seq)::int as seqs from lake',
    );
    expect(lake).toEqual({ n: 60 * 40, ids: 60 * 40, seqs: 60 });
    const runsInLake = await queryLake<{ run: string; n: number }>(
      infra.db.pool,
      store,
      'ccass',
      'select _run_id as run, count(*)::int as n from lake group by 1 order by 1',
    );
    expect(runsInLake).toEqual([
      { run: 'run-a', n: 20 * 40 },
      { run: 'run-b', n: 40 * 40 },
    ]);
    // Nothing waited for flushAgeMs: the consumer has nothing unacked, every run event is acked.
    const raw = await infra.nats.jsm.consumers.info(streamNames.raw, 'compactor-ccass');
    expect(raw.num_ack_pending).toBe(0);
    const runEvents = await infra.nats.jsm.consumers.info(streamNames.runs, 'compactor-runs-ccass');
    expect(runEvents.num_ack_pending + runEvents.num_pending).toBe(0);
    expect(await readStream(infra.nats.jsm, streamNames.runs)).toHaveLength(2);
    // Files: run a's completion committed its two partitions (10-06 with b's records so far); b's
    // completion then one file per partition for everything b still had, redeliveries included.
    const files = await listFiles(infra.db.pool, { dataset: 'ccass' });
    const perPartition = (d: string) => files.filter((f) => f.partitionDate === d).map((f) => f.rows);
    console.log('files:', files.map((f) => `${f.partitionDate} ${f.rows} rows`).join(', '));
    expect(perPartition('2026-10-05')).toEqual([10 * 40]);
    // (10-06: a's completion took b's records of that day consumed by then; b's completion the rest.)
    expect(perPartition('2026-10-06')).toHaveLength(2);
    expect(perPartition('2026-10-06').reduce((x, y) => x + y, 0)).toBe(30 * 40);
    expect(perPartition('2026-10-07')).toEqual([20 * 40]);

    // After a graceful restart (everything acked) a run is committed at once again.
    await child.stop('SIGTERM');
    child = await startServiceProcess('compactor', env, logPath);
    // Once it pulls (a pull request waits on both its consumers): start-up is not part of the figure.
    const pulls = async (stream: string, consumer: string) =>
      (await infra.nats.jsm.consumers.info(stream, consumer)).num_waiting > 0;
    await until(
      async () =>
        (await pulls(streamNames.raw, 'compactor-ccass')) &&
        (await pulls(streamNames.runs, 'compactor-runs-ccass')),
      30_000,
      'the restarted compactor to pull',
    );
    for (let i = 0; i < 5; i++) await publish('c', i);
    await complete('c', ['2026-10-08']);
    await until(() => inLake('run-c'), 30_000, `run c in the lake\n${await logTail(logPath)}`);
    const cSeconds = await lakeSeconds('run-c');
    console.log(`run c in the lake ${cSeconds.toFixed(3)} s after its completion`);
    expect(cSeconds).toBeLessThan(2);
    expect(
      (await listFiles(infra.db.pool, { dataset: 'ccass', partitionDate: '2026-10-08' })).map((f) => f.rows),
    ).toEqual([5 * 40]);
  });
});
