import type pg from 'pg';
import { addDays, createCalendar } from '../../services/calendar/index.ts';
import { duckOptionsOf, openDuck } from '../../services/transformer/duck.ts';
import { migrateTransformer } from '../../services/transformer/index.ts';
import { serveCcassChangeSets } from '../../services/transformer/served-ccass.ts';
import { mulberry32 } from './market.ts';

/**
 * Test and benchmark helper: creates the gold schema the way production does (the transformer's
 * migrations: double precision columns, gold.ccass_changes a view over per-set arrays and a
 * participants dimension, served-ccass.ts) and fills it with deterministic, realistic data: HKEX
 * tick sizes and board lots, no opening price except for the last days, a suspension and a
 * no-trade day, negative directed volume, CCASS participants drifting. CCASS changes are written
 * through the transformer's own serving (`serveCcassStage`); the other tables by insert.
 * Not used in production code.
 */
export async function createGoldTables(pool: pg.Pool): Promise<void> {
  // The transformer's migrations need nothing of the catalog's.
  await migrateTransformer(pool);
}

/** The columns of a CCASS changes stage: the model's rows plus the set's issued shares. */
const STAGE_COLUMNS = {
  code: 'varchar',
  holding_date: 'date',
  prev_holding_date: 'date',
  participant_key: 'varchar',
  participant_id: 'varchar',
  participant_name: 'varchar',
  shareholding: 'double',
  prev_shareholding: 'double',
  kind: 'varchar',
  issued_shares: 'double',
} as const;

const PG_TYPES: Record<string, string> = { varchar: 'text', date: 'date', double: 'double precision' };

/** Creates (empty) a Postgres temp stage of CCASS change rows for a test to fill; dropped at commit. */
export async function createCcassChangesStage(client: pg.PoolClient, name: string): Promise<string> {
  await client.query(`drop table if exists ${name}`);
  await client.query(
    `create temp table ${name} (${Object.entries(STAGE_COLUMNS)
      .map(([c, t]) => `${c} ${PG_TYPES[t]}`)
      .join(', ')}) on commit drop`,
  );
  return name;
}

/**
 * Serves the stage's change sets of `dates` (replacing those dates' sets, so every set of them must
 * be in the stage) through the transformer's own serving, `serveCcassChangeSets`, in the caller's
 * transaction.
 */
export async function serveCcassStage(
  client: pg.PoolClient,
  stage: string,
  dates: readonly string[],
): Promise<void> {
  const cols = Object.entries(STAGE_COLUMNS).map(([c, t]) =>
    t === 'date' ? `to_char(${c}, 'YYYY-MM-DD') as ${c}` : c,
  );
  const { rows } = await client.query(`select ${cols.join(', ')} from ${stage}`);
  const duck = await openDuck(duckOptionsOf({}));
  try {
    await duck.table('stage', STAGE_COLUMNS, rows);
    await serveCcassChangeSets(
      client,
      duck,
      'stage',
      '(select code, holding_date, max(issued_shares) as issued_shares from stage group by code, holding_date)',
      dates,
    );
  } finally {
    await duck.close();
  }
}

/**
 * Re-serves the CCASS change sets of `dates` the way the transformer does: a stage holding every
 * set of those dates as served now (serving replaces whole dates), changed by `edit`, then served
 * again in one transaction.
 */
export async function reserveCcassChanges(
  pool: pg.Pool,
  dates: readonly string[],
  edit: (client: pg.PoolClient, stage: string) => Promise<unknown>,
): Promise<void> {
  await inStage(pool, dates, async (client, stage) => {
    await client.query(
      `insert into ${stage} (${Object.keys(STAGE_COLUMNS).join(', ')})
       select v.code, v.holding_date, v.prev_holding_date, v.participant_key, v.participant_id, v.participant_name,
         v.shareholding, v.prev_shareholding, v.kind, s.issued_shares
       from gold.ccass_changes v join gold.ccass_change_sets s using (code, holding_date)
       where v.holding_date = any($1::date[])`,
      [dates],
    );
    await edit(client, stage);
  });
}

async function inStage(
  pool: pg.Pool,
  dates: readonly string[],
  fill: (client: pg.PoolClient, stage: string) => Promise<void>,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const stage = await createCcassChangesStage(client, '_gold_ccass_stage');
    await fill(client, stage);
    await serveCcassStage(client, stage, dates);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export interface GoldStock {
  code: string;
  name: string;
  basePrice: number;
  issuedShares: number;
  baseVolume: number;
  eps: number;
  dps: number;
}

/** Three real-looking stocks; the third has a suspension and a no-trade day. */
export const DEFAULT_GOLD_STOCKS: readonly GoldStock[] = [
  {
    code: '00700',
    name: 'TENCENT',
    basePrice: 382.4,
    issuedShares: 9_200_000_000,
    baseVolume: 18_000_000,
    eps: 21.5,
    dps: 4.5,
  },
  {
    code: '00005',
    name: 'HSBC HOLDINGS',
    basePrice: 64.35,
    issuedShares: 18_100_000_000,
    baseVolume: 22_000_000,
    eps: 6.1,
    dps: 4.8,
  },
  {
    code: '02319',
    name: 'MENGNIU DAIRY',
    basePrice: 18.62,
    issuedShares: 3_930_000_000,
    baseVolume: 9_500_000,
    eps: 1.25,
    dps: 0.52,
  },
];

const NAME_POOL = [
  'CKH HOLDINGS',
  'CLP HOLDINGS',
  'HK & CHINA GAS',
  'HANG SENG BANK',
  'SHK PPT',
  'GALAXY ENT',
  'LINK REIT',
  'HKEX',
  'SANDS CHINA LTD',
  'AIA',
  'CHINA MOBILE',
  'BOC HONG KONG',
  'TECHTRONIC IND',
  'SITC',
  'PING AN',
  'XIAOMI-W',
  'MEITUAN-W',
  'BABA-SW',
  'JD-SW',
  'ANTA SPORTS',
];

/** `count` generated stocks (codes 01001…), for the benchmark. */
export function generatedStocks(count: number, seed = 7): GoldStock[] {
  const rnd = prng(seed);
  return Array.from({ length: count }, (_, i) => ({
    code: String(1001 + i).padStart(5, '0'),
    name: `${NAME_POOL[i % NAME_POOL.length]} ${Math.floor(i / NAME_POOL.length) || ''}`.trim(),
    basePrice: Math.round((0.5 + rnd() * 300) * 100) / 100,
    issuedShares: Math.round(1e9 + rnd() * 2e10),
    baseVolume: Math.round(1e6 + rnd() * 3e7),
    eps: Math.round((0.1 + rnd() * 10) * 100) / 100,
    dps: Math.round(rnd() * 3 * 100) / 100,
  }));
}

export interface SeedOptions {
  stocks?: readonly GoldStock[];
  /** First and last calendar date; trading days are weekdays minus HK holidays. */
  from: string;
  to: string;
  seed?: number;
  /** CCASS holdings for this many trading days at the end (default 30). */
  ccassDays?: number;
  /** CCASS participants per stock (default 12, plus one consenting investor). */
  participants?: number;
}

export interface SeededGold {
  codes: string[];
  tradingDays: string[];
  lastDate: string;
  rows: number;
}

interface Day {
  code: string;
  date: string;
  name: string;
  status: string;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  prev: number | null;
  changePct: number | null;
  volume: number | null;
  turnover: number | null;
  dv: number | null;
}

/** Deterministic PRNG (mulberry32). */
export const prng = mulberry32;

/** HKEX spread table (part A): price → tick. */
export function tick(price: number): number {
  const table: [number, number][] = [
    [0.25, 0.001],
    [0.5, 0.005],
    [10, 0.01],
    [20, 0.02],
    [100, 0.05],
    [200, 0.1],
    [500, 0.2],
    [1000, 0.5],
    [2000, 1],
    [5000, 2],
  ];
  for (const [limit, t] of table) if (price < limit) return t;
  return 5;
}

const roundTo = (v: number, step: number) => Number((Math.round(v / step) * step).toFixed(3));

export async function seedGold(pool: pg.Pool, opts: SeedOptions): Promise<SeededGold> {
  const stocks = opts.stocks ?? DEFAULT_GOLD_STOCKS;
  const rnd = prng(opts.seed ?? 42);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const days = createCalendar().tradingDays(opts.from, opts.to);
  if (!days.length) throw new Error('no trading days in range');
  const all: Day[] = [];
  stocks.forEach((s, si) => {
    let close = s.basePrice;
    const suspendFrom = Math.floor(days.length * 0.55);
    days.forEach((date, di) => {
      const prev = close;
      const suspended = si === 2 && di >= suspendFrom && di < suspendFrom + 5;
      const noTrade = si === 2 && di === suspendFrom + 10;
      if (suspended) {
        all.push({
          code: s.code,
          date,
          name: s.name,
          status: 'suspended',
          open: null,
          high: null,
          low: null,
          close: null,
          prev,
          changePct: null,
          volume: null,
          turnover: null,
          dv: null,
        });
        return;
      }
      if (noTrade) {
        all.push({
          code: s.code,
          date,
          name: s.name,
          status: 'no_trade',
          open: null,
          high: null,
          low: null,
          close: prev,
          prev,
          changePct: 0,
          volume: 0,
          turnover: 0,
          dv: 0,
        });
        return;
      }
      close = Math.max(tick(prev), roundTo(prev * Math.exp(0.018 * normal()), tick(prev)));
      const hi = roundTo(Math.max(close, prev) * (1 + 0.008 * rnd()), tick(close));
      const lo = roundTo(Math.min(close, prev) * (1 - 0.008 * rnd()), tick(close));
      const high = Math.max(hi, close);
      const low = Math.min(lo, close);
      const open = di >= days.length - 20 ? roundTo(low + (high - low) * rnd(), tick(close)) : null;
      const volume = Math.round((s.baseVolume * Math.exp(0.5 * normal())) / 100) * 100;
      const turnover = Math.round((volume * (high + low + close)) / 3);
      const sign = Math.sign(Number((close - prev).toFixed(3)));
      all.push({
        code: s.code,
        date,
        name: s.name,
        status: 'traded',
        open,
        high,
        low,
        close,
        prev,
        changePct: Number((((close - prev) / prev) * 100).toFixed(4)),
        volume,
        turnover,
        dv: volume * sign,
      });
    });
  });

  await insertRows(pool, 'gold.daily_prices', all, {
    code: ['text', (d) => d.code],
    trade_date: ['date', (d) => d.date],
    name: ['text', (d) => d.name],
    currency: ['text', () => 'HKD'],
    status: ['text', (d) => d.status],
    open: ['float8', (d) => d.open],
    high: ['float8', (d) => d.high],
    low: ['float8', (d) => d.low],
    close: ['float8', (d) => d.close],
    prev_close: ['float8', (d) => d.prev],
    change_pct: ['float8', (d) => d.changePct],
    volume: ['float8', (d) => d.volume],
    turnover: ['float8', (d) => d.turnover],
    directed_volume: ['float8', (d) => d.dv],
  });

  // rolling_directed_volume and monthly_high_low, derived the way the transformer defines them.
  const rolling: {
    code: string;
    date: string;
    t: number | null;
    tn: number;
    c: number | null;
    cn: number;
  }[] = [];
  const months = new Map<string, { code: string; month: string; days: Day[] }>();
  for (const s of stocks) {
    const mine = all.filter((d) => d.code === s.code);
    const traded: Day[] = [];
    for (const d of mine) {
      if (d.status === 'traded') traded.push(d);
      const last30 = traded.slice(-30);
      const since = addDays(d.date, -29);
      const cal = mine.filter((x) => x.date >= since && x.date <= d.date && x.status === 'traded');
      rolling.push({
        code: d.code,
        date: d.date,
        t: last30.length ? last30.reduce((a, x) => a + (x.dv ?? 0), 0) : null,
        tn: last30.length,
        c: cal.length ? cal.reduce((a, x) => a + (x.dv ?? 0), 0) : null,
        cn: cal.length,
      });
      const key = `${d.code}:${d.date.slice(0, 7)}`;
      if (!months.has(key)) months.set(key, { code: d.code, month: `${d.date.slice(0, 7)}-01`, days: [] });
      months.get(key)!.days.push(d);
    }
  }
  await insertRows(pool, 'gold.rolling_directed_volume', rolling, {
    code: ['text', (r) => r.code],
    trade_date: ['date', (r) => r.date],
    dv_30d_trading: ['float8', (r) => r.t],
    days_30d_trading: ['integer', (r) => r.tn],
    dv_30d_calendar: ['float8', (r) => r.c],
    days_30d_calendar: ['integer', (r) => r.cn],
  });
  const monthRows = [...months.values()].map((m) => {
    const traded = m.days.filter((d) => d.status === 'traded');
    const hi = traded.reduce<Day | null>((a, d) => (!a || (d.high ?? 0) > (a.high ?? 0) ? d : a), null);
    const lo = traded.reduce<Day | null>(
      (a, d) => (!a || (d.low ?? Infinity) < (a.low ?? Infinity) ? d : a),
      null,
    );
    const withClose = m.days.filter((d) => d.close !== null);
    return {
      code: m.code,
      month: m.month,
      open: traded[0]?.open ?? null,
      high: hi?.high ?? null,
      highDate: hi?.date ?? null,
      low: lo?.low ?? null,
      lowDate: lo?.date ?? null,
      close: withClose[withClose.length - 1]?.close ?? null,
      volume: traded.reduce((a, d) => a + (d.volume ?? 0), 0),
      tradingDays: traded.length,
    };
  });
  await insertRows(pool, 'gold.monthly_high_low', monthRows, {
    code: ['text', (r) => r.code],
    month: ['date', (r) => r.month],
    open: ['float8', (r) => r.open],
    high: ['float8', (r) => r.high],
    high_date: ['date', (r) => r.highDate],
    low: ['float8', (r) => r.low],
    low_date: ['date', (r) => r.lowDate],
    close: ['float8', (r) => r.close],
    volume: ['float8', (r) => r.volume],
    trading_days: ['integer', (r) => r.tradingDays],
  });

  // stock_picker: one row per trading day.
  const picks = stocks.flatMap((s) => {
    const window: number[] = [];
    return all
      .filter((d) => d.code === s.code)
      .map((d) => {
        if (d.turnover !== null) window.push(d.turnover);
        if (window.length > 20) window.shift();
        const avgTurnover = window.length ? window.reduce((a, v) => a + v, 0) / window.length : null;
        const close = d.close ?? d.prev;
        const cap = close === null ? null : close * s.issuedShares;
        return {
          code: d.code,
          date: d.date,
          name: d.name,
          close,
          eps: s.eps,
          pe: close === null ? null : Number((close / s.eps).toFixed(2)),
          dy: close === null ? null : Number(((s.dps / close) * 100).toFixed(2)),
          cap,
          avg: avgTurnover === null ? null : Math.round(avgTurnover),
          ratio: avgTurnover !== null && cap ? avgTurnover / cap : null,
        };
      });
  });
  await insertRows(pool, 'gold.stock_picker', picks, {
    code: ['text', (r) => r.code],
    as_of: ['date', (r) => r.date],
    name: ['text', (r) => r.name],
    close: ['float8', (r) => r.close],
    eps: ['float8', (r) => r.eps],
    pe: ['float8', (r) => r.pe],
    dividend_yield: ['float8', (r) => r.dy],
    market_cap: ['float8', (r) => r.cap],
    avg_turnover_20d: ['float8', (r) => r.avg],
    turnover_ratio: ['float8', (r) => r.ratio],
  });

  // CCASS: holdings drift day by day for the last `ccassDays` trading days.
  const ccassDays = days.slice(-(opts.ccassDays ?? 30));
  const nPart = opts.participants ?? 12;
  const changes: {
    code: string;
    date: string;
    prevDate: string | null;
    key: string;
    id: string | null;
    name: string;
    holding: number;
    prevHolding: number;
    issued: number;
  }[] = [];
  const conc: {
    code: string;
    date: string;
    issued: number;
    n: number;
    top5: number;
    top10: number;
    inter: number;
    cons: number;
    non: number;
  }[] = [];
  for (const s of stocks) {
    const parts = Array.from({ length: nPart + 1 }, (_, i) => {
      const consenting = i === nPart;
      return {
        key: consenting
          ? 'CONSENTING INVESTORS'
          : PARTICIPANTS[i % PARTICIPANTS.length]![0] + (i >= PARTICIPANTS.length ? `-${i}` : ''),
        id: consenting
          ? null
          : PARTICIPANTS[i % PARTICIPANTS.length]![0] + (i >= PARTICIPANTS.length ? `-${i}` : ''),
        name: consenting ? 'CONSENTING INVESTORS' : PARTICIPANTS[i % PARTICIPANTS.length]![1],
        share: consenting ? 0.004 : (0.3 / (i + 1.5)) * (0.8 + 0.4 * rnd()),
      };
    });
    let prevDate: string | null = null;
    const prevHolding = new Map<string, number>();
    for (const date of ccassDays) {
      const holdings = parts.map((p) => {
        p.share = Math.max(0.0005, p.share * (1 + 0.01 * normal()));
        return { ...p, holding: Math.round((p.share * s.issuedShares) / 1000) * 1000 };
      });
      for (const h of holdings) {
        changes.push({
          code: s.code,
          date,
          prevDate,
          key: h.key,
          id: h.id,
          name: h.name,
          holding: h.holding,
          prevHolding: prevHolding.get(h.key) ?? 0,
          issued: s.issuedShares,
        });
        prevHolding.set(h.key, h.holding);
      }
      const sorted = holdings.map((h) => h.holding).sort((a, b) => b - a);
      const pct = (v: number) => Number(((v / s.issuedShares) * 100).toFixed(4));
      const inter = holdings.filter((h) => h.id !== null).reduce((a, h) => a + h.holding, 0);
      const cons = holdings.filter((h) => h.id === null).reduce((a, h) => a + h.holding, 0);
      conc.push({
        code: s.code,
        date,
        issued: s.issuedShares,
        n: holdings.length,
        top5: pct(sorted.slice(0, 5).reduce((a, v) => a + v, 0)),
        top10: pct(sorted.slice(0, 10).reduce((a, v) => a + v, 0)),
        inter: pct(inter),
        cons: pct(cons),
        non: Number((100 - pct(inter) - pct(cons)).toFixed(4)),
      });
      prevDate = date;
    }
  }
  // Served the way the transformer serves them: the model's rows plus issued shares, staged.
  await inStage(pool, ccassDays, (client, stage) =>
    insertRows(client, stage, changes, {
      code: ['text', (r) => r.code],
      holding_date: ['date', (r) => r.date],
      prev_holding_date: ['date', (r) => r.prevDate],
      participant_key: ['text', (r) => r.key],
      participant_id: ['text', (r) => r.id],
      participant_name: ['text', (r) => r.name],
      shareholding: ['float8', (r) => r.holding],
      prev_shareholding: ['float8', (r) => r.prevHolding],
      kind: [
        'text',
        (r) => (r.prevDate === null ? 'new' : r.holding === r.prevHolding ? 'unchanged' : 'changed'),
      ],
      issued_shares: ['float8', (r) => r.issued],
    }),
  );
  await insertRows(pool, 'gold.ccass_concentration', conc, {
    code: ['text', (r) => r.code],
    holding_date: ['date', (r) => r.date],
    issued_shares: ['float8', (r) => r.issued],
    participants: ['integer', (r) => r.n],
    top5_pct: ['float8', (r) => r.top5],
    top10_pct: ['float8', (r) => r.top10],
    intermediaries_pct: ['float8', (r) => r.inter],
    consenting_pct: ['float8', (r) => r.cons],
    non_consenting_pct: ['float8', (r) => r.non],
  });

  // Data quality: fresh quotes, CCASS one day behind with a short day.
  const last = days[days.length - 1]!;
  const dq = [
    { dataset: 'securities', asOf: last, lag: 3_600 },
    { dataset: 'quotes', asOf: last, lag: 2_700 },
    { dataset: 'fundamentals', asOf: last, lag: 1_800 },
    { dataset: 'ccass', asOf: days[days.length - 2] ?? last, lag: 90_000 },
  ];
  await insertRows(pool, 'gold.dq_freshness', dq, {
    dataset: ['text', (r) => r.dataset],
    latest_as_of: ['date', (r) => r.asOf],
    loaded_at: ['timestamptz', (r) => `${r.asOf}T10:45:00Z`],
    lag_seconds: ['float8', (r) => r.lag],
  });
  const counts = days.slice(-10).flatMap((date, i) =>
    ['quotes', 'ccass'].map((dataset) => {
      const expected = dataset === 'quotes' ? stocks.length : stocks.length * (nPart + 1);
      const rows = dataset === 'ccass' && i === 9 ? Math.floor(expected * 0.6) : expected;
      return { dataset, date, rows, expected, ratio: rows / expected };
    }),
  );
  await insertRows(pool, 'gold.dq_row_counts', counts, {
    dataset: ['text', (r) => r.dataset],
    as_of: ['date', (r) => r.date],
    rows: ['integer', (r) => r.rows],
    expected: ['integer', (r) => r.expected],
    ratio: ['float8', (r) => r.ratio],
  });
  return { codes: stocks.map((s) => s.code), tradingDays: days, lastDate: last, rows: all.length };
}

const PARTICIPANTS: [string, string][] = [
  ['C00019', 'THE HONGKONG AND SHANGHAI BANKING CORPORATION LIMITED'],
  ['C00010', 'CITIBANK N.A.'],
  ['C00039', 'STANDARD CHARTERED BANK (HONG KONG) LIMITED'],
  ['C00100', 'JPMORGAN CHASE BANK, NATIONAL ASSOCIATION'],
  ['C00016', 'BANK OF CHINA (HONG KONG) LIMITED'],
  ['B01451', 'GOLDMAN SACHS (ASIA) SECURITIES LIMITED'],
  ['B01274', 'MORGAN STANLEY HONG KONG SECURITIES LIMITED'],
  ['C00093', 'BNP PARIBAS SECURITIES SERVICES'],
  ['B01161', 'UBS SECURITIES HONG KONG LIMITED'],
  ['C00074', 'DBS BANK (HONG KONG) LIMITED'],
  ['B01078', 'FUTU SECURITIES INTERNATIONAL (HONG KONG) LIMITED'],
  ['B01955', 'INTERACTIVE BROKERS HONG KONG LIMITED'],
  ['C00033', 'BANK OF COMMUNICATIONS (HONG KONG) LIMITED'],
];

type ColumnSpec<T> = Record<string, [string, (row: T) => string | number | null]>;

/** Bulk insert through `unnest` of one array per column, in chunks. */
async function insertRows<T>(
  db: pg.Pool | pg.PoolClient,
  table: string,
  rows: readonly T[],
  columns: ColumnSpec<T>,
): Promise<void> {
  const names = Object.keys(columns);
  const specs = Object.values(columns);
  for (let i = 0; i < rows.length; i += 20_000) {
    const chunk = rows.slice(i, i + 20_000);
    const arrays = specs.map(([, get]) => chunk.map(get));
    const unnest = specs.map(([type], j) => `$${j + 1}::${type}[]`).join(', ');
    await db.query(`insert into ${table} (${names.join(', ')}) select * from unnest(${unnest})`, arrays);
  }
}
