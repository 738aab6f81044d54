/**
 * Transformer benchmark: gold refresh for one day of full-market data and a full rebuild of a year,
 * each next to DuckDB doing the same aggregations (test/support/reference-transform.ts) on the same
 * lake files in the same run; plus event-to-gold latency through the running service.
 *
 *   npx tsx test/bench/transformer.bench.ts [--stocks 2600] [--participants 100] [--days 245]
 *       [--ccass-stocks 200] [--refresh-days 3] [--checkpointed-days 1] [--rebuild-runs 2]
 *       [--warmup-days 1] [--no-results] [--keep]
 *
 * Data: a synthetic market generated with a seeded PRNG (no-trade days, suspensions, new listings,
 * participants coming and going) written as lake files exactly like the compactor writes them and
 * registered in `lake_files`, on the local stack (embedded Postgres, nats-server, fs object store).
 *
 * - History: `--days` trading days of quotes, fundamentals and the securities list for every stock;
 *   CCASS for the first `--ccass-stocks` stocks (a full market for a year is ~64 M rows: raise the
 *   flag to go there), except the last history day, which has every stock (the refresh compares with it).
 * - Year rebuild: `rebuild()` over all those files vs DuckDB building every gold table from them,
 *   `--rebuild-runs` times each, alternating; the fastest of each side compared (a shared machine's
 *   noise moves one run by ±10 s).
 * - Daily refresh, in the steady state (after a VACUUM (ANALYZE) and `--warmup-days` days the
 *   service refreshed first, not reported): `--refresh-days` more days, each day's four files (securities, quotes,
 *   fundamentals, CCASS for EVERY stock × ~`--participants`) published one after another to the
 *   running transformer; per event latency = lake commit → gold committed (polled, 5 ms). DuckDB:
 *   the same gold tables for that day from the files that day needs (quotes of the last 120 trading
 *   days, CCASS of the day and the day before, that day's fundamentals and list).
 * - Then `--checkpointed-days` more days refreshed the same way, with a Postgres CHECKPOINT before
 *   each event: in production a day's events come hours apart, so a checkpoint (every 5 min by
 *   default) always falls between them, and an event writes every page it is the first to change
 *   since then whole into the WAL. Reported on rows of their own; the latency tables leave them out.
 * Both sides are checked against each other (row counts and column sums per table) on the last day.
 *
 * Results go to test/bench/RESULTS.md between the markers of this benchmark.
 */

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import type { Dataset, GoldTable, LakeCommitted } from '../../contracts/index.ts';
import { goldTables } from '../../contracts/index.ts';
import { embeddedSettingsText } from '../../ops/launcher/postgres.ts';
import { startStack } from '../../ops/launcher/stack.ts';
import { migrateCatalog } from '../../services/catalog/index.ts';
import { FsObjectStore } from '../../services/object-store/index.ts';
import { createHealthRegistry, createRegistry, silentLogger } from '../../services/runtime/index.ts';
import {
  loadModels,
  migrateTransformer,
  type RebuildResult,
  rebuild,
  startTransformer,
  TransformerConfig,
} from '../../services/transformer/index.ts';
import { ensureTopology, subjects, TopologyConfig } from '../../streams/index.ts';
import { createMarket, tradingDays } from '../support/market.ts';
import { referenceSql } from '../support/reference-transform.ts';
import { type EnvelopeSpec, writeLakeFile } from '../support/transformer.ts';
import * as flag from './flags.ts';
import { RESULTS_PATH, writeResultsSection } from './results.ts';

const flags = flag.readFlags(
  {
    stocks: flag.int(2600),
    participants: flag.int(100),
    days: flag.int(245),
    'ccass-stocks': flag.int(200),
    'refresh-days': flag.int(3),
    'checkpointed-days': flag.int(1, 0),
    'rebuild-runs': flag.int(2),
    'warmup-days': flag.int(1, 0),
    'no-results': flag.on(),
    keep: flag.on(),
  },
  process.argv.slice(2),
);
const { stocks: STOCKS, participants: PARTICIPANTS, days: DAYS } = flags;
const CCASS_STOCKS = Math.min(STOCKS, flags['ccass-stocks']);
const REFRESH_DAYS = flags['refresh-days'];
const CHECKPOINTED_DAYS = flags['checkpointed-days'];
const REBUILD_RUNS = flags['rebuild-runs'];
const WARMUP_DAYS = flags['warmup-days'];
/** Trading days of quotes DuckDB reads for one day's gold: enough for 30 traded days of illiquid or suspended stocks. */
const QUOTE_LOOKBACK = 120;

const log = (msg: string) => console.log(`[bench:transformer] ${msg}`);

const { quotesOf, fundamentalsOf, securitiesOf, ccassOf } = createMarket({
  stocks: STOCKS,
  days: DAYS,
  participants: PARTICIPANTS,
});

// ------------------------------------------------------------------ harness

let seq = 0;
const refreshed: DayFiles[] = [];
const at = (date: string, hhmm: string) => `${date}T${hhmm}:00.000Z`;

interface DayFiles {
  date: string;
  events: LakeCommitted[];
  rows: Record<Dataset, number>;
}

async function writeDay(
  store: FsObjectStore,
  pool: pg.Pool,
  date: string,
  di: number,
  ccassStocks: number,
): Promise<DayFiles> {
  const events: LakeCommitted[] = [];
  const rows: Record<Dataset, number> = { securities: 0, quotes: 0, fundamentals: 0, ccass: 0 };
  const put = async <D extends Dataset>(dataset: D, envs: Omit<EnvelopeSpec<D>, 'seq'>[]) => {
    const w = await writeLakeFile(
      store,
      pool,
      dataset,
      envs.map((e) => ({ ...e, seq: ++seq })),
      { writer: 'bench' },
    );
    events.push(w.event);
    rows[dataset] += w.event.rows;
  };
  const sec = securitiesOf(di);
  await put('securities', [{ key: 'all', as_of: date, fetched_at: at(date, '10:00'), rows: sec }]);
  const q = quotesOf(date, di);
  await put('quotes', [{ key: 'all', as_of: date, fetched_at: at(date, '10:30'), rows: q }]);
  const f = fundamentalsOf(date, di);
  await put(
    'fundamentals',
    f.map((r) => ({ key: r.code, as_of: date, fetched_at: at(date, '11:00'), rows: [r] })),
  );
  const c = ccassOf(date, di, ccassStocks);
  if (c.length) {
    await put(
      'ccass',
      c.map((p) => ({ key: p.code, as_of: date, fetched_at: at(date, '23:30'), rows: p.rows })),
    );
  }
  return { date, events, rows };
}

function machine(): string {
  const c = cpus();
  return `${c[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown CPU'}, ${c.length} cores, ${(totalmem() / 2 ** 20).toFixed(1)} MiB RAM, Linux ${release()}, Node ${process.version}`;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Row counts and column sums of every gold table, for a cheap cross-check of two engines. */
const NUMERIC = (t: GoldTable) =>
  Object.entries(goldTables[t].properties)
    .filter(([, v]) => JSON.stringify(v).includes('"number"') || JSON.stringify(v).includes('"integer"'))
    .map(([k]) => k);

/** Each gold table's row count and numeric column sums (`where` narrows a table), `[n, ...sums]`, from `sumsOf`'s row. */
async function fingerprint(
  where: (t: GoldTable) => string | null,
  sumsOf: (t: GoldTable, cols: string[], where: string | null) => Promise<Record<string, number>>,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const t of Object.keys(goldTables) as GoldTable[]) {
    const cols = NUMERIC(t);
    const row = await sumsOf(t, cols, where(t));
    out[t] = [row['n']!, ...cols.map((c) => row[c]!)];
  }
  return out;
}

const pgFingerprint = (pool: pg.Pool, where: (t: GoldTable) => string | null) =>
  fingerprint(where, async (t, cols, w) => {
    const { rows } = await pool.query(
      `select count(*)::float8 as n${cols.map((c) => `, coalesce(sum(${c}), 0)::float8 as ${c}`).join('')} from gold.${t} ${w ? `where ${w}` : ''}`,
    );
    return rows[0] as Record<string, number>;
  });

const duckFingerprint = (
  conn: Awaited<ReturnType<DuckDBInstance['connect']>>,
  where: (t: GoldTable) => string | null,
) =>
  fingerprint(where, async (t, cols, w) => {
    const reader = await conn.runAndReadAll(
      `SELECT CAST(count(*) AS DOUBLE) AS n${cols.map((c) => `, CAST(coalesce(sum(${c}), 0) AS DOUBLE) AS ${c}`).join('')} FROM g_${t} ${w ? `WHERE ${w}` : ''}`,
    );
    return reader.getRowObjectsJS()[0] as Record<string, number>;
  });

function compareFingerprints(a: Record<string, number[]>, b: Record<string, number[]>): string[] {
  const bad: string[] = [];
  for (const t of Object.keys(a)) {
    const x = a[t]!;
    const y = b[t]!;
    x.forEach((v, i) => {
      if (Math.abs(v - y[i]!) > 1e-6 * Math.max(1, Math.abs(v), Math.abs(y[i]!)))
        bad.push(`${t}[${i}]: ${v} vs ${y[i]}`);
    });
  }
  return bad;
}

// ------------------------------------------------------------------ main

async function main() {
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'harbour-bench-transformer-'));
  // Embedded Postgres runs as the `postgres` user when we are root: it must be able to enter the dir.
  chmodSync(dir, 0o755);
  log(`data dir ${dir}`);
  const stack = await startStack({ dataDir: dir, objectStore: 'fs', log: (m) => log(m) });
  const pool = new pg.Pool({ connectionString: stack.postgres.url, max: 6 });
  pool.on('error', () => {}); // connections cut when the stack stops
  const nc = await connect({ servers: stack.nats.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  const threads = (await conn.runAndReadAll(`SELECT current_setting('threads') AS t`)).getRowObjectsJS()[0]?.[
    't'
  ];
  try {
    await ensureTopology(nc, jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
    const store = new FsObjectStore({ root: join(dir, 'lake') });
    await migrateCatalog(pool);
    await migrateTransformer(pool);
    const pathOf = (key: string) => join(store.root, ...key.split('/'));
    const calendar = tradingDays(DAYS + WARMUP_DAYS + REFRESH_DAYS + CHECKPOINTED_DAYS);

    // ---------------------------------------------------------- history
    const t0 = performance.now();
    const history: DayFiles[] = [];
    for (let di = 0; di < DAYS; di++) {
      history.push(await writeDay(store, pool, calendar[di]!, di, di === DAYS - 1 ? STOCKS : CCASS_STOCKS));
      if ((di + 1) % 25 === 0) log(`history: ${di + 1}/${DAYS} days written`);
    }
    const histRows = { securities: 0, quotes: 0, fundamentals: 0, ccass: 0 };
    for (const d of history) for (const k of Object.keys(histRows) as Dataset[]) histRows[k] += d.rows[k];
    const histFiles = history.reduce((a, d) => a + d.events.length, 0);
    log(
      `history written in ${secs(performance.now() - t0)}: ${histFiles} files, ${JSON.stringify(histRows)}`,
    );

    // ---------------------------------------------------------- year rebuild: Postgres vs DuckDB
    const registry = createRegistry({ defaultMetrics: false });
    const files: Record<Dataset, string[]> = { securities: [], quotes: [], fundamentals: [], ccass: [] };
    for (const d of history) for (const e of d.events) files[e.dataset].push(pathOf(e.file_key));
    // Each side `--rebuild-runs` times, alternating (the machine's noise falls on both), the fastest
    // of each compared; after each rebuild an untimed VACUUM (ANALYZE).
    const rebuildRuns: { ms: number; result: RebuildResult; ccassServed: number[] }[] = [];
    let yearDuck: DuckDBInstance | null = null;
    let lastYear = conn;
    const duckYearRuns: number[] = [];
    for (let run = 1; run <= REBUILD_RUNS; run++) {
      let lastLog = 0;
      // When the CCASS holding dates were served (computed beside the rest from the start).
      const ccassServed: number[] = [];
      const tr = performance.now();
      const result = await rebuild({}, { pool, store, logger: silentLogger(), registry }, (p) => {
        if (p.phase === 'silver' && p.dataset === 'ccass') ccassServed.push(p.elapsedMs);
        if (p.phase === 'silver' && performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          log(`rebuild ${run}: silver ${p.done}/${p.total} files (${p.dataset}) at ${secs(p.elapsedMs)}`);
        }
        if (p.phase === 'commit') log(`rebuild ${run}: commit at ${secs(p.elapsedMs)}`);
        if (p.phase === 'gold' && p.state === 'done')
          log(`rebuild ${run}: ${p.model} ${fmt(p.rows ?? 0)} rows at ${secs(p.elapsedMs)}`);
      });
      rebuildRuns.push({ ms: performance.now() - tr, result, ccassServed });
      log(`rebuild ${run} done in ${secs(performance.now() - tr)} (${result.silverRows} silver rows)`);
      // Autovacuum's pass over the rewritten tables would otherwise share the machine with what
      // follows; this also leaves the database as production finds it hours after a rebuild.
      const tv = performance.now();
      await pool.query('vacuum (analyze)');
      log(`vacuum (analyze) after rebuild ${run} in ${secs(performance.now() - tv)} (not timed)`);
      // A DuckDB of its own each time, as each rebuild opens one: a second run in the same instance
      // reuses the memory the first took from the system, ~30 % faster.
      if (lastYear !== conn) lastYear.closeSync();
      yearDuck?.closeSync();
      yearDuck = await DuckDBInstance.create(':memory:');
      const yearConn = await yearDuck.connect();
      const td = performance.now();
      for (const sql of referenceSql(files)) await yearConn.run(sql);
      duckYearRuns.push(performance.now() - td);
      log(`DuckDB year ${run} in ${secs(performance.now() - td)}`);
      lastYear = yearConn;
    }
    const fastest = rebuildRuns.reduce((a, b) => (b.ms < a.ms ? b : a));
    const { result, ccassServed } = fastest;
    const rebuildMs = fastest.ms;
    const duckYearMs = Math.min(...duckYearRuns);
    const yearCheck = compareFingerprints(
      await pgFingerprint(pool, () => null),
      await duckFingerprint(lastYear, () => null),
    );
    if (lastYear !== conn) lastYear.closeSync();
    yearDuck?.closeSync();
    if (yearCheck.length)
      throw new Error(`year rebuild differs from DuckDB: ${yearCheck.slice(0, 10).join('; ')}`);
    const goldRows: Record<string, number> = {};
    for (const t of Object.keys(goldTables)) {
      goldRows[t] = Number((await pool.query(`select count(*) as n from gold.${t}`)).rows[0].n);
    }

    // ---------------------------------------------------------- daily refresh through the service
    const health = createHealthRegistry();
    const deps = { nc, js, jsm, pool, store, logger: silentLogger(), registry, health };
    const service = await startTransformer(Value.Default(TransformerConfig, {}) as TransformerConfig, deps);
    const latencies: { dataset: Dataset; ms: number; rows: number }[] = [];
    const days: {
      date: string;
      pgMs: number;
      duckMs: number;
      rows: Record<Dataset, number>;
      /** WAL bytes Postgres wrote during the day's events. */
      wal: number;
      checkpointed: boolean;
    }[] = [];
    const probe = new pg.Client({ connectionString: stack.postgres.url });
    probe.on('error', () => {});
    await probe.connect();
    // Left out of the tables: the days the service refreshes first after it starts.
    const warmups: { date: string; ms: number }[] = [];
    const allDays = WARMUP_DAYS + REFRESH_DAYS + CHECKPOINTED_DAYS;
    for (let r = 0; r < allDays; r++) {
      const di = DAYS + r;
      const warmup = r < WARMUP_DAYS;
      const checkpointed = r >= WARMUP_DAYS + REFRESH_DAYS;
      const date = calendar[di]!;
      const day = await writeDay(store, pool, date, di, STOCKS);
      let dayMs = 0;
      let dayWal = 0;
      for (const ev of day.events) {
        if (checkpointed) await probe.query('checkpoint');
        const lsn0 = (await probe.query('select pg_current_wal_lsn()::text as l')).rows[0].l;
        const committed = Date.now();
        const event = { ...ev, committed_at: new Date(committed).toISOString() };
        await js.publish(subjects.lakeCommitted(ev.dataset), JSON.stringify(event), { msgID: ev.file_key });
        for (;;) {
          const { rowCount } = await probe.query('select 1 from transform_files where file_key = $1', [
            ev.file_key,
          ]);
          if (rowCount) break;
          await new Promise((res) => setTimeout(res, 5));
        }
        const ms = Date.now() - committed;
        if (!checkpointed && !warmup) latencies.push({ dataset: ev.dataset, ms, rows: ev.rows });
        const wal = (
          await probe.query('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::float8 as w', [lsn0])
        ).rows[0].w;
        log(`  ${ev.dataset} ${fmt(ev.rows)} rows: ${secs(ms)} WAL ${mib(wal)}`);
        dayMs += ms;
        dayWal += wal;
      }
      if (warmup) {
        refreshed.push(day);
        warmups.push({ date, ms: dayMs });
        log(`warm-up ${date}: Postgres ${secs(dayMs)} (not in the tables)`);
        continue;
      }
      // DuckDB: the same gold tables for that day from the files the day needs.
      const need: Record<Dataset, string[]> = { securities: [], quotes: [], fundamentals: [], ccass: [] };
      const byDate = new Map<string, LakeCommitted[]>();
      for (const d of [...history, day]) byDate.set(d.date, d.events);
      for (const d of refreshed) byDate.set(d.date, d.events);
      const window = calendar.slice(Math.max(0, di - (QUOTE_LOOKBACK - 1)), di + 1);
      for (const dd of window)
        for (const e of byDate.get(dd) ?? [])
          if (e.dataset === 'quotes') need.quotes.push(pathOf(e.file_key));
      for (const dd of calendar.slice(di - 1, di + 1)) {
        for (const e of byDate.get(dd) ?? []) if (e.dataset === 'ccass') need.ccass.push(pathOf(e.file_key));
      }
      for (const e of day.events)
        if (e.dataset === 'fundamentals' || e.dataset === 'securities')
          need[e.dataset].push(pathOf(e.file_key));
      const tdd = performance.now();
      for (const sql of referenceSql(need)) await conn.run(sql);
      const duckMs = performance.now() - tdd;
      refreshed.push(day);
      days.push({ date, pgMs: dayMs, duckMs, rows: day.rows, wal: dayWal, checkpointed });
      log(`refresh ${date}: Postgres ${secs(dayMs)} (events one after another), DuckDB ${secs(duckMs)}`);
      if (r === allDays - 1) {
        const dateCol: Partial<Record<GoldTable, string>> = {
          daily_prices: 'trade_date',
          rolling_directed_volume: 'trade_date',
          ccass_concentration: 'holding_date',
          ccass_changes: 'holding_date',
          stock_picker: 'as_of',
        };
        const where = (t: GoldTable) => (dateCol[t] ? `${dateCol[t]} = DATE '${date}'` : 'false');
        const bad = compareFingerprints(await pgFingerprint(pool, where), await duckFingerprint(conn, where));
        if (bad.length)
          throw new Error(`refresh of ${date} differs from DuckDB: ${bad.slice(0, 10).join('; ')}`);
      }
    }
    // Where an event's time goes: its model runs (recorded durations) and the rest (silver, commit).
    const { rows: eventModels } = await probe.query<{ dataset: string; model: string; ms: number }>(
      `select f.dataset, r.model, avg(r.duration_ms)::float8 as ms
       from transform_files t join lake_files f using (file_key) join transform_runs r using (batch_id)
       where t.file_key = any($1) and r.status = 'succeeded'
       group by f.dataset, r.model order by f.dataset, ms desc`,
      [
        refreshed
          .slice(WARMUP_DAYS, WARMUP_DAYS + REFRESH_DAYS)
          .flatMap((d) => d.events.map((e) => e.file_key)),
      ],
    );
    await probe.end();
    await service.close();

    // ---------------------------------------------------------- report
    const last = days.at(-1)!;
    const byDs = (ds: Dataset) => latencies.filter((l) => l.dataset === ds).map((l) => l.ms);
    const lines = [
      '## Transformer (lake files → silver → gold)',
      '',
      `- Date: ${new Date().toISOString()}`,
      `- Machine: ${machine()}; DuckDB threads: ${threads}; Postgres: the stack's embedded server (${embeddedSettingsText()}, otherwise default settings, fsync on). Load average (1 min) at start/end: ${loadAtStart.toFixed(2)} / ${loadavg()[0]!.toFixed(2)} (a shared machine: times carry noise).`,
      `- Command: \`npx tsx test/bench/transformer.bench.ts --stocks ${STOCKS} --participants ${PARTICIPANTS} --days ${DAYS} --ccass-stocks ${CCASS_STOCKS} --refresh-days ${REFRESH_DAYS} --checkpointed-days ${CHECKPOINTED_DAYS} --rebuild-runs ${REBUILD_RUNS} --warmup-days ${WARMUP_DAYS}\``,
      `- Market: ${fmt(STOCKS)} stocks (seeded PRNG: no-trade days, suspensions, listings during the year; the fundamentals carry the day's open, as the quote widget does, so each fundamentals file changes the day's prices), one lake file per dataset and day as the compactor writes them.`,
      `- Year history: ${DAYS} trading days, ${fmt(histFiles)} files: ${fmt(histRows.quotes)} quotes, ${fmt(histRows.fundamentals)} fundamentals, ${fmt(histRows.securities)} securities-list rows, ${fmt(histRows.ccass)} CCASS rows (${CCASS_STOCKS} stocks a day, every stock on the last day; a full market for a year is ~${fmt(STOCKS * PARTICIPANTS * DAYS)} rows: \`--ccass-stocks ${STOCKS}\`).`,
      `- Daily refresh: each day's 4 files (securities ${fmt(last.rows.securities)}, quotes ${fmt(last.rows.quotes)}, fundamentals ${fmt(last.rows.fundamentals)}, CCASS ${fmt(last.rows.ccass)} rows = every stock × ~${PARTICIPANTS} participants) published one after another to the running service; each waits for the previous to reach gold. Measured in the steady state production's events find: after the \`VACUUM (ANALYZE)\` that follows each rebuild (hours after a rebuild, autovacuum is done), and after ${WARMUP_DAYS} day(s) the service refreshed first, left out of the tables (${warmups.map((w) => `${w.date}: ${secs(w.ms)}`).join(', ') || 'none'}): the first day after the service starts was the slowest of the days in every run of this session (by 0.2–1.1 s; likely because the service's DuckDB has no local copy of the day before's silver yet and its caches are cold).`,
      `- DuckDB side: test/support/reference-transform.ts (the independent computation the tests compare with) on the same Parquet files, in this process; for a day it reads what that day needs (${QUOTE_LOOKBACK} trading days of quotes, enough for 30 traded days of an illiquid stock, CCASS of the day and the day before, the day's fundamentals and list) and computes all gold tables. Results of both engines agree (row counts and column sums of every gold table: whole year, and the last refreshed day).`,
      '',
      '| scenario | Harbour (Postgres; CCASS on DuckDB over the lake) | DuckDB reference | Harbour ÷ reference |',
      '| --- | ---: | ---: | ---: |',
      ...days.map(
        (d) =>
          `| gold refresh, one full-market day (${d.date})${d.checkpointed ? ', a checkpoint before each event' : ''} | ${secs(d.pgMs)} | ${secs(d.duckMs)} | ${ratio(d.pgMs, d.duckMs)} |`,
      ),
      `| full rebuild of the year (silver from ${fmt(histFiles)} files + every gold table) | ${secs(rebuildMs)} | ${secs(duckYearMs)} | ${ratio(rebuildMs, duckYearMs)} |`,
      '',
      `WAL Postgres wrote for each refreshed day's events: ${days.map((d) => `${d.date} ${mib(d.wal)}`).join(', ')}.${
        CHECKPOINTED_DAYS
          ? ' The days with a checkpoint before each event stand for production, where a day’s events come hours apart and a checkpoint (every 5 min by default) always falls between them: each event then writes every page it is the first to change since the checkpoint whole into the WAL, and an event changes a page in every leaf of each (code, date) index, whose number grows with the history.'
          : ''
      }`,
      '',
      `Year rebuild: ${REBUILD_RUNS} run(s) of each side, alternating, each rebuild followed by an untimed \`VACUUM (ANALYZE)\`, the fastest of each in the table: Harbour ${rebuildRuns.map((r) => secs(r.ms)).join(' / ')}, reference ${duckYearRuns.map(secs).join(' / ')}.`,
      `Rebuild detail (its fastest run): ${fmt(result.silverRows)} lake rows into silver, then ${runsByModel(
        result.runs,
      )
        .map((r) => `${r.model} ${fmt(r.rows)} rows ${secs(r.ms)}`)
        .join(
          ', ',
        )} (each with its COPY, index builds and tests; the CCASS models, one run each, are computed on a DuckDB connection of their own from the start of the rebuild, beside the rest, and served from ${secs(ccassServed[0] ?? 0)} to ${secs(ccassServed.at(-1) ?? 0)}: their time runs from the start to the last date served, their silver included).`,
      `Gold rows after the rebuild: ${Object.entries(goldRows)
        .map(([t, n]) => `${t} ${fmt(n)}`)
        .join(', ')}.`,
      '',
      `Event-to-gold latency (lake commit → silver + affected gold committed, through NATS and the service; ${latencies.length} events over ${REFRESH_DAYS} days, without a checkpoint between them):`,
      '',
      '| dataset | rows per file | p50 | p95 | max |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...(['securities', 'quotes', 'fundamentals', 'ccass'] as Dataset[]).map(
        (ds) =>
          `| ${ds} | ${fmt(last.rows[ds])} | ${secs(pct(byDs(ds), 50))} | ${secs(pct(byDs(ds), 95))} | ${secs(Math.max(...byDs(ds)))} |`,
      ),
      `| all events | | ${secs(
        pct(
          latencies.map((l) => l.ms),
          50,
        ),
      )} | **${secs(
        pct(
          latencies.map((l) => l.ms),
          95,
        ),
      )}** | ${secs(Math.max(...latencies.map((l) => l.ms)))} |`,
      '',
      'Event detail (mean over the refresh events): the model runs the transformer records, the rest of the latency being NATS, the silver load or build, lineage and the commit.',
      '',
      '| dataset | model runs (mean ms each) |',
      '| --- | --- |',
      ...(['securities', 'quotes', 'fundamentals', 'ccass'] as Dataset[]).map(
        (ds) =>
          `| ${ds} | ${
            eventModels
              .filter((m) => m.dataset === ds)
              .map((m) => `${m.model} ${Math.round(m.ms)}`)
              .join(', ') || '—'
          } |`,
      ),
      '',
      'Reading the ratios: the reference computes each answer from the Parquet files in memory and keeps nothing. Harbour keeps what it computes: CCASS silver and its gold as Parquet in the lake (DuckDB, the event’s holding date, the models’ tests, then served into Postgres); quotes, fundamentals and the securities list in indexed, deduplicated Postgres tables (COPY + one upsert per file) with the affected keys recomputed by the Postgres models; lineage for every run; all in one transaction the exporter and Grafana read from. The rebuild computes CCASS with the events’ SQL, consecutive holding dates together in DuckDB passes (`rebuildPassRows`), on a DuckDB connection of its own beside the rest, and serves it once Postgres is free; it computes the models marked `rebuild: duckdb` (' +
        loadModels()
          .filter((m) => m.rebuildEngine === 'duckdb')
          .map((m) => m.name)
          .join(', ') +
        ') in DuckDB over the silver it staged, COPYing their rows into Postgres.',
    ];
    const text = lines.join('\n');
    console.log(`\n${text}\n`);
    if (!flags['no-results']) {
      await writeResultsSection('transformer', text);
      log(`wrote ${RESULTS_PATH}`);
    }
  } finally {
    conn.closeSync();
    duck.closeSync();
    await nc.close().catch(() => {});
    await pool.end().catch(() => {});
    await stack.stop();
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/** Rows written and time per model over a rebuild's runs (the DuckDB models run once per holding date). */
function runsByModel(runs: { model: string; rowsWritten: number; durationMs: number }[]) {
  const by = new Map<string, { model: string; rows: number; ms: number }>();
  for (const r of runs) {
    const m = by.get(r.model) ?? { model: r.model, rows: 0, ms: 0 };
    m.rows += r.rowsWritten;
    m.ms += r.durationMs;
    by.set(r.model, m);
  }
  return [...by.values()].sort((a, b) => a.model.localeCompare(b.model));
}
