/**
 * The transformer under kill -9, on real nats-server, Postgres and a lake directory: commit events for
 * a month and a half of the synthetic market (test/support/market.ts: quotes daily, fundamentals
 * weekly, CCASS for the last days) are queued, the transformer (its own process, as deployed) is killed at random moments while it works and restarted; afterwards gold must equal
 * DuckDB's reference computation over the lake, and silver must hold every lake row once.
 * Default (CI) size is small; `npm run test:chaos` (HARBOUR_CHAOS=1) runs more days and kills.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import type { Dataset, LakeCommitted, RowsByDataset } from '../contracts/index.ts';
import { migrateCatalog } from '../services/catalog/index.ts';
import { createObjectStore } from '../services/object-store/index.ts';
import { streamNames, subjects } from '../streams/index.ts';
import { testDir } from './support/infra.ts';
import { readCcassSilver } from './support/lake.ts';
import { createMarket, tradingDays } from './support/market.ts';
import { logTail, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';
import { fsLakeEnv, useSuiteInfra } from './support/suite.ts';
import { diffGold, readAllGold, referenceGoldOfLake, writeLakeFile } from './support/transformer.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const ACK_WAIT_MS = 2000;
const STOCKS = CHAOS ? 60 : 20;
const TRADING_DAYS = CHAOS ? 90 : 45;
const CCASS_DAYS = CHAOS ? 20 : 6;
const PARTICIPANTS = 15;
const KILLS = CHAOS ? 15 : 4;

describe('transformer crash test: kill -9 at random moments', () => {
  let child: ServiceProcess | undefined;
  const infra = useSuiteInfra({
    topology: { eventsAckWaitMs: ACK_WAIT_MS },
    prepare: () => migrateCatalog(infra.db.pool),
    beforeStop: async () => child?.stop('SIGKILL'),
  });

  it(`gold equals the reference after ${KILLS} kill -9s of the transformer`, {
    timeout: CHAOS ? 1_800_000 : 240_000,
  }, async () => {
    const root = await testDir('lake');
    const store = createObjectStore({ backend: 'fs', root });
    const market = createMarket({ stocks: STOCKS, days: TRADING_DAYS, participants: PARTICIPANTS });
    const days = tradingDays(TRADING_DAYS);
    const events: LakeCommitted[] = [];
    const published: Record<Dataset, number> = { securities: 0, quotes: 0, fundamentals: 0, ccass: 0 };
    let seq = 0;
    const put = async <D extends Dataset>(
      dataset: D,
      asOf: string,
      pages: { key: string; rows: RowsByDataset[D][] }[],
    ) => {
      const envs = pages.map((p) => ({
        seq: ++seq,
        key: p.key,
        as_of: asOf,
        fetched_at: `${asOf}T10:00:00.000Z`,
        rows: p.rows,
      }));
      events.push((await writeLakeFile(store, infra.db.pool, dataset, envs)).event);
      published[dataset] += pages.reduce((n, p) => n + p.rows.length, 0);
    };
    // The securities list once, quotes every day (one page per stock), fundamentals weekly, CCASS at the end.
    await put('securities', days[0]!, [{ key: 'all', rows: market.securitiesOf(0) }]);
    for (const [d, date] of days.entries()) {
      await put(
        'quotes',
        date,
        market.quotesOf(date, d).map((r) => ({ key: r.code, rows: [r] })),
      );
      if (d % 5 === 4)
        await put(
          'fundamentals',
          date,
          market.fundamentalsOf(date, d).map((r) => ({ key: r.code, rows: [r] })),
        );
      if (d >= days.length - CCASS_DAYS)
        await put(
          'ccass',
          date,
          market.ccassOf(date, d, STOCKS).map((p) => ({ key: p.code, rows: p.rows })),
        );
    }
    const js = jetstream(infra.nats.nc);
    for (const e of events) {
      await js.publish(subjects.lakeCommitted(e.dataset), JSON.stringify(e), { msgID: e.file_key });
    }

    const logDir = await testDir('transformer-log');
    const logPath = join(logDir, 'transformer.log');
    const childEnv = infra.env({
      ...fsLakeEnv(root),
      HARBOUR_TOPOLOGY_EVENTS_ACK_WAIT_MS: String(ACK_WAIT_MS),
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'info',
    });
    const startChild = async () => {
      child = await startServiceProcess('transformer', childEnv, logPath);
    };
    const acked = async () =>
      (await infra.nats.jsm.consumers.info(streamNames.events, 'transformer')).ack_floor.stream_seq;
    // Events not yet acked. Unlike the ack floor, this falls while an earlier event waits for a retry.
    const outstanding = async () => {
      const info = await infra.nats.jsm.consumers.info(streamNames.events, 'transformer');
      return info.num_pending + info.num_ack_pending;
    };
    // On a stall: what the service logged last and what its Postgres sessions are doing.
    const withLog = async (err: unknown) => {
      const { rows } = await infra.db.pool.query(
        `select pid, state, wait_event_type, wait_event, left(query, 120) as query
           from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
      );
      console.error(`${await logTail(logPath, 40)}\n${JSON.stringify(rows, null, 1)}`);
      throw err;
    };
    const drained = async () => (await outstanding()) === 0;

    const t0 = Date.now();
    await startChild();
    const killedAt: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      // Kill while it works: once this incarnation has acked an event, at a random moment after.
      const before = await outstanding();
      await until(async () => (await outstanding()) < before, 90_000, 'progress before the next kill').catch(
        withLog,
      );
      if (await drained()) break;
      await new Promise((r) => setTimeout(r, Math.random() * 400));
      await child!.stop('SIGKILL');
      killedAt.push(await acked());
      await startChild();
    }
    await until(drained, CHAOS ? 1_200_000 : 150_000, 'the transformer to process every event').catch(
      withLog,
    );
    await child!.stop('SIGTERM');
    child = undefined;
    const elapsed = Date.now() - t0;

    const gold = await readAllGold(infra.db.pool);
    const reference = await referenceGoldOfLake(infra.db.pool, root);

    const count = async (table: string) =>
      Number((await infra.db.pool.query(`select count(*) as n from ${table}`)).rows[0].n);
    const retried = (await readFile(logPath, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('lake event failed')).length;
    const goldCounts = Object.fromEntries(Object.entries(gold).map(([t, rows]) => [t, rows.length]));
    console.log(
      `transformer crash test: ${events.length} events, ${killedAt.length} kill -9s (at acked event ${killedAt.join(', ')}), ` +
        `drained in ${elapsed} ms, ${retried} failed attempt(s) retried; silver quotes ${await count('silver.quotes')}, ccass ${(await readCcassSilver(infra.db.pool, root)).length}; ` +
        `gold rows ${JSON.stringify(goldCounts)}`,
    );
    expect(killedAt.length).toBeGreaterThan(0);
    expect(await count('silver.quotes')).toBe(published.quotes);
    expect((await readCcassSilver(infra.db.pool, root)).length).toBe(published.ccass);
    expect(await count('silver.fundamentals')).toBe(published.fundamentals);
    expect(Object.values(goldCounts).every((n) => n > 0)).toBe(true);
    // Window sums run in a different order in Postgres and DuckDB: equal to the last few ulps.
    expect(diffGold(gold, reference, { relTol: 1e-9 })).toEqual([]);
  });
});
