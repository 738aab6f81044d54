import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CcassRow,
  DATASETS,
  type Dataset,
  dlqMessageValidator,
  type FundamentalRow,
  type GoldTable,
  goldUpdatedValidator,
  type LakeCommitted,
  type QuoteRow,
  type SecurityRow,
} from '../../contracts/index.ts';
import { ensureTopology, streamNames, subjects, TopologyConfig } from '../../streams/index.ts';
import { freshDatabase, serviceDeps, startTestNats, testDir } from '../../test/support/infra.ts';
import { readCcassSilver } from '../../test/support/lake.ts';
import { referenceGold } from '../../test/support/reference-transform.ts';
import {
  diffGold,
  type EnvelopeSpec,
  mergeLakeFiles,
  readAllGold,
  readGoldTable,
  type WrittenFile,
  writeLakeFile,
} from '../../test/support/transformer.ts';
import { createCalendar } from '../calendar/index.ts';
import { migrateCatalog } from '../catalog/index.ts';
import { FsObjectStore, type ObjectStore, type PutBody, type PutOptions } from '../object-store/index.ts';
import { createLogger, type Service, type ServiceDeps } from '../runtime/index.ts';
import { duckOptionsOf, openDuck } from './duck.ts';
import {
  loadModels,
  MODELS_DIR,
  parseModel,
  processLakeEvent,
  type RebuildProgress,
  rebuild,
  startTransformer,
  TransformerConfig,
  topoSort,
  traceGoldRow,
  transformerMetrics,
} from './index.ts';
import { runModels, TRANSFORMER_LOCK } from './runner.ts';
import { createSilverScopes, scopeTable, silverScopeName } from './silver.ts';

// Dates as yyyy-mm-dd strings in this test's queries (the transformer itself never reads a date as Date).
pg.types.setTypeParser(1082, (v: string) => v);

// ------------------------------------------------------------------ fixture market

// The project calendar: 2026-01-01 and Lunar New Year (2026-02-17..19) are closed in this window.
const DAYS = createCalendar().tradingDays('2026-01-02', '2026-03-02'); // March has one trading day: 2026-03-02
const LISTING_DAY = '2026-02-10'; // 00003 is listed mid-window
const fetchedAt = (date: string, hour = 10, minute = 30) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + (hour * 60 + minute) * 60_000).toISOString();

const NAMES: Record<string, string> = {
  '00001': 'ALPHA',
  '00002': 'BETA',
  '00003': 'GAMMA',
  '00004': 'DELTA',
  '00005': 'EPSILON',
};

type Status = QuoteRow['status'];
function statusOf(code: string, i: number, date: string): Status | null {
  switch (code) {
    case '00001':
      // day 35 comes after 33 traded days: its trading window is the 30 traded days before it
      return i === 5 || i === 23 || i === 35 ? 'no_trade' : 'traded';
    case '00002':
      if (i >= 8 && i <= 12) return 'suspended';
      return i === 30 ? 'halted' : 'traded';
    case '00003':
      return date < LISTING_DAY ? null : 'traded';
    case '00004':
      return i % 3 === 0 ? 'traded' : 'no_trade';
    default:
      return null;
  }
}

/** The market as the report shows it: prev_close carries over no-trade and suspended days. */
function buildQuotes(): Map<string, QuoteRow[]> {
  const byDay = new Map<string, QuoteRow[]>();
  const lastClose = new Map<string, number>();
  DAYS.forEach((date, i) => {
    const rows: QuoteRow[] = [];
    for (const code of ['00001', '00002', '00003', '00004']) {
      const status = statusOf(code, i, date);
      if (!status) continue;
      const name = NAMES[code]!;
      const prev = lastClose.get(code) ?? null;
      const base = {
        code,
        trade_date: date,
        board: 'main' as const,
        name,
        currency: 'HKD',
        flags: '',
        open: null,
        ask: null,
        bid: null,
      };
      if (status === 'suspended' || status === 'halted') {
        rows.push({
          ...base,
          status,
          prev_close: null,
          high: null,
          low: null,
          close: null,
          volume: null,
          turnover: null,
        });
        continue;
      }
      if (status === 'no_trade') {
        rows.push({
          ...base,
          status,
          prev_close: prev,
          high: null,
          low: null,
          close: prev,
          volume: 0,
          turnover: i % 2 ? 0 : null,
        });
        continue;
      }
      const k = Number(code);
      // A walk with some unchanged closes (sign 0).
      const step = ((i * 7 + k * 3) % 11) - 5;
      const close = Math.round(((prev ?? 10 * k) + (step === 0 ? 0 : step * 0.05)) * 1000) / 1000;
      const volume = 1000 * (((i * 13 + k * 5) % 17) + 1);
      rows.push({
        ...base,
        status,
        prev_close: prev,
        high: Math.round((Math.max(close, prev ?? close) + 0.1) * 1000) / 1000,
        low: Math.round((Math.min(close, prev ?? close) - 0.1) * 1000) / 1000,
        close,
        volume,
        // not a whole number: a 20-day mean summed in another order differs in its last bits
        turnover: volume * close * 1.0001,
      });
      lastClose.set(code, close);
    }
    byDay.set(date, rows);
  });
  return byDay;
}

const CCASS_DATES = DAYS.slice(20, 28);
const ISSUED = 1_000_000_000;

function ccassSet(
  code: string,
  date: string,
  opts: { drop?: string[]; bump?: number; overflow?: boolean } = {},
): CcassRow[] {
  const di = CCASS_DATES.indexOf(date);
  const k = Number(code);
  const people: { id: string | null; name: string; holding: number }[] = [];
  for (let p = 1; p <= 12; p++) {
    if (p === 12 && di % 2 === 1) continue; // C00012 comes and goes
    const id = `C${String(p).padStart(5, '0')}`;
    if (opts.drop?.includes(id)) continue;
    const holding =
      (opts.overflow ? 200_000_000 : 1_000_000 * (13 - p) * k) +
      10_000 * ((di * p) % 7) +
      (p === 1 ? (opts.bump ?? 0) : 0);
    people.push({ id, name: `BROKER ${p} LIMITED`, holding });
  }
  people.push({ id: null, name: 'MR CHAN TAI MAN', holding: 5_000 + di * 100 });
  if (di % 3 !== 2) people.push({ id: null, name: 'MS WONG MEI', holding: 7_000 });
  const rows: CcassRow[] = people.map((p) => ({
    code,
    holding_date: date,
    row_type: 'participant',
    participant_id: p.id,
    participant_name: p.name,
    address: p.id ? `${p.id} ADDRESS` : null,
    shareholding: p.holding,
    pct_issued: Math.round((p.holding / ISSUED) * 10000) / 100,
    participants: null,
  }));
  const inter = people.filter((p) => p.id);
  const cons = people.filter((p) => !p.id);
  const sum = (xs: { holding: number }[]) => xs.reduce((a, x) => a + x.holding, 0);
  const summary = (
    row_type: CcassRow['row_type'],
    shareholding: number,
    participants: number | null,
  ): CcassRow => ({
    code,
    holding_date: date,
    row_type,
    participant_id: null,
    participant_name: null,
    address: null,
    shareholding,
    pct_issued: row_type === 'issued_shares' ? null : Math.round((shareholding / ISSUED) * 10000) / 100,
    participants,
  });
  const nonCons = 3_000_000 * k;
  rows.push(
    summary('intermediaries', sum(inter), inter.length),
    summary('consenting', sum(cons), cons.length),
    summary('non_consenting', nonCons, 1500),
    summary('total', sum(inter) + sum(cons) + nonCons, inter.length + cons.length + 1500),
    summary('issued_shares', ISSUED, null),
  );
  return rows;
}

const fundOpen = (close: number) => Math.round(close * 980) / 1000;
function fundamentals(code: string, asOf: string, i: number, close: number | null): FundamentalRow {
  const k = Number(code);
  return {
    code,
    as_of: asOf,
    last: close ?? 9.99 * k,
    prev_close: null,
    // The widget's open (`op`): the only source of daily_prices.open (the report has none).
    open: close === null ? null : fundOpen(close),
    high: null,
    low: null,
    volume: null,
    turnover: null,
    eps: i % 4 === 3 ? -0.2 : 0.5 * k,
    eps_currency: 'HKD',
    pe: i % 2 === 0 ? 12.5 + k : null,
    dividend_yield: 3.1 + k / 10,
    market_cap: i % 3 === 0 ? null : 5e9 * k,
    issued_shares: 1e9,
  };
}

function securities(codes: string[]): SecurityRow[] {
  return codes.map((code) => ({
    code,
    name: NAMES[code]!,
    category: 'Equity',
    sub_category: 'Equity Securities (Main Board)',
    board_lot: 1000,
    isin: null,
    currency: 'HKD',
  }));
}

// ------------------------------------------------------------------ harness

let nats: Awaited<ReturnType<typeof startTestNats>>;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let store: FsObjectStore;
let deps: ServiceDeps;
let service: Service | undefined;
let duck: DuckDBInstance;
let seq = 0;
const quotes = buildQuotes();
const events: LakeCommitted[] = [];

const config = (): TransformerConfig => ({
  ...(Value.Default(TransformerConfig, {}) as TransformerConfig),
  maxAttempts: 2,
  retryBaseDelayMs: 50,
});

async function file<D extends Dataset>(
  dataset: D,
  envs: Omit<EnvelopeSpec<D>, 'seq'>[],
  opts: { writer?: string; partitionDate?: string } = {},
): Promise<WrittenFile> {
  const w = await writeLakeFile(
    store,
    db.pool,
    dataset,
    envs.map((e) => ({ ...e, seq: ++seq })),
    opts,
  );
  events.push(w.event);
  return w;
}

async function publish(list: LakeCommitted[]) {
  for (const e of list) {
    // A fresh msgID each time: the transformer must be idempotent on its own, not rely on dedup.
    await deps.js.publish(subjects.lakeCommitted(e.dataset), JSON.stringify(e), {
      msgID: `${e.file_key}:${Math.random()}`,
    });
  }
}

async function until(cond: () => Promise<boolean>, ms = 30_000, what = 'condition') {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not met in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function settled(): Promise<void> {
  let last = '';
  await until(
    async () => {
      const info = await nats.jsm.consumers.info(streamNames.events, 'transformer');
      last = JSON.stringify({
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
      });
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    40_000,
    'transformer consumer drained',
  ).catch((err) => {
    throw new Error(`${(err as Error).message}: ${last}`);
  });
}

const activePaths = async (): Promise<Record<Dataset, string[]>> => {
  const { rows } = await db.pool.query<{ dataset: Dataset; file_key: string }>(
    `select dataset, file_key from lake_files where status = 'active' order by file_key`,
  );
  const out: Record<Dataset, string[]> = { securities: [], quotes: [], fundamentals: [], ccass: [] };
  for (const r of rows) out[r.dataset].push(join(store.root, ...r.file_key.split('/')));
  return out;
};

const silverCcass = () => readCcassSilver(db.pool, store.root);

async function reference() {
  const conn = await duck.connect();
  try {
    return await referenceGold(conn, await activePaths());
  } finally {
    conn.closeSync();
  }
}

/** The last `harbour.gold.updated.<model>` message, once the outbox has published every run. */
async function lastGoldUpdated(model: GoldTable) {
  await until(
    async () =>
      (await db.pool.query('select 1 from transform_runs where publish and published_at is null'))
        .rowCount === 0,
  );
  const msg = await nats.jsm.streams.getMessage(streamNames.events, {
    last_by_subj: subjects.goldUpdated(model),
  });
  return { msg, ev: goldUpdatedValidator.parse(msg!.json()) };
}

const goldRow = async (table: string, where: string, params: unknown[]) =>
  (await db.pool.query(`select * from gold.${table} where ${where}`, params)).rows[0];

beforeAll(async () => {
  [nats, db] = await Promise.all([startTestNats(), freshDatabase()]);
  await ensureTopology(nats.nc, nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
  store = new FsObjectStore({ root: await testDir('lake') });
  await migrateCatalog(db.pool);
  deps = await serviceDeps({
    nc: nats.nc,
    pool: db.pool,
    store,
    ...(process.env.TDEBUG ? { logger: createLogger({ level: 'warn' }) } : {}),
  });
  duck = await DuckDBInstance.create(':memory:');
});

afterAll(async () => {
  await service?.close();
  duck?.closeSync();
  await db?.drop();
  await nats?.stop();
});

// ------------------------------------------------------------------ tests

describe('model files', () => {
  it('parse, declare tests and come in dependency order', () => {
    const models = loadModels();
    const names = models.map((m) => m.name);
    expect(new Set(names)).toEqual(
      new Set([
        'daily_prices',
        'monthly_high_low',
        'rolling_directed_volume',
        'ccass_concentration',
        'ccass_changes',
        'stock_picker',
        'dq_freshness',
        'dq_row_counts',
      ]),
    );
    expect(names.indexOf('daily_prices')).toBeLessThan(names.indexOf('rolling_directed_volume'));
    expect(names.indexOf('daily_prices')).toBeLessThan(names.indexOf('stock_picker'));
    for (const m of models) {
      expect(
        m.tests.some((t) => t.kind === 'unique'),
        m.name,
      ).toBe(true);
      expect(m.description.length, m.name).toBeGreaterThan(40);
    }
  });

  it('refuses bad headers and cycles', () => {
    const body = '-- @scope\nselect 1\n-- @model\nselect 1\n-- @lineage\nselect 1';
    expect(() => parseModel('x.sql', `-- model: nope\n-- key: a\n-- scope: a\n${body}`)).toThrow(
      /not a gold table/,
    );
    expect(() =>
      parseModel(
        'x.sql',
        `-- model: daily_prices\n-- key: code\n-- scope: code\n-- test: frobnicate(x)\n${body}`,
      ),
    ).toThrow(/unknown test kind/);
    const a = parseModel(
      'a.sql',
      `-- model: daily_prices\n-- depends: monthly_high_low\n-- key: code\n-- scope: code\n${body}`,
    );
    const b = parseModel(
      'b.sql',
      `-- model: monthly_high_low\n-- depends: daily_prices\n-- key: code\n-- scope: code\n${body}`,
    );
    expect(() => topoSort([a, b])).toThrow(/cycle/);
    expect(() =>
      parseModel('x.sql', `-- model: daily_prices\n-- key: code\n-- scope: code\n-- rebuild: spark\n${body}`),
    ).toThrow(/rebuild must be postgres or duckdb/);
  });

  it('refuses a model rebuilt in DuckDB that reads a model rebuilt in Postgres', async () => {
    const dir = await testDir('models');
    const body = '-- @scope\nselect 1\n-- @model\nselect 1\n-- @lineage\nselect 1';
    writeFileSync(
      join(dir, 'a.sql'),
      `-- model: daily_prices\n-- depends: silver.quotes\n-- key: code\n-- scope: code\n${body}`,
    );
    writeFileSync(
      join(dir, 'b.sql'),
      `-- model: monthly_high_low\n-- depends: daily_prices\n-- key: code\n-- scope: code\n-- rebuild: duckdb\n${body}`,
    );
    expect(() => loadModels(dir)).toThrow(/rebuilt in DuckDB but depends on daily_prices/);
    writeFileSync(
      join(dir, 'a.sql'),
      `-- model: daily_prices\n-- depends: silver.quotes\n-- key: code\n-- scope: code\n-- rebuild: duckdb\n${body}`,
    );
    expect(loadModels(dir).map((m) => [m.name, m.rebuildEngine])).toEqual([
      ['daily_prices', 'duckdb'],
      ['monthly_high_low', 'duckdb'],
    ]);
  });
});

describe('transformer on Postgres + NATS + object store', () => {
  const replacedDay = DAYS[3]!;
  let rescrapeFiles: WrittenFile[] = [];
  let incremental: Awaited<ReturnType<typeof readAllGold>>;

  it('builds gold from events arriving out of order and twice, equal to DuckDB over the lake', async () => {
    // Securities lists: 00003 joins the list on its listing day; 00005 is listed but never quoted.
    await file('securities', [
      {
        key: 'all',
        as_of: DAYS[0]!,
        fetched_at: fetchedAt(DAYS[0]!, 10),
        rows: securities(['00001', '00002', '00004', '00005']),
      },
    ]);
    await file('securities', [
      {
        key: 'all',
        as_of: LISTING_DAY,
        fetched_at: fetchedAt(LISTING_DAY, 10),
        rows: securities(['00001', '00002', '00003', '00004', '00005']),
      },
    ]);
    for (const date of DAYS) {
      await file('quotes', [
        { key: 'all', as_of: date, fetched_at: fetchedAt(date), rows: quotes.get(date)! },
      ]);
    }
    // A re-scrape of one day with a corrected close for 00001 (a later envelope in a second file).
    const fixed = quotes
      .get(replacedDay)!
      .map((r) => (r.code === '00001' ? { ...r, close: (r.close ?? 0) + 1, high: (r.high ?? 0) + 1 } : r));
    rescrapeFiles = [events.find((e) => e.dataset === 'quotes' && e.partition_date === replacedDay)!].map(
      (e) => ({ event: e, bytes: new Uint8Array() }),
    );
    rescrapeFiles.push(
      await file(
        'quotes',
        [{ key: 'all', as_of: replacedDay, fetched_at: fetchedAt(replacedDay, 20), rows: fixed }],
        { writer: 'rescrape' },
      ),
    );
    quotes.set(replacedDay, fixed);

    // Fundamentals every fifth day and on a Saturday; one during 00002's suspension.
    const fundDays = [...DAYS.filter((_, i) => i % 5 === 0), '2026-01-31', DAYS[10]!].sort();
    for (const [i, date] of fundDays.entries()) {
      const rows = ['00001', '00002', '00003']
        .filter((c) => c !== '00003' || date >= LISTING_DAY)
        .map((c) => fundamentals(c, date, i, quotes.get(date)?.find((q) => q.code === c)?.close ?? null));
      await file(
        'fundamentals',
        rows.map((r) => ({ key: r.code, as_of: date, fetched_at: fetchedAt(date, 19), rows: [r] })),
      );
    }

    // CCASS: one file per holding date with a page per stock.
    const older = { code: '00002', date: CCASS_DATES[3]! };
    for (const date of CCASS_DATES) {
      const codes = ['00001', '00002', ...(date >= LISTING_DAY ? ['00003'] : [])];
      const envs = codes
        .filter((c) => !(c === '00002' && date === CCASS_DATES[4]))
        .map((c) => ({ key: c, as_of: date, fetched_at: fetchedAt(date, 9), rows: ccassSet(c, date) }));
      await file('ccass', envs);
    }
    // A re-scrape of (00001, date 2): C00003 and C00004 vanished, C00001 changed.
    await file(
      'ccass',
      [
        {
          key: '00001',
          as_of: CCASS_DATES[2]!,
          fetched_at: fetchedAt(CCASS_DATES[2]!, 15),
          rows: ccassSet('00001', CCASS_DATES[2]!, { drop: ['C00003', 'C00004'], bump: 123_456 }),
        },
      ],
      { writer: 'rescrape' },
    );
    // A page split over two envelopes of one fetch, landing in two files; the second repeats the
    // first's last row, one share more: the later row is the set's.
    const split = ccassSet('00002', CCASS_DATES[4]!);
    const repeated = { ...split[5]!, shareholding: split[5]!.shareholding! + 1 };
    const splitEnv = {
      as_of: CCASS_DATES[4]!,
      fetched_at: fetchedAt(CCASS_DATES[4]!, 9, 45),
      run_id: 'split-run',
    };
    await file('ccass', [{ ...splitEnv, key: '00002#1/2', rows: split.slice(0, 6) }], { writer: 'p1' });
    await file('ccass', [{ ...splitEnv, key: '00002#2/2', rows: [repeated, ...split.slice(6)] }], {
      writer: 'p2',
    });
    // An older fetch of (00002, date 3) whose event comes last: it must not replace the newer set.
    const stale = await writeLakeFile(
      store,
      db.pool,
      'ccass',
      [
        {
          seq: 1_000_000 - 1,
          key: older.code,
          as_of: older.date,
          fetched_at: fetchedAt(older.date, 7),
          rows: ccassSet('00002', older.date, { drop: ['C00001'] }),
        },
      ],
      { writer: 'stale' },
    );

    // Out of order (a fixed shuffle) and every event twice.
    const shuffled = [...events].sort((a, b) => (a.checksum < b.checksum ? -1 : 1));
    service = await startTransformer(config(), deps);
    await publish([...shuffled, ...shuffled.slice(0, 20), stale.event]);
    events.push(stale.event);
    await settled();

    const { rows: loaded } = await db.pool.query(
      `select count(*)::int as n from transform_files where outcome = 'loaded'`,
    );
    expect(loaded[0].n).toBe(events.length);
    incremental = await readAllGold(db.pool);
    const problems = diffGold(incremental, await reference(), { relTol: 1e-9 });
    expect(problems).toEqual([]);
    expect(incremental.daily_prices.length).toBe([...quotes.values()].reduce((a, r) => a + r.length, 0));
    expect(incremental.ccass_changes.length).toBeGreaterThan(200);

    // A fundamentals file rewrites daily prices' open only: the monthly table (which reads open)
    // is recomputed, the rolling volume (`-- reads: daily_prices(status, directed_volume)`) is not.
    const { rows: fundRuns } = await db.pool.query<{ model: string; runs: number; written: number }>(
      `select r.model, count(*)::int as runs, sum(r.rows_written)::int as written
       from transform_files t join lake_files f using (file_key) join transform_runs r using (batch_id)
       where f.dataset = 'fundamentals' and r.status = 'succeeded' group by r.model`,
    );
    const byModel = new Map(fundRuns.map((r) => [r.model, r]));
    expect(byModel.get('daily_prices')?.written).toBeGreaterThan(0);
    expect(byModel.get('monthly_high_low')?.written).toBeGreaterThan(0);
    expect(byModel.has('rolling_directed_volume')).toBe(false);
  });

  it('matches hand-worked values: suspension, no-trade days, a one-day month, a mid-window listing, CCASS re-scrape', async () => {
    // 00002 resumes after its suspension: prev_close is the report's (the close before it was suspended).
    const resume = DAYS[13]!;
    const q = quotes.get(resume)!.find((r) => r.code === '00002')!;
    const before = quotes.get(DAYS[7]!)!.find((r) => r.code === '00002')!;
    expect(q.prev_close).toBe(before.close);
    const dp = await goldRow('daily_prices', 'code = $1 and trade_date = $2', ['00002', resume]);
    expect(dp.directed_volume).toBe(q.volume! * Math.sign(q.close! - before.close!));
    const susp = await goldRow('daily_prices', 'code = $1 and trade_date = $2', ['00002', DAYS[9]]);
    expect(susp).toMatchObject({ status: 'suspended', close: null, directed_volume: null, change_pct: null });
    const nt = await goldRow('daily_prices', 'code = $1 and trade_date = $2', ['00001', DAYS[5]]);
    // A no-trade day has no open, even though that day's fundamentals snapshot carries one.
    expect(nt).toMatchObject({ status: 'no_trade', directed_volume: 0, change_pct: 0, open: null });

    // open comes from the fundamentals snapshot of that stock and day; blank on a day without one.
    const fundDay = quotes.get(DAYS[10]!)!.find((r) => r.code === '00001')!;
    expect(fundDay).toMatchObject({ status: 'traded', open: null });
    const withOpen = await goldRow('daily_prices', 'code = $1 and trade_date = $2', ['00001', DAYS[10]]);
    expect(withOpen).toMatchObject({
      status: 'traded',
      open: fundOpen(fundDay.close!),
      close: fundDay.close,
    });
    expect(withOpen.open).toBeGreaterThan(0);
    const noFund = await goldRow('daily_prices', 'code = $1 and trade_date = $2', ['00001', DAYS[11]]);
    expect(noFund).toMatchObject({ status: 'traded', open: null });

    // March 2026 has one trading day: open = high/low day = that day; open is its close (no open in the report).
    const mar = quotes.get('2026-03-02')!.find((r) => r.code === '00001')!;
    const m = await goldRow('monthly_high_low', 'code = $1 and month = $2', ['00001', '2026-03-01']);
    expect(m).toMatchObject({
      open: mar.close,
      high: mar.high,
      low: mar.low,
      close: mar.close,
      volume: mar.volume,
      trading_days: 1,
    });
    expect(m).toMatchObject({ high_date: '2026-03-02', low_date: '2026-03-02' });
    const jan2 = await goldRow('monthly_high_low', 'code = $1 and month = $2', ['00002', '2026-01-01']);
    const janDays = DAYS.filter((d) => d < '2026-02-01');
    expect(jan2.trading_days).toBe(janDays.filter((d, i) => statusOf('00002', i, d) === 'traded').length);

    // 00003 listed mid-window: its first day has no previous close, so no direction.
    const g = DAYS.filter((d) => d >= LISTING_DAY)
      .slice(0, 3)
      .map((d) => quotes.get(d)!.find((r) => r.code === '00003')!);
    const dv = (r: QuoteRow) =>
      r.prev_close === null ? null : r.volume! * Math.sign(r.close! - r.prev_close);
    expect(dv(g[0]!)).toBeNull();
    const roll = await goldRow('rolling_directed_volume', 'code = $1 and trade_date = $2', [
      '00003',
      g[2]!.trade_date,
    ]);
    expect(roll).toMatchObject({
      days_30d_trading: 3,
      days_30d_calendar: 3,
      dv_30d_trading: dv(g[1]!)! + dv(g[2]!)!,
    });

    // 00001 after 30+ trading days: a full trading window, a calendar window over the Lunar New Year gap.
    const last = DAYS.at(-1)!;
    const series = DAYS.map((d) => quotes.get(d)!.find((r) => r.code === '00001')!).filter(
      (r) => r.status === 'traded',
    );
    const win = series.slice(-30);
    const r1 = await goldRow('rolling_directed_volume', 'code = $1 and trade_date = $2', ['00001', last]);
    expect(r1.days_30d_trading).toBe(30);
    expect(r1.dv_30d_trading).toBe(win.reduce((a, r) => a + dv(r)!, 0));
    const cal = series.filter((r) => Date.parse(r.trade_date) >= Date.parse(last) - 29 * 86_400_000);
    expect(r1.days_30d_calendar).toBe(cal.length);
    expect(r1.dv_30d_calendar).toBe(cal.reduce((a, r) => a + dv(r)!, 0));

    // The re-scraped CCASS page replaced its set: the vanished participants are gone, shown as exited.
    const d2 = CCASS_DATES[2]!;
    const set = (await silverCcass()).filter(
      (r) => r.code === '00001' && r.holding_date === d2 && r.row_type === 'participant',
    );
    expect(set.map((r) => r.participant_id)).not.toContain('C00003');
    const { rows: ch } = await db.pool.query(
      `select participant_key, kind, shareholding, prev_shareholding from gold.ccass_changes where code = '00001' and holding_date = $1 order by participant_key`,
      [d2],
    );
    expect(ch.find((r) => r.participant_key === 'C00003')).toMatchObject({ kind: 'exited', shareholding: 0 });
    expect(ch.find((r) => r.participant_key === 'C00004')).toMatchObject({ kind: 'exited', shareholding: 0 });
    const { rows: back } = await db.pool.query(
      `select kind from gold.ccass_changes where code = '00001' and holding_date = $1 and participant_key = 'C00003'`,
      [CCASS_DATES[3]],
    );
    expect(back[0].kind).toBe('new');
    // The stale fetch did not win; the split page has all its rows.
    const stale = (await silverCcass()).filter(
      (r) => r.code === '00002' && r.holding_date === CCASS_DATES[3] && r.participant_id === 'C00001',
    );
    expect(stale).toHaveLength(1);
    const conc = await goldRow('ccass_concentration', 'code = $1 and holding_date = $2', [
      '00002',
      CCASS_DATES[4],
    ]);
    const splitSet = ccassSet('00002', CCASS_DATES[4]!)
      .filter((r) => r.row_type === 'participant')
      .map((r) => (r.participant_id === 'C00006' ? { ...r, shareholding: r.shareholding! + 1 } : r));
    expect(conc.participants).toBe(splitSet.length);
    const twice = (await silverCcass()).filter(
      (r) => r.code === '00002' && r.holding_date === CCASS_DATES[4] && r.participant_id === 'C00006',
    );
    expect(twice.map((r) => r.shareholding)).toEqual([
      splitSet.find((r) => r.participant_id === 'C00006')!.shareholding,
    ]);
    const top10 = splitSet
      .map((r) => r.shareholding)
      .sort((a, b) => b - a)
      .slice(0, 10)
      .reduce((a, b) => a + b, 0);
    expect(conc.top10_pct).toBeCloseTo((100 * top10) / ISSUED, 10);

    // Stock picker during 00002's suspension: no close in the report, the widget's last price instead.
    const sp = await goldRow('stock_picker', 'code = $1 and as_of = $2', ['00002', DAYS[10]]);
    expect(sp.close).toBe(9.99 * 2);
    // 20-day average turnover of 00001 (its no-trade days count 0) on the last fundamentals day.
    const fd = DAYS.filter((_, i) => i % 5 === 0).at(-1)!;
    const q1 = DAYS.filter((d) => d <= fd).map((d) => quotes.get(d)!.find((r) => r.code === '00001')!);
    const sp1 = await goldRow('stock_picker', 'code = $1 and as_of = $2', ['00001', fd]);
    const last20 = q1.filter((r) => r.status !== 'suspended').slice(-20);
    expect(sp1.avg_turnover_20d).toBeCloseTo(last20.reduce((a, r) => a + (r.turnover ?? 0), 0) / 20, 6);

    // Row counts: list 1 has 4 securities, 3 of them quoted.
    const dq = await goldRow('dq_row_counts', 'dataset = $1 and as_of = $2', ['quotes', DAYS[1]]);
    expect(dq).toMatchObject({ rows: 3, expected: 4, ratio: 0.75 });
    const dqc = await goldRow('dq_row_counts', 'dataset = $1 and as_of = $2', ['ccass', CCASS_DATES[0]]);
    expect(dqc.ratio).toBe(1);
    const fr = await goldRow('dq_freshness', 'dataset = $1', ['quotes']);
    // Fetched 10:30 UTC = 18:30 HKT on the day: 18.5 h after the day began in Hong Kong.
    expect(fr).toMatchObject({ latest_as_of: '2026-03-02', lag_seconds: 18.5 * 3600 });
  });

  it('records runs with their input files, publishes gold.updated with msgID = run id, and traces lineage', async () => {
    const { rows: runs } = await db.pool.query(
      `select run_id, model, status, rows_written, published_at from transform_runs where trigger = 'event' order by finished_at`,
    );
    expect(runs.length).toBeGreaterThan(40);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    const { msg, ev } = await lastGoldUpdated('daily_prices');
    expect(msg!.header?.get('Nats-Msg-Id')).toBe(ev.run_id);
    expect(runs.some((r) => r.run_id === ev.run_id)).toBe(true);

    const lineage = await traceGoldRow(db.pool, 'rolling_directed_volume', '00001', DAYS.at(-1)!);
    const traded = DAYS.filter((d, i) => statusOf('00001', i, d) === 'traded');
    const windowStart = traded.at(-30)!;
    // every day from the window's first traded day (one file per day), no-trade days included
    expect(lineage.sources.length).toBe(DAYS.filter((d) => d >= windowStart).length);
    expect(lineage.sources.every((s) => s.dataset === 'quotes' && s.status === 'active')).toBe(true);
    expect(lineage.run?.inputs.length).toBeGreaterThan(0);
    const one = await traceGoldRow(db.pool, 'daily_prices', '00001', replacedDay);
    expect(one.sources).toHaveLength(1);
    expect(one.sources[0]!.file_key).toBe(rescrapeFiles[1]!.event.file_key);
  });

  it('a merge event changes no gold value, only lineage', async () => {
    const before = await readAllGold(db.pool);
    const { rows: runsBefore } = await db.pool.query('select count(*)::int as n from transform_runs');
    const merged = await mergeLakeFiles(
      store,
      db.pool,
      'quotes',
      replacedDay,
      rescrapeFiles.map((f) => f.event.file_key),
    );
    await publish([merged.event, ...rescrapeFiles.map((f) => f.event)]);
    await settled();
    expect(diffGold(await readAllGold(db.pool), before)).toEqual([]);
    const { rows: runsAfter } = await db.pool.query('select count(*)::int as n from transform_runs');
    expect(runsAfter[0].n).toBe(runsBefore[0].n);
    const one = await traceGoldRow(db.pool, 'daily_prices', '00001', replacedDay);
    expect(one.sources.map((s) => s.file_key)).toEqual([merged.event.file_key]);
    incremental = await readAllGold(db.pool);
  });

  it('a failed model test rolls the batch back, is recorded and counted, and publishes nothing', async () => {
    const date = CCASS_DATES[5]!;
    const bad = await writeLakeFile(
      store,
      db.pool,
      'ccass',
      [
        {
          seq: 2_000_000,
          key: '00004',
          as_of: date,
          fetched_at: fetchedAt(date, 9),
          rows: ccassSet('00004', date, { overflow: true }),
        },
      ],
      { writer: 'bad' },
    );
    await publish([bad.event]);
    // Wait for the DLQ copy (not for the consumer to drain: runtime's settle() terms with a reason,
    // which nats-server 2.9 ignores, so the message stays ack-pending until ack_wait).
    await until(async () => {
      const m = await nats.jsm.streams
        .getMessage(streamNames.dlq, { last_by_subj: subjects.dlq('transformer') })
        .catch(() => null);
      return m !== null;
    });
    const { rows } = await db.pool.query(
      `select model, tests, error from transform_runs where status = 'failed'`,
    );
    expect(rows[0].model).toBe('ccass_concentration');
    expect(rows[0].error).toMatch(/range\(top10_pct, 0, 100\)/);
    expect(await readGoldTable(db.pool, 'ccass_concentration')).toEqual(incremental.ccass_concentration);
    expect((await silverCcass()).filter((r) => r.code === '00004')).toHaveLength(0);
    const metrics = await deps.registry.getSingleMetricAsString(
      'harbour_transformer_model_test_failures_total',
    );
    expect(metrics).toMatch(/model="ccass_concentration",test="range\(top10_pct, 0, 100\)"} 2/);
    const dlq = await nats.jsm.streams.getMessage(streamNames.dlq, {
      last_by_subj: subjects.dlq('transformer'),
    });
    expect(dlqMessageValidator.parse(dlq!.json()).reason).toMatch(/ccass_concentration failed/);

    // The dead-lettered file stays active in its partition but does not hold it back: a later page
    // of the same day is loaded on its own (silver is built from the files already accepted).
    const good = await writeLakeFile(
      store,
      db.pool,
      'ccass',
      [
        {
          seq: 2_000_001,
          key: '00005',
          as_of: date,
          fetched_at: fetchedAt(date, 10),
          rows: ccassSet('00005', date),
        },
      ],
      { writer: 'good' },
    );
    await publish([good.event]);
    await until(
      async () =>
        (
          await db.pool.query(
            `select 1 from gold.ccass_concentration where code = '00005' and holding_date = $1`,
            [date],
          )
        ).rowCount === 1,
      30_000,
      'the good page of the poisoned day in gold',
    );
    const day = (await silverCcass()).filter((r) => r.holding_date === date);
    expect(day.filter((r) => r.code === '00005').length).toBe(ccassSet('00005', date).length);
    expect(day.filter((r) => r.code === '00004')).toHaveLength(0);

    // Both out of the lake again, so the rebuilds below see the same files as the incremental run.
    await db.pool.query(`update lake_files set status = 'replaced' where file_key = any($1)`, [
      [bad.event.file_key, good.event.file_key],
    ]);
  });

  it('a full rebuild, a model rebuild and a rebuild from a date equal the incremental result row for row', async () => {
    await service?.close();
    service = undefined;
    const progress: RebuildProgress[] = [];
    // The incremental silver, without the page the poisoned-day test added and took out of the lake again.
    const silverBefore = (await silverCcass()).filter((r) => r.code !== '00005');
    const full = await rebuild(config(), { ...deps }, (p) => progress.push(p));
    expect(full.files).toBe(events.length - 2 + 1); // the two merged files are replaced by one
    // One step per quotes/fundamentals/securities file, one per CCASS holding date (its files at once).
    const ccassFiles = events.filter((e) => e.dataset === 'ccass').length;
    expect(progress.filter((p) => p.phase === 'silver')).toHaveLength(
      full.files - ccassFiles + CCASS_DATES.length,
    );
    expect(progress.filter((p) => p.phase === 'silver').at(-1)).toMatchObject({ done: full.files });
    const goldDone = progress.filter(
      (p): p is Extract<RebuildProgress, { phase: 'gold' }> => p.phase === 'gold' && p.state === 'done',
    );
    // A full rebuild computes the `rebuild: duckdb` models in DuckDB; the rest where they always run.
    expect(Object.fromEntries(goldDone.map((p) => [p.model, p.engine]))).toEqual({
      daily_prices: 'duckdb',
      monthly_high_low: 'duckdb',
      rolling_directed_volume: 'duckdb',
      stock_picker: 'duckdb',
      ccass_changes: 'duckdb',
      ccass_concentration: 'duckdb',
      dq_freshness: 'postgres',
      dq_row_counts: 'postgres',
    });
    expect(progress.at(-1)?.phase).toBe('done');
    expect(diffGold(await readAllGold(db.pool), incremental)).toEqual([]);
    expect(await silverCcass()).toEqual(silverBefore);

    await rebuild(config(), deps, () => {}, { model: 'daily_prices' });
    expect(diffGold(await readAllGold(db.pool), incremental)).toEqual([]);
    // The full rebuild above computed every CCASS date in one DuckDB pass; these take one per pass.
    const onePerPass = { ...config(), rebuildPassRows: 1 };
    await rebuild(onePerPass, deps, () => {}, { model: 'ccass_changes' });
    expect(diffGold(await readAllGold(db.pool), incremental)).toEqual([]);
    // One pass ahead at most: the computing waits for the serving after each date.
    await rebuild({ ...onePerPass, rebuildPassesAhead: 1 }, deps, () => {}, { from: CCASS_DATES[3] });
    expect(diffGold(await readAllGold(db.pool), incremental)).toEqual([]);

    // The lake holds exactly the derived files in force: one silver file per CCASS holding date and
    // one per DuckDB model and date; every replaced one was deleted after its commit.
    const { rows: inForce } = await db.pool.query<{ file_key: string }>(
      'select file_key from lakehouse_files order by file_key',
    );
    expect(inForce).toHaveLength(CCASS_DATES.length * 3);
    const stored: string[] = [];
    for (const prefix of ['silver/', 'gold/']) for await (const o of store.list(prefix)) stored.push(o.key);
    expect(stored.sort()).toEqual(inForce.map((r) => r.file_key));
    expect((await db.pool.query('select count(*)::int as n from lakehouse_garbage')).rows[0].n).toBe(0);
  });

  it('a rebuild failing on a lake file leaves silver, gold and the lake as they were', async () => {
    // A CCASS file whose bytes no longer match the catalog: the rebuild has loaded the keyed
    // datasets and written derived files of earlier holding dates when it reaches it.
    const { rows } = await db.pool.query<{ file_key: string }>(
      `select file_key from lake_files where dataset = 'ccass' and status = 'active'
       order by partition_date desc, file_key limit 1`,
    );
    const victim = rows[0]!.file_key;
    const bytes = await store.getBytes(victim);
    const lakeBefore: string[] = [];
    for (const prefix of ['silver/', 'gold/'])
      for await (const o of store.list(prefix)) lakeBefore.push(o.key);
    const inForce = async () =>
      (await db.pool.query('select file_key from lakehouse_files order by file_key')).rows;
    const filesBefore = await inForce();
    const silverBefore = await silverCcass();
    const progress: RebuildProgress[] = [];
    await store.put(victim, Buffer.concat([Buffer.from(bytes), Buffer.from('x')]));
    try {
      // One holding date per pass: the passes before the victim's have uploaded their files.
      const onePerPass = { ...config(), rebuildPassRows: 1 };
      await expect(rebuild(onePerPass, deps, (p) => progress.push(p))).rejects.toMatchObject({
        code: 'HARBOUR_ERR_LAKE_FILE',
      });
    } finally {
      await store.put(victim, bytes);
    }
    expect(progress.some((p) => p.phase === 'silver' && p.dataset === 'quotes')).toBe(true);
    expect(progress.some((p) => p.phase === 'silver' && p.dataset === 'ccass')).toBe(true);
    expect(progress.some((p) => p.phase === 'commit')).toBe(false);
    expect(diffGold(await readAllGold(db.pool), incremental)).toEqual([]);
    expect(await silverCcass()).toEqual(silverBefore);
    expect(await inForce()).toEqual(filesBefore);
    const lakeAfter: string[] = [];
    for (const prefix of ['silver/', 'gold/'])
      for await (const o of store.list(prefix)) lakeAfter.push(o.key);
    expect(lakeAfter.sort()).toEqual(lakeBefore.sort());
  });

  it('an aborted rebuild stops its CCASS computing and leaves silver, gold and the lake as they were', async () => {
    const lakeNow = async () => {
      const keys: string[] = [];
      for (const prefix of ['silver/', 'gold/']) for await (const o of store.list(prefix)) keys.push(o.key);
      return keys.sort();
    };
    const lakeBefore = await lakeNow();
    const silverBefore = await silverCcass();
    const controller = new AbortController();
    const progress: RebuildProgress[] = [];
    // Aborted once the CCASS computing has uploaded a silver file of its own (one holding date per
    // pass): what it uploaded must go with the rollback.
    const uploaded: string[] = [];
    const watched: ObjectStore = Object.create(store, {
      put: {
        value: async (key: string, body: PutBody, opts?: PutOptions) => {
          const put = await store.put(key, body, opts);
          uploaded.push(key);
          if (key.startsWith('silver/')) controller.abort();
          return put;
        },
      },
    });
    const onePerPass = { ...config(), rebuildPassRows: 1 };
    await expect(
      rebuild(onePerPass, { ...deps, store: watched }, (p) => progress.push(p), {
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(uploaded.filter((k) => k.startsWith('silver/ccass/')).length).toBeGreaterThan(0);
    expect(progress.some((p) => p.phase === 'commit')).toBe(false);
    expect(diffGold(await readAllGold(db.pool), incremental)).toEqual([]);
    expect(await silverCcass()).toEqual(silverBefore);
    expect(await lakeNow()).toEqual(lakeBefore);
    expect((await db.pool.query('select count(*)::int as n from lakehouse_garbage')).rows[0].n).toBe(0);
  });

  it('builds a CCASS silver again when another file of its partition was loaded after it was prebuilt', async () => {
    // Two pages of one holding date in two files; both events build their silver ahead of the lock
    // (held here), so whichever commits second finds the partition's accepted files changed.
    const date = CCASS_DATES[6]!;
    const pages = await Promise.all(
      ['00006', '00007'].map((code) =>
        file('ccass', [
          { key: code, as_of: date, fetched_at: fetchedAt(date, 11), rows: ccassSet(code, date) },
        ]),
      ),
    );
    const duck = await openDuck(duckOptionsOf({ duckdbTempDir: await testDir('prebuild') }));
    const ctx = {
      pool: db.pool,
      store,
      duck,
      logger: deps.logger,
      models: loadModels(),
      metrics: transformerMetrics(deps.registry),
    };
    const holder = await db.pool.connect();
    const waiting = async (n: number) =>
      (
        await db.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`,
        )
      ).rows[0]?.n === n;
    try {
      await holder.query('begin');
      await holder.query('select pg_advisory_xact_lock(hashtext($1))', [TRANSFORMER_LOCK]);
      const done: Promise<unknown>[] = [];
      for (const [i, page] of pages.entries()) {
        done.push(processLakeEvent(ctx, page.event));
        await until(() => waiting(i + 1), 30_000, `event ${i + 1} waiting for the lock`);
      }
      await holder.query('commit');
      expect(await Promise.all(done)).toMatchObject([{ kind: 'loaded' }, { kind: 'loaded' }]);
    } finally {
      holder.release();
      await duck.close();
    }
    const day = (await silverCcass()).filter((r) => r.holding_date === date);
    for (const code of ['00006', '00007']) {
      expect(day.filter((r) => r.code === code)).toHaveLength(ccassSet(code, date).length);
      expect(
        await goldRow('ccass_concentration', 'code = $1 and holding_date = $2', [code, date]),
      ).toMatchObject({
        participants: ccassSet(code, date).filter((r) => r.row_type === 'participant').length,
      });
    }
  });

  it('look-backs past weeks without rows: the picker, the rolling window and the previous CCASS set, as the reference', async () => {
    // 00009 trades twice in November, then not until the last day; its look-ups from the window's end
    // find nothing in their recent weeks (14 days for the latest row, 42 for 20 quoted days, 60 for
    // 30 traded days, 14 for the previous CCASS set) and must read on to the older rows.
    const [first, last, beforeLast] = [CCASS_DATES[0]!, DAYS.at(-1)!, DAYS.at(-2)!];
    const traded = (date: string, close: number, prev: number | null): QuoteRow => ({
      code: '00009',
      trade_date: date,
      board: 'main',
      name: 'IOTA',
      currency: 'HKD',
      flags: '',
      status: 'traded',
      open: null,
      ask: null,
      bid: null,
      prev_close: prev,
      high: close + 0.1,
      low: close - 0.1,
      close,
      volume: 4000,
      turnover: Math.round(4000 * close),
    });
    const early = [traded('2025-11-03', 5, null), traded('2025-11-04', 5.5, 5)];
    const sent = [
      ...(await Promise.all(
        early.map((r) =>
          file('quotes', [
            { key: '00009', as_of: r.trade_date, fetched_at: fetchedAt(r.trade_date), rows: [r] },
          ]),
        ),
      )),
      await file('quotes', [
        { key: '00009', as_of: last, fetched_at: fetchedAt(last), rows: [traded(last, 6, 5.5)] },
      ]),
      await file('fundamentals', [
        {
          key: '00009',
          as_of: beforeLast,
          fetched_at: fetchedAt(beforeLast, 19),
          rows: [{ ...fundamentals('00009', beforeLast, 1, null), market_cap: null }],
        },
      ]),
      ...(await Promise.all(
        [first, last].map((date) =>
          file('ccass', [
            { key: '00009', as_of: date, fetched_at: fetchedAt(date, 9), rows: ccassSet('00009', date) },
          ]),
        ),
      )),
    ];
    service = await startTransformer(config(), deps); // the rebuild tests stopped it
    await publish(sent.map((f) => f.event));
    await settled();

    expect(diffGold(await readAllGold(db.pool), await reference(), { relTol: 1e-9 })).toEqual([]);
    expect(await goldRow('stock_picker', 'code = $1 and as_of = $2', ['00009', beforeLast])).toMatchObject({
      close: 5.5,
      avg_turnover_20d: (20_000 + 22_000) / 2,
      market_cap: 5.5e9,
    });
    expect(
      await goldRow('rolling_directed_volume', 'code = $1 and trade_date = $2', ['00009', last]),
    ).toMatchObject({ days_30d_trading: 3, dv_30d_trading: 4000 + 4000, days_30d_calendar: 1 });
    const changes = await db.pool.query(
      `select distinct prev_holding_date from gold.ccass_changes where code = '00009' and holding_date = $1`,
      [last],
    );
    expect(changes.rows).toEqual([{ prev_holding_date: first }]);
  });

  it('a model run that changes no row writes and publishes nothing; a new open updates its day and month', async () => {
    // The first trading day of February: its open is the month's open too.
    const day = DAYS.find((d) => d.startsWith('2026-02'))!;
    const i = DAYS.indexOf(day);
    expect(statusOf('00001', i, day)).toBe('traded');
    const close = quotes.get(day)!.find((q) => q.code === '00001')!.close!;
    const runsOf = async (f: WrittenFile) => {
      const { rows } = await db.pool.query(
        `select r.run_id, r.model, r.rows_written::int, r.rows_deleted::int, r.codes, r.date_from, r.date_to, r.publish,
           r.published_at
         from transform_files t join transform_runs r using (batch_id) where t.file_key = $1`,
        [f.event.file_key],
      );
      return new Map(rows.map((r) => [r.model as string, r]));
    };
    const send = async (row: FundamentalRow) => {
      const f = await file('fundamentals', [
        { key: '00001', as_of: day, fetched_at: fetchedAt(day, 20), rows: [row] },
      ]);
      await publish([f.event]);
      await settled();
      return runsOf(f);
    };

    // The day's first snapshot gives its open. A later one changes the EPS only: daily prices run
    // over its key and find their row as it was; the picker's P/E changes.
    const row = fundamentals('00001', day, i, close);
    const first = await send(row);
    expect(first.get('daily_prices')).toMatchObject({ rows_written: 1, publish: true });
    const eps = await send({ ...row, eps: row.eps! * 2 });
    for (const model of ['daily_prices', 'monthly_high_low']) {
      expect(eps.get(model), model).toMatchObject({ rows_written: 0, rows_deleted: 0, publish: false });
      expect(eps.get(model)!.published_at, model).toBeNull();
    }
    expect(eps.get('stock_picker')).toMatchObject({ rows_written: 1, codes: ['00001'], publish: true });

    const open = fundOpen(close) + 0.5;
    const moved = await send({ ...row, eps: row.eps! * 2, open });
    for (const model of ['daily_prices', 'monthly_high_low']) {
      expect(moved.get(model), model).toMatchObject({
        rows_written: 1,
        rows_deleted: 0,
        codes: ['00001'],
        publish: true,
      });
    }
    expect(moved.get('daily_prices')).toMatchObject({ date_from: day, date_to: day });
    expect(moved.get('stock_picker')).toMatchObject({ rows_written: 0 }); // reads the close, not the open
    expect(await goldRow('daily_prices', 'code = $1 and trade_date = $2', ['00001', day])).toMatchObject({
      open,
    });
    expect(
      await goldRow('monthly_high_low', 'code = $1 and month = $2', ['00001', '2026-02-01']),
    ).toMatchObject({
      open,
    });
    expect((await lastGoldUpdated('monthly_high_low')).ev.run_id).toBe(moved.get('monthly_high_low')!.run_id);
    expect(diffGold(await readAllGold(db.pool), await reference(), { relTol: 1e-9 })).toEqual([]);
  });

  it('a model yielding a key twice fails its run and writes nothing', async () => {
    const text = readFileSync(join(MODELS_DIR, 'daily_prices.sql'), 'utf8');
    const doubled = parseModel(
      'daily_prices.sql',
      text.replace('\nfrom q\n', '\nfrom q, generate_series(1, 2) twice\n'),
    );
    expect(doubled.modelSql).toContain('twice');
    const day = DAYS.at(-1)!;
    const before = await readGoldTable(db.pool, 'daily_prices');
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await createSilverScopes(client, DATASETS);
      await client.query(`insert into ${scopeTable(silverScopeName('quotes'))} values ('00001', $1, $1)`, [
        day,
      ]);
      const run = runModels(client, { batchId: 'twice', trigger: 'event', models: [doubled], inputs: [] });
      await expect(run).rejects.toThrow(
        /model daily_prices failed: 1 key\(s\) of \(code, trade_date\) yielded more than once/,
      );
    } finally {
      await client.query('rollback');
      client.release();
    }
    expect(await readGoldTable(db.pool, 'daily_prices')).toEqual(before);
  });
});
