/**
 * The transformer under kill -9, on real nats-server, Postgres and a lake directory: commit events for
 * a month and a half of quotes, weekly fundamentals and CCASS days are queued, the transformer (its own process, as
 * deployed) is killed at random moments while it works and restarted; afterwards gold must equal
 * DuckDB's reference computation over the lake, and silver must hold every lake row once.
 * Default (CI) size is small; `npm run test:chaos` (HARBOUR_CHAOS=1) runs more days and kills.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { jetstream } from '@nats-io/jetstream';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CcassRow,
  Dataset,
  FundamentalRow,
  LakeCommitted,
  QuoteRow,
  SecurityRow,
} from '../contracts/index.ts';
import { migrateCatalog } from '../services/compactor/index.ts';
import { createObjectStore } from '../services/object-store/index.ts';
import { referenceGold } from '../services/transformer/reference.ts';
import { diffGold, readAllGold, writeLakeFile } from '../services/transformer/testing.ts';
import { ensureTopology, streamNames, subjects, TopologyConfig } from '../streams/index.ts';
import { freshDatabase, startTestNats, testDir } from './support/infra.ts';
import { logTail, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const ACK_WAIT_MS = 2000;
const STOCKS = Array.from({ length: CHAOS ? 60 : 20 }, (_, i) => String(i + 1).padStart(5, '0'));
const TRADING_DAYS = CHAOS ? 90 : 45;
const CCASS_DAYS = CHAOS ? 20 : 6;
const PARTICIPANTS = 15;
const KILLS = CHAOS ? 15 : 4;

function tradingDays(from: string, n: number): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); out.length < n; t += 86_400_000) {
    const day = new Date(t).getUTCDay();
    if (day !== 0 && day !== 6) out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

const securities = (): SecurityRow[] =>
  STOCKS.map((code) => ({
    code,
    name: `STOCK ${code}`,
    category: 'Equity',
    sub_category: 'Equity Securities (Main Board)',
    board_lot: 100,
    isin: `HK${code}0000`,
    currency: 'HKD',
  }));

function quote(code: string, date: string, d: number): QuoteRow {
  const base = 10 + Number(code) + Math.sin(d / 5 + Number(code)) * 2;
  const traded = (d + Number(code)) % 11 !== 0;
  return {
    code,
    trade_date: date,
    name: `STOCK ${code}`,
    currency: 'HKD',
    status: traded ? 'traded' : 'no_trade',
    flags: '',
    prev_close: base - 0.1,
    open: traded ? base - 0.05 : null,
    high: traded ? base + 0.3 : null,
    low: traded ? base - 0.4 : null,
    close: base,
    ask: base + 0.01,
    bid: base - 0.01,
    volume: traded ? 1000 * ((d * 7 + Number(code)) % 97) : 0,
    turnover: traded ? base * 1000 * ((d * 7 + Number(code)) % 97) : 0,
  };
}

/** Weekly fundamentals so the stock picker joins them to prices, turnover and the securities list. */
function fundamental(code: string, date: string, d: number): FundamentalRow {
  const n = Number(code);
  return {
    code,
    as_of: date,
    last: null,
    prev_close: null,
    open: null,
    high: null,
    low: null,
    volume: null,
    turnover: null,
    eps: n % 5 === 0 ? -0.2 : 0.5 + n / 10 + d / 100,
    eps_currency: 'HKD',
    pe: null,
    dividend_yield: (n % 7) / 2,
    market_cap: null,
    issued_shares: 1e9 + n * 1e7,
  };
}

function ccass(code: string, date: string, d: number): CcassRow[] {
  return Array.from({ length: PARTICIPANTS }, (_, p) => ({
    code,
    holding_date: date,
    row_type: 'participant' as const,
    participant_id: `C${String(p + 1).padStart(5, '0')}`,
    participant_name: `BROKER ${p + 1} LIMITED`,
    address: `${p + 1} QUEEN'S ROAD CENTRAL`,
    shareholding: 1_000_000 * (p + 1) + 10_000 * ((d + p) % 7),
    pct_issued: (p + 1) / 100,
    participants: null,
  }));
}

describe('transformer crash test: kill -9 at random moments', () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let child: ServiceProcess | undefined;

  beforeAll(async () => {
    nats = await startTestNats();
    await ensureTopology(nats.nc, nats.jsm, {
      ...(Value.Default(TopologyConfig, {}) as TopologyConfig),
      eventsAckWaitMs: ACK_WAIT_MS,
    });
    db = await freshDatabase();
    await migrateCatalog(db.pool);
  });
  afterAll(async () => {
    await child?.stop('SIGKILL');
    await db?.drop();
    await nats?.stop();
  });

  it(`gold equals the reference after ${KILLS} kill -9s of the transformer`, {
    timeout: CHAOS ? 1_800_000 : 240_000,
  }, async () => {
    const root = await testDir('lake');
    const store = createObjectStore({ backend: 'fs', root });
    const days = tradingDays('2026-08-03', TRADING_DAYS);
    const events: LakeCommitted[] = [];
    let seq = 0;
    const env = <R>(key: string, asOf: string, rows: R[]) => ({
      seq: ++seq,
      key,
      as_of: asOf,
      fetched_at: `${asOf}T10:00:00.000Z`,
      rows,
    });
    events.push(
      (await writeLakeFile(store, db.pool, 'securities', [env('all', days[0]!, securities())])).event,
    );
    for (const [d, date] of days.entries()) {
      const quotes = STOCKS.map((code) => env(`${code}`, date, [quote(code, date, d)]));
      events.push((await writeLakeFile(store, db.pool, 'quotes', quotes)).event);
    }
    for (const [d, date] of days.entries()) {
      if (d % 5 !== 4) continue;
      const funds = STOCKS.map((code) => env(`${code}:${date}`, date, [fundamental(code, date, d)]));
      events.push((await writeLakeFile(store, db.pool, 'fundamentals', funds)).event);
    }
    for (const [d, date] of days.slice(-CCASS_DAYS).entries()) {
      const pages = STOCKS.map((code) => env(`${code}:${date}`, date, ccass(code, date, d)));
      events.push((await writeLakeFile(store, db.pool, 'ccass', pages)).event);
    }
    const js = jetstream(nats.nc);
    for (const e of events) {
      await js.publish(subjects.lakeCommitted(e.dataset), JSON.stringify(e), { msgID: e.file_key });
    }

    const logDir = await testDir('transformer-log');
    const logPath = join(logDir, 'transformer.log');
    const childEnv = {
      ...process.env,
      HARBOUR_NATS_URL: nats.server.url,
      HARBOUR_POSTGRES_URL: db.url,
      HARBOUR_OBJECT_STORE_BACKEND: 'fs',
      HARBOUR_OBJECT_STORE_ROOT: root,
      HARBOUR_TOPOLOGY_EVENTS_ACK_WAIT_MS: String(ACK_WAIT_MS),
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'warn',
    };
    const startChild = async () => {
      child = await startServiceProcess('transformer', childEnv, logPath);
    };
    const acked = async () =>
      (await nats.jsm.consumers.info(streamNames.events, 'transformer')).ack_floor.stream_seq;
    const drained = async () => {
      const info = await nats.jsm.consumers.info(streamNames.events, 'transformer');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    };

    const t0 = Date.now();
    await startChild();
    const killedAt: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      // Kill while it works: once this incarnation has acked an event, at a random moment after.
      const before = await acked();
      await until(async () => (await acked()) > before, 90_000, 'progress before the next kill');
      if (await drained()) break;
      await new Promise((r) => setTimeout(r, Math.random() * 400));
      await child!.stop('SIGKILL');
      killedAt.push(await acked());
      await startChild();
    }
    await until(drained, CHAOS ? 1_200_000 : 150_000, 'the transformer to process every event').catch(
      async (err) => {
        console.error(await logTail(logPath));
        throw err;
      },
    );
    await child!.stop('SIGTERM');
    child = undefined;
    const elapsed = Date.now() - t0;

    const gold = await readAllGold(db.pool);
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    const { rows: files } = await db.pool.query<{ dataset: Dataset; file_key: string }>(
      `select dataset, file_key from lake_files where status = 'active'`,
    );
    const paths: Record<Dataset, string[]> = { securities: [], quotes: [], fundamentals: [], ccass: [] };
    for (const f of files) paths[f.dataset].push(join(root, ...f.file_key.split('/')));
    const reference = await referenceGold(conn, paths);
    conn.closeSync();
    duck.closeSync();

    const count = async (table: string) =>
      Number((await db.pool.query(`select count(*) as n from ${table}`)).rows[0].n);
    const goldCounts = Object.fromEntries(Object.entries(gold).map(([t, rows]) => [t, rows.length]));
    console.log(
      `transformer crash test: ${events.length} events, ${killedAt.length} kill -9s (at acked event ${killedAt.join(', ')}), ` +
        `drained in ${elapsed} ms; silver quotes ${await count('silver.quotes')}, ccass ${await count('silver.ccass')}; ` +
        `gold rows ${JSON.stringify(goldCounts)}`,
    );
    expect(killedAt.length).toBeGreaterThan(0);
    expect(await count('silver.quotes')).toBe(STOCKS.length * days.length);
    expect(await count('silver.ccass')).toBe(STOCKS.length * CCASS_DAYS * PARTICIPANTS);
    expect(await count('silver.fundamentals')).toBe(STOCKS.length * Math.floor(days.length / 5));
    expect(Object.values(goldCounts).every((n) => n > 0)).toBe(true);
    // Window sums run in a different order in Postgres and DuckDB: equal to the last few ulps.
    expect(diffGold(gold, reference, { relTol: 1e-9 })).toEqual([]);
  });
});
