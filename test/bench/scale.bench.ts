/**
 * Scale test: a simulated year of the full market, day by day, through the deployed pipeline —
 * RAW → compactor (its own process) → lake + catalog → transformer (its own process) → silver and gold —
 * with the lake's file count and bytes, the small-file ratio, and the time each day takes to reach
 * the lake and then gold as the year's history grows.
 *
 *   npx tsx test/bench/scale.bench.ts [--stocks 2600] [--participants 100] [--days 245]
 *       [--no-results] [--keep]
 *
 * Data: the synthetic market of test/support/market.ts (the transformer benchmark's). Each trading
 * day this process publishes what the scrapers publish for it — the securities list and the daily
 * quotations as one envelope each, fundamentals and CCASS as one envelope per stock page (every stock
 * × ~`--participants` holders plus the five summary rows) — to `RAW` with the scrapers' dedup ids,
 * and for each dataset the run-completed event the scrapers publish when a run's last job ends,
 * then waits until the catalog holds every row of that day (_to lake_) and the transformer has
 * loaded every active file of it (_to gold_: silver and every affected gold table committed) before
 * the next day. The scrapers' HTTP side is not in the loop: against HKEX it is bound by the polite
 * request rate (about 22 minutes for 2,600 CCASS pages at 2 requests/s), not by Harbour.
 *
 * Services run as deployed (`services/main.ts --service compactor|transformer`, default config)
 * on the local stack (nats-server, embedded Postgres, fs object store). Peak RSS is each service
 * process's VmHWM. Checks at the end: the catalog holds exactly the published rows of every dataset,
 * the transformer has loaded every active file, and every gold table has rows. Then every SQL query of
 * the Grafana dashboards is timed on the year's data (`./panels.ts`; a failing query fails the run).
 * Freshness per dataset and day comes from the compactor's `lake_runs` (Postgres clock): run completed → in lake, and
 * run completed → in gold (the transformer loaded every file of the run's partitions).
 *
 * Results go to test/bench/RESULTS.md between the markers of this benchmark.
 *
 * @bench-quick --stocks 300 --days 15 --participants 40
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import {
  DATASETS,
  type Dataset,
  type Envelope,
  goldTables,
  type RowsByDataset,
  type RunCompleted,
  SCHEMA_VERSION,
} from '../../contracts/index.ts';
import { embeddedSettingsText } from '../../ops/launcher/postgres.ts';
import { startStack } from '../../ops/launcher/stack.ts';
import { migrateCatalog } from '../../services/catalog/index.ts';
import {
  consumerNames,
  ensureTopology,
  msgIds,
  streamNames,
  subjects,
  TopologyConfig,
} from '../../streams/index.ts';
import { createMarket, tradingDays } from '../support/market.ts';
import { logTail, type ServiceProcess, startServiceProcess } from '../support/service-process.ts';
import * as flag from './flags.ts';
import { panelTimingLines, timePanels } from './panels.ts';
import { machineLine, RESULTS_PATH, writeResultsSection } from './results.ts';

const flags = flag.readFlags(
  {
    stocks: flag.int(2600),
    participants: flag.int(100),
    days: flag.int(245),
    'no-results': flag.on(),
    keep: flag.on(),
  },
  process.argv.slice(2),
);
const { stocks: STOCKS, participants: PARTICIPANTS, days: DAYS } = flags;
/** The compactor's default `targetFileBytes`: the small-file ratio is measured against it. */
const TARGET_FILE_BYTES = 128 * 2 ** 20;
/** Publishes in flight at once (the scrapers' publisher keeps a window too). */
const PUBLISH_WINDOW = 256;
/** A day that takes longer than this to reach gold stops the run (something is stuck). */
const DAY_TIMEOUT_MS = 15 * 60_000;

const log = (msg: string) => console.log(`[bench:scale] ${msg}`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

interface DayFigures {
  date: string;
  rows: Record<Dataset, number>;
  publishMs: number;
  toLakeMs: number;
  /** Published → the day's CCASS committed (it does not wait for flushAgeMs). */
  ccassToLakeMs: number;
  toGoldMs: number;
}

function vmHwmOf(pid: number | undefined): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function until(what: string, cond: () => Promise<boolean>, logs: string[]): Promise<void> {
  const end = Date.now() + DAY_TIMEOUT_MS;
  while (!(await cond())) {
    if (Date.now() > end) {
      const tails = await Promise.all(logs.map((l) => logTail(l, 10)));
      throw new Error(`timed out waiting for ${what}\n${tails.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'harbour-scale-'));
  chmodSync(dir, 0o755); // embedded Postgres runs as its own user and must enter the directory
  const loadStart = loadavg()[0]!;
  const stack = await startStack({ dataDir: dir });
  const pool = new pg.Pool({ connectionString: stack.postgres.url, max: 2 });
  const nc = await connect({ servers: stack.nats.url });
  const services: ServiceProcess[] = [];
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await ensureTopology(nc, jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
    await migrateCatalog(pool);
    if (stack.objectStore.backend !== 'fs') throw new Error('the scale test runs on the fs object store');
    const env = {
      ...process.env,
      HARBOUR_NATS_URL: stack.nats.url,
      HARBOUR_POSTGRES_URL: stack.postgres.url,
      HARBOUR_OBJECT_STORE_BACKEND: 'fs',
      HARBOUR_OBJECT_STORE_ROOT: stack.objectStore.root,
      HARBOUR_COMPACTOR_SPOOL_DIR: join(dir, 'spool'),
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'warn',
    };
    const logs = ['compactor', 'transformer'].map((s) => join(dir, `${s}.log`));
    services.push(await startServiceProcess('compactor', env, logs[0]!));
    services.push(await startServiceProcess('transformer', env, logs[1]!));

    // Day 1 should not measure process start-up: wait until both services pull (a pull request waits
    // on each of their consumers).
    const pulling = async (stream: string, consumer: string) =>
      (await jsm.consumers.info(stream, consumer).catch(() => null))?.num_waiting ?? 0;
    await until(
      'the compactor and the transformer to pull',
      async () => {
        for (const d of DATASETS) {
          if (!(await pulling(streamNames.raw, consumerNames.compactor(d)))) return false;
          if (!(await pulling(streamNames.runs, consumerNames.compactorRuns(d)))) return false;
        }
        return (await pulling(streamNames.events, consumerNames.transformer)) > 0;
      },
      logs,
    );

    const market = createMarket({ stocks: STOCKS, days: DAYS, participants: PARTICIPANTS });
    const calendar = tradingDays(DAYS);
    const published: Record<Dataset, number> = { securities: 0, quotes: 0, fundamentals: 0, ccass: 0 };
    let publishedBytes = 0;
    const days: DayFigures[] = [];
    const tAll = performance.now();

    for (let di = 0; di < DAYS; di++) {
      const date = calendar[di]!;
      const runOf = (dataset: Dataset) => `scale-${dataset}-${date}`;
      const envelope = <D extends Dataset>(
        dataset: D,
        key: string,
        rows: RowsByDataset[D][],
      ): Envelope<D> => ({
        schema_version: SCHEMA_VERSION,
        dataset,
        key,
        as_of: date,
        source_url: `http://fixture.local/${dataset}`,
        fetched_at: `${date}T10:30:00.000Z`,
        run_id: runOf(dataset),
        rows,
      });
      const envelopes: Envelope[] = [
        envelope('securities', 'all', market.securitiesOf(di)),
        envelope('quotes', 'all', market.quotesOf(date, di)),
        ...market.fundamentalsOf(date, di).map((r) => envelope('fundamentals', r.code, [r])),
        ...market.ccassOf(date, di, STOCKS).map((p) => envelope('ccass', p.code, p.rows)),
      ];
      const rows: Record<Dataset, number> = { securities: 0, quotes: 0, fundamentals: 0, ccass: 0 };
      for (const e of envelopes) rows[e.dataset] += e.rows.length;

      const t0 = performance.now();
      const lastSeq: Record<Dataset, number> = { securities: 0, quotes: 0, fundamentals: 0, ccass: 0 };
      for (let i = 0; i < envelopes.length; i += PUBLISH_WINDOW) {
        await Promise.all(
          envelopes.slice(i, i + PUBLISH_WINDOW).map(async (e) => {
            const body = JSON.stringify(e);
            publishedBytes += body.length;
            const ack = await js.publish(subjects.raw(e.dataset), body, {
              msgID: msgIds.raw(e.dataset, e.key, date, 'scale'),
            });
            lastSeq[e.dataset] = Math.max(lastSeq[e.dataset], ack.seq);
          }),
        );
      }
      // Each dataset's run ends with its last page: the run-completed event, as the scrapers send it.
      for (const dataset of DATASETS) {
        const completed: RunCompleted = {
          schema_version: SCHEMA_VERSION,
          run_id: runOf(dataset),
          dataset,
          partitions: [date],
          last_raw_seq: lastSeq[dataset],
          completed_at: new Date().toISOString(),
        };
        await js.publish(subjects.runCompleted(dataset), JSON.stringify(completed), {
          msgID: msgIds.runCompleted(completed.run_id),
        });
      }
      const t1 = performance.now();
      let ccassAt = 0;
      await until(
        `${date} in the lake`,
        async () => {
          const { rows: got } = await pool.query<{ dataset: Dataset; n: string }>(
            `select dataset, sum(rows) as n from lake_files
             where status = 'active' and partition_date = $1 group by dataset`,
            [date],
          );
          const done = (d: Dataset) => Number(got.find((g) => g.dataset === d)?.n ?? 0) === rows[d];
          if (!ccassAt && done('ccass')) ccassAt = performance.now();
          return DATASETS.every(done);
        },
        logs,
      );
      const t2 = performance.now();
      await until(
        `${date} in gold`,
        async () => {
          const { rows: left } = await pool.query(
            `select 1 from lake_files f where f.status = 'active' and f.partition_date = $1
             and not exists (select 1 from transform_files t where t.file_key = f.file_key) limit 1`,
            [date],
          );
          return left.length === 0;
        },
        logs,
      );
      const t3 = performance.now();
      for (const d of DATASETS) published[d] += rows[d];
      days.push({
        date,
        rows,
        publishMs: t1 - t0,
        toLakeMs: t2 - t1,
        ccassToLakeMs: ccassAt - t1,
        toGoldMs: t3 - t2,
      });
      log(
        `day ${di + 1}/${DAYS} ${date}: ${fmt(rows.ccass)} CCASS rows; publish ${secs(t1 - t0)}, ` +
          `to lake +${secs(t2 - t1)}, to gold +${secs(t3 - t2)} (elapsed ${secs(performance.now() - tAll)})`,
      );
    }
    const totalMs = performance.now() - tAll;

    // Freshness per dataset and day, from the compactor's run records (the last day's gold mark may
    // lag by the compactor's outbox interval: wait for it).
    await until(
      'every run marked in gold',
      async () =>
        Number(
          (await pool.query('select count(*) as n from lake_runs where in_gold_at is not null')).rows[0].n,
        ) ===
        DAYS * DATASETS.length,
      logs,
    );
    const { rows: fresh } = await pool.query<{ dataset: Dataset; lake_ms: number; gold_ms: number }>(
      `select dataset, extract(epoch from in_lake_at - completed_at)::float8 * 1000 as lake_ms,
         extract(epoch from in_gold_at - completed_at)::float8 * 1000 as gold_ms
       from lake_runs where run_id like 'scale-%'`,
    );
    const freshnessOf = (d: Dataset) => fresh.filter((f) => f.dataset === d);

    // ---------------------------------------------------------------- the lake and the database after the year
    const rss = services.map((s) => vmHwmOf(s.child.pid));
    const { rows: lake } = await pool.query<{ dataset: Dataset; files: string; bytes: string; rows: string }>(
      `select dataset, count(*) as files, sum(bytes) as bytes, sum(rows) as rows
       from lake_files where status = 'active' group by dataset order by dataset`,
    );
    const { rows: parts } = await pool.query<{ files: string; bytes: string }>(
      `select count(*) as files, sum(bytes) as bytes from lake_files where status = 'active'
       group by dataset, partition_date`,
    );
    const needed = parts.reduce((a, p) => a + Math.max(1, Math.ceil(Number(p.bytes) / TARGET_FILE_BYTES)), 0);
    const activeFiles = parts.reduce((a, p) => a + Number(p.files), 0);
    const { rows: replaced } = await pool.query<{ n: string }>(
      `select count(*) as n from lake_files where status = 'replaced'`,
    );
    const { rows: unloaded } = await pool.query<{ n: string }>(
      `select count(*) as n from lake_files f where f.status = 'active'
       and not exists (select 1 from transform_files t where t.file_key = f.file_key)`,
    );
    const gold: Record<string, number> = {};
    for (const t of Object.keys(goldTables))
      gold[t] = Number((await pool.query(`select count(*) as n from gold.${t}`)).rows[0].n);
    const silverCcass = Number(
      (
        await pool.query(
          `select coalesce(sum(rows), 0) as n from lakehouse_files where layer = 'silver' and name = 'ccass'`,
        )
      ).rows[0].n,
    );
    const dbBytes = Number((await pool.query('select pg_database_size(current_database()) as n')).rows[0].n);
    const raw = await jsm.streams.info(streamNames.raw);

    const problems: string[] = [];
    for (const d of DATASETS) {
      const inLake = Number(lake.find((l) => l.dataset === d)?.rows ?? 0);
      if (inLake !== published[d])
        problems.push(`${d}: ${inLake} rows in the lake, ${published[d]} published`);
    }
    if (Number(unloaded[0]!.n) > 0)
      problems.push(`${unloaded[0]!.n} active files not loaded by the transformer`);
    for (const [t, n] of Object.entries(gold)) if (n === 0) problems.push(`gold.${t} is empty`);
    if (problems.length) throw new Error(`scale check failed: ${problems.join('; ')}`);
    log(`run done in ${secs(totalMs)}; checks passed`);

    // Every Grafana SQL panel on the year's data (issue #21: each < 1 s); a failing query fails the run.
    const lastDay = calendar[DAYS - 1]!;
    const panels = await timePanels(pool, lastDay);
    const slowest = Math.max(...panels.map((p) => p.bestMs));
    log(`${panels.length} Grafana SQL queries timed; slowest ${slowest.toFixed(1)} ms`);

    // ---------------------------------------------------------------- report
    const gold10 = (xs: DayFigures[]) => mean(xs.map((d) => d.toGoldMs));
    const window = Math.max(1, Math.min(20, Math.floor(days.length / 4)));
    const block = Math.ceil(days.length / 6);
    const blocks = Array.from({ length: Math.ceil(days.length / block) }, (_, i) =>
      days.slice(i * block, (i + 1) * block),
    );
    const lines: string[] = [
      `## Scale: ${DAYS} trading days of ${fmt(STOCKS)} stocks through the pipeline`,
      '',
      `- Date: ${new Date().toISOString()}`,
      `- Machine: ${machineLine()}; nats-server, embedded Postgres (${embeddedSettingsText()}, otherwise default settings, fsync on) and the fs lake on one disk. Load average (1 min) at start/end: ${loadStart.toFixed(2)} / ${loadavg()[0]!.toFixed(2)} (a shared machine: times carry noise).`,
      `- Command: \`npx tsx test/bench/scale.bench.ts --stocks ${STOCKS} --participants ${PARTICIPANTS} --days ${DAYS}\``,
      `- Flow: each of ${DAYS} trading days (${calendar[0]} … ${calendar[DAYS - 1]}) publishes the scrapers' output for ${fmt(STOCKS)} stocks to \`RAW\` (securities list and quotations one envelope each, fundamentals and CCASS one envelope per stock page), then one run-completed event per dataset, then waits for the compactor (own process) to commit it to the lake and for the transformer (own process) to load it into silver and refresh gold, before the next day. Compactor and transformer default config.`,
      `- Published: ${fmt(published.ccass)} CCASS rows, ${fmt(published.quotes)} quotes, ${fmt(published.fundamentals)} fundamentals, ${fmt(published.securities)} securities-list rows; ${gib(publishedBytes)} of JSON; \`RAW\` holds ${fmt(raw.state.messages)} messages, ${gib(raw.state.bytes)}.`,
      `- Checks passed: the catalog holds exactly the published rows of every dataset; every active file was loaded by the transformer; every gold table has rows.`,
      `- Whole run: ${secs(totalMs)} (${fmt(published.ccass / (totalMs / 1000))} CCASS rows/s end to end). Peak RSS: compactor ${mib(rss[0]!)}, transformer ${mib(rss[1]!)}.`,
      '',
      '| lake (active files) | files | bytes | rows | bytes per row |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...lake.map(
        (l) =>
          `| ${l.dataset} | ${fmt(Number(l.files))} | ${mib(Number(l.bytes))} | ${fmt(Number(l.rows))} | ${(Number(l.bytes) / Number(l.rows)).toFixed(1)} |`,
      ),
      `| all | ${fmt(activeFiles)} | ${mib(lake.reduce((a, l) => a + Number(l.bytes), 0))} | ${fmt(lake.reduce((a, l) => a + Number(l.rows), 0))} | |`,
      '',
      `Small files: ${fmt(activeFiles)} active files in ${fmt(parts.length)} partitions (dataset × date) where ceil(bytes ÷ ${mib(TARGET_FILE_BYTES)}) per partition asks for ${fmt(needed)}: ratio **${(activeFiles / needed).toFixed(3)}**; ${fmt(Number(replaced[0]!.n))} files were replaced by merges during the run. Postgres database after the year: ${gib(dbBytes)} (CCASS silver: ${fmt(silverCcass)} rows in the lake's Parquet, none in Postgres).`,
      '',
      '| per day | p50 | p95 | max |',
      '| --- | ---: | ---: | ---: |',
      ...(
        [
          ['publish (all four datasets)', days.map((d) => d.publishMs)],
          ['published → CCASS in the lake (catalog committed)', days.map((d) => d.ccassToLakeMs)],
          ['published → every dataset in the lake', days.map((d) => d.toLakeMs)],
          ['in the lake → in gold (silver + gold committed)', days.map((d) => d.toGoldMs)],
          ['day total', days.map((d) => d.publishMs + d.toLakeMs + d.toGoldMs)],
        ] as const
      ).map(
        ([name, xs]) =>
          `| ${name} | ${secs(quantile(xs, 0.5))} | ${secs(quantile(xs, 0.95))} | ${secs(Math.max(...xs))} |`,
      ),
      '',
      'Freshness per dataset and day: run completed (the run-completed event) → every record of the run committed to the lake, and → the transformer loaded every file of its partitions (`lake_runs`, Postgres clock; the figures behind `harbour_run_to_lake_seconds` and `harbour_run_to_gold_seconds`).',
      '',
      '| run completed → | p50 | p95 | max |',
      '| --- | ---: | ---: | ---: |',
      ...DATASETS.flatMap((d) =>
        (
          [
            [`${d} in the lake`, freshnessOf(d).map((f) => f.lake_ms)],
            [`${d} in gold`, freshnessOf(d).map((f) => f.gold_ms)],
          ] as const
        ).map(
          ([name, xs]) =>
            `| ${name} | ${secs(quantile(xs, 0.5))} | ${secs(quantile(xs, 0.95))} | ${secs(Math.max(...xs))} |`,
        ),
      ),
      '',
      `Gold refresh as the history grows: mean of the first ${window} days ${secs(gold10(days.slice(0, window)))}, of the last ${window} days ${secs(gold10(days.slice(-window)))}; by sixths of the run (${block} days each): ${blocks.map((b) => secs(gold10(b))).join(', ')}. The first weeks fill the models' windows (30 traded days for the rolling volume, 20 quoted days for the picker).`,
      '',
      `Gold rows after the year: ${Object.entries(gold)
        .map(([t, n]) => `${t} ${fmt(n)}`)
        .join(', ')}.`,
      '',
      ...panelTimingLines(panels, lastDay),
    ];
    if (!flags['no-results']) {
      await writeResultsSection('scale', lines.join('\n'));
      log(`results written to ${RESULTS_PATH}`);
    } else console.log(lines.join('\n'));
  } finally {
    for (const s of services) await s.stop('SIGTERM');
    await nc.close();
    await pool.end();
    await stack.stop();
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
