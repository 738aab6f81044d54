/**
 * The pipeline on a 3-node JetStream cluster (R3 streams and consumers): scheduled CCASS and
 * quotation runs are planned, scraped from the fixture HKEX site and compacted into the lake while
 * nats-server nodes are killed (SIGKILL) and brought back. Afterwards every job is done, RAW holds
 * every page exactly once with the rows the site serves, nothing is dead-lettered, every node's copy
 * of RAW, EVENTS and DLQ is identical (JOBS: the same jobs; a JOBS replica still holding acked jobs
 * is made leader to show none comes back), and the lake (read with DuckDB) holds every RAW record
 * exactly once, under its RAW sequence. Each kill prints its figures: who was down and how long,
 * clients on it, jobs finished while down, when the first job finished after the kill, and how long
 * the replicas took to be current again.
 *
 * Default (CI): 20 stocks × 4 days, one node killed (the RAW stream leader). `HARBOUR_CHAOS=1`
 * (`npm run test:chaos`): 80 stocks × 10 days, six kills (stream leaders, the meta leader, the node
 * a client is connected to) and one loss of quorum (two nodes down at once).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../contracts/index.ts';
import { defaultSamplesDir, type FixtureSite, startFixtureSite } from '../ops/fixture-site/index.ts';
import {
  type NatsClusterHandle,
  type NatsClusterNode,
  startNatsCluster,
} from '../ops/launcher/nats-cluster.ts';
import { CompactorConfig, startCompactor } from '../services/compactor/index.ts';
import { createObjectStore, type ObjectStore } from '../services/object-store/index.ts';
import { createLogger, type Service } from '../services/runtime/index.ts';
import { runProgress, ScrapersConfig, startScrapers } from '../services/scrapers/index.ts';
import { consumerNames, ensureTopology, streamNames, TopologyConfig } from '../streams/index.ts';
import { freshDatabase, readStream, serviceDeps, testDir, until } from './support/infra.ts';
import { envelopesIn, lakeEnvelopes } from './support/lake.ts';
import { logTail } from './support/service-process.ts';
import { publishDailyRuns } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const STOCKS = CHAOS ? 80 : 20;
const DATES = CHAOS
  ? [
      '2026-10-05',
      '2026-10-06',
      '2026-10-07',
      '2026-10-08',
      '2026-10-09',
      '2026-10-12',
      '2026-10-13',
      '2026-10-14',
      '2026-10-15',
      '2026-10-16',
    ]
  : ['2026-10-05', '2026-10-06', '2026-10-07', '2026-10-08'];
/** Which node each kill takes down; `quorum` takes two at once. */
type Victim =
  | 'raw-leader'
  | 'jobs-leader'
  | 'meta-leader'
  | 'scrapers-server'
  | 'compactor-leader'
  | 'quorum';
const KILLS: Victim[] = CHAOS
  ? [
      'raw-leader',
      'jobs-leader',
      'meta-leader',
      'scrapers-server',
      'compactor-leader',
      'raw-leader',
      'quorum',
    ]
  : ['raw-leader'];
const DOWN_MS = CHAOS ? 10_000 : 5000;
const DATASETS = ['ccass', 'quotes'] as const;

const topology: TopologyConfig = {
  ...(Value.Default(TopologyConfig, {}) as TopologyConfig),
  replicas: 3,
  jobsAckWaitMs: 4000,
  jobsMaxDeliver: 40,
  compactorAckWaitMs: 6000,
};

let cluster: NatsClusterHandle;
const conns: NatsConnection[] = [];
let jsm: JetStreamManager;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let site: FixtureSite;
let store: ObjectStore;
const pools: pg.Pool[] = [];
const services: Service[] = [];

/** A client of the whole cluster: every node's URL, so it fails over when its node dies. */
async function clusterClient(name: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: cluster.urls,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  conns.push(nc);
  return nc;
}

function pool(): pg.Pool {
  const p = new pg.Pool({ connectionString: db.url, max: 6 });
  p.on('error', () => {});
  pools.push(p);
  return p;
}

beforeAll(async () => {
  cluster = await startNatsCluster({ dataDir: await testDir('cluster') });
  const nc = await clusterClient('test');
  jsm = await jetstreamManager(nc);
  await ensureTopology(nc, jsm, topology);
  db = await freshDatabase();
  site = await startFixtureSite({
    samplesDir: defaultSamplesDir(),
    seed: 11,
    stocks: STOCKS,
    today: '2026-10-20',
  });
  store = createObjectStore({ backend: 'fs', root: await testDir('lake') });
});

afterAll(async () => {
  await Promise.allSettled(services.map((s) => s.close()));
  await Promise.allSettled(conns.map((c) => c.close()));
  await Promise.allSettled(pools.map((p) => p.end()));
  await site?.close();
  await store?.close();
  await db?.drop();
  await cluster?.stop();
});

/** The consumers this test drives (the transformer's is idle here: nats-server 2.9 leaves an idle consumer "not current" on a restarted node until it sees traffic). */
const ACTIVE_CONSUMERS: [string, string][] = [
  [streamNames.ticks, consumerNames.planner],
  [streamNames.jobs, consumerNames.scrapers],
  ...DATASETS.map((d): [string, string] => [streamNames.raw, consumerNames.compactor(d)]),
];

/** Every stream and every active consumer has a leader and two current followers. */
async function allReplicasCurrent(): Promise<boolean> {
  const ok = (c: { leader?: string; replicas?: { current: boolean; offline?: boolean }[] } | undefined) =>
    !!c?.leader && c.replicas?.length === 2 && c.replicas.every((r) => r.current && !r.offline);
  try {
    for (const name of Object.values(streamNames))
      if (!ok((await jsm.streams.info(name)).cluster)) return false;
    for (const [stream, consumer] of ACTIVE_CONSUMERS)
      if (!ok((await jsm.consumers.info(stream, consumer)).cluster)) return false;
    return true;
  } catch {
    return false;
  }
}

/**
 * Each node's own copy of every stream (from each node's /jsz): limits streams (RAW, EVENTS, DLQ)
 * must be identical; JOBS (a work queue: acked jobs are deleted) must have seen the same jobs
 * (last sequence), and `jobsDiverged` says whether its replicas still hold different messages.
 */
async function nodeCopies(): Promise<{ same: boolean; jobsDiverged: boolean; table: string }> {
  const views = await Promise.all(cluster.nodes.map((n) => n.streams()));
  const rows: string[] = [];
  let same = true;
  let jobsDiverged = false;
  for (const name of [streamNames.jobs, streamNames.raw, streamNames.events, streamNames.dlq]) {
    const per = views.map((v) => v?.[name]);
    const sig = per.map((s) => (s ? `${s.messages}/${s.last_seq}` : 'none'));
    const lastSeqs = new Set(per.map((s) => s?.last_seq ?? -1));
    if (name === streamNames.jobs) {
      if (lastSeqs.size !== 1 || lastSeqs.has(-1)) same = false;
      jobsDiverged = new Set(sig).size !== 1;
    } else if (new Set(sig).size !== 1 || sig[0] === 'none') same = false;
    rows.push(`${name} ${sig.join(' | ')}`);
  }
  return { same, jobsDiverged, table: rows.join('; ') };
}

/**
 * Makes every node the leader of a stream or consumer in turn with leader step-downs, and
 * returns what `probe` reads under each leader.
 */
async function underEachLeader(
  stepdownSubject: string,
  leaderOf: () => Promise<string | undefined>,
  probe: () => Promise<number>,
): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < 20 && Object.keys(seen).length < cluster.nodes.length; i++) {
    await until(allReplicasCurrent, 30_000, 'replicas current between step-downs');
    const leader = await leaderOf();
    if (leader && !(leader in seen)) seen[leader] = await probe();
    await conns[0]!.request(stepdownSubject, '', { timeout: 5000 }).catch(() => {});
    await until(
      async () => ((await leaderOf().catch(() => undefined)) ?? leader) !== leader,
      30_000,
      'a new leader',
    );
  }
  return seen;
}

async function victimFor(kind: Victim, scrapersNc: NatsConnection): Promise<NatsClusterNode[]> {
  const byName = (name: string | undefined) => cluster.nodes.filter((n) => n.name === name);
  switch (kind) {
    case 'raw-leader':
      return byName((await jsm.streams.info(streamNames.raw)).cluster?.leader);
    case 'jobs-leader':
      return byName((await jsm.streams.info(streamNames.jobs)).cluster?.leader);
    case 'compactor-leader':
      return byName(
        (await jsm.consumers.info(streamNames.raw, consumerNames.compactor('ccass'))).cluster?.leader,
      );
    case 'meta-leader':
      return byName(await cluster.waitForMetaLeader());
    case 'scrapers-server':
      return byName(scrapersNc.info?.server_name);
    case 'quorum': {
      const leader = (await jsm.streams.info(streamNames.raw)).cluster?.leader;
      return [...byName(leader), ...cluster.nodes.filter((n) => n.name !== leader).slice(0, 1)];
    }
  }
}

describe('pipeline on a 3-node JetStream cluster', () => {
  it(`streams are R3 and nothing is lost or duplicated across ${KILLS.length} node kill(s)`, {
    timeout: CHAOS ? 1_800_000 : 150_000,
  }, async () => {
    const started = Date.now();
    for (const name of Object.values(streamNames)) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas, name).toBe(3);
      expect(info.cluster?.replicas, name).toHaveLength(2);
    }
    for (const d of DATASETS) {
      const c = await jsm.consumers.info(streamNames.raw, consumerNames.compactor(d));
      expect(c.cluster?.replicas, `consumer ${c.name}`).toHaveLength(2);
    }

    // Each stage on its own connection and pool, as separate processes would be.
    const defaults = Value.Default(ScrapersConfig, {}) as ScrapersConfig;
    const scrapersNc = await clusterClient('scrapers');
    services.push(
      await startScrapers(
        {
          ...defaults,
          // planner window off: it runs on the real clock, the fixture site's `today` is fixed
          sources: {
            ccassBaseUrl: site.url,
            hkexBaseUrl: site.url,
            quoteBaseUrl: site.url,
            ccassHistoryDays: 0,
          },
          http: {
            ...defaults.http,
            requestsPerSecond: 400,
            burst: 50,
            perHostConcurrency: 8,
            retryBaseDelayMs: 20,
            retryMaxDelayMs: 200,
            timeoutMs: 5000,
          },
          concurrency: 6,
          retryBaseDelayMs: 200,
          maxAttempts: 30,
        },
        await serviceDeps({ nc: scrapersNc, pool: pool() }),
      ),
    );
    const compactorNc = await clusterClient('compactor');
    // The compactor's log goes to a file: printed if the lake does not catch up.
    const compactorLog = join(await testDir('compactor-log'), 'compactor.log');
    services.push(
      await startCompactor(
        {
          ...(Value.Default(CompactorConfig, {}) as CompactorConfig),
          datasets: [...DATASETS],
          spoolDir: await testDir('spool'),
          flushAgeMs: 500,
          maxBatchMessages: 40,
          mergeEveryMs: 0,
          commitRetryMaxMs: 1000,
          outboxEveryMs: 500,
        },
        await serviceDeps({
          nc: compactorNc,
          pool: pool(),
          store,
          logger: createLogger({
            level: 'info',
            destination: pino.destination({ dest: compactorLog, sync: true }),
          }),
        }),
      ),
    );

    // The CCASS site answers slowly enough that the run is still going when nodes die.
    site.faults.set({ slowMs: CHAOS ? 200 : 250, pathPrefix: '/sdw/search/searchsdw.aspx' });
    const runIds = await publishDailyRuns({ nc: conns[0]! }, DATES, '10:00');
    const expectedJobs = DATES.length * (STOCKS + 1);
    const progress = () => runProgress(db.pool, runIds);

    for (const [k, kind] of KILLS.entries()) {
      // Spread the kills over the run (the k-th once (k+1)/(kills+2) of the jobs are done), so work
      // goes on while each node is down and after it is back.
      const mark = Math.floor((expectedJobs * (k + 1)) / (KILLS.length + 2));
      await until(async () => ((await progress()).byStatus.done ?? 0) >= mark, 120_000, `${mark} jobs done`);
      await until(allReplicasCurrent, 60_000, 'every replica current before the next kill');
      const victims = await victimFor(kind, scrapersNc);
      expect(victims.length, `a node for ${kind}`).toBeGreaterThan(0);
      const onVictim = conns.filter((c) => victims.some((v) => v.name === c.info?.server_name)).length;
      const doneAtKill = (await progress()).byStatus.done ?? 0;
      const t0 = Date.now();
      await Promise.all(victims.map((v) => v.kill()));
      // While the node is down: when does the pipeline move again (a job finishes after the kill)?
      let resumedMs: number | undefined;
      while (Date.now() - t0 < DOWN_MS) {
        if (resumedMs === undefined && ((await progress()).byStatus.done ?? 0) > doneAtKill)
          resumedMs = Date.now() - t0;
        await sleep(100);
      }
      const doneWhileDown = ((await progress()).byStatus.done ?? 0) - doneAtKill;
      await Promise.all(victims.map((v) => v.start()));
      const downMs = Date.now() - t0;
      const t1 = Date.now();
      await cluster.waitForMetaLeader({ timeoutMs: 60_000 });
      await until(allReplicasCurrent, 60_000, 'every stream replica current after restart');
      const currentMs = Date.now() - t1;
      if (resumedMs === undefined && doneAtKill < expectedJobs) {
        await until(
          async () => {
            const p = await progress();
            return (p.byStatus.done ?? 0) > doneAtKill || p.finished === expectedJobs;
          },
          120_000,
          'the pipeline to move again',
        );
        resumedMs = Date.now() - t0;
      }
      const line =
        `kill ${k + 1}/${KILLS.length} (${kind}): ${victims.map((v) => v.name).join(' + ')} down ${downMs} ms ` +
        `(${onVictim} of ${conns.length} clients connected to it); ${doneAtKill}/${expectedJobs} jobs done at the kill, ` +
        `${doneWhileDown} more while down; ` +
        (resumedMs === undefined
          ? 'the run had finished; '
          : `first job finished ${resumedMs} ms after the kill; `) +
        `every replica current ${currentMs} ms after restart`;
      console.log(line);
    }

    await until(
      async () => {
        const p = await progress();
        return p.total === expectedJobs && p.finished === p.total;
      },
      CHAOS ? 900_000 : 90_000,
      'every scrape job to finish',
    );
    const runs = await progress();
    expect(runs.byStatus).toEqual({ done: expectedJobs });
    const scrapeDoneMs = Date.now() - started;

    // RAW: one envelope per page, holding what the site serves.
    const raw = (await readStream<Envelope>(jsm, streamNames.raw)).map((m) => ({ seq: m.seq, env: m.data }));
    const perKey = new Map<string, number>();
    for (const { env } of raw)
      perKey.set(
        `${env.dataset}|${env.key}|${env.as_of}`,
        (perKey.get(`${env.dataset}|${env.key}|${env.as_of}`) ?? 0) + 1,
      );
    const dupes = [...perKey].filter(([, n]) => n > 1);
    expect(dupes, 'envelopes in RAW more than once').toEqual([]);
    for (const date of DATES) {
      for (const stock of site.universe()) {
        const rows = raw
          .filter(
            (r) =>
              r.env.dataset === 'ccass' && r.env.as_of === date && r.env.key.split('#')[0] === stock.code,
          )
          .flatMap((r) => r.env.rows);
        expect(rows, `ccass ${stock.code} ${date}`).toEqual(site.model.ccassRows(stock.code, date));
      }
      const quotes = raw
        .filter((r) => r.env.dataset === 'quotes' && r.env.as_of === date)
        .flatMap((r) => r.env.rows);
      expect(quotes, `quotes ${date}`).toEqual(site.model.quoteRows(date));
    }
    expect(raw.every((r) => r.env.dataset === 'ccass' || r.env.dataset === 'quotes')).toBe(true);
    expect((await jsm.streams.info(streamNames.dlq)).state.messages, 'messages dead-lettered').toBe(0);

    // Every node, the restarted ones included, holds the same copy of every stream (JOBS: the same jobs).
    let copies = await nodeCopies();
    await until(
      async () => {
        copies = await nodeCopies();
        return copies.same;
      },
      30_000,
      `identical stream copies on every node (${copies.table})`,
    );

    // The lake: every RAW record exactly once, under the RAW sequence it came from.
    const rawRows = raw.reduce((a, r) => a + r.env.rows.length, 0);
    await until(
      async () => {
        for (const d of DATASETS) {
          const c = await jsm.consumers.info(streamNames.raw, consumerNames.compactor(d));
          if (c.num_pending || c.num_ack_pending) return false;
        }
        const n = await db.pool.query(
          "select coalesce(sum(rows), 0) as n from lake_files where status = 'active'",
        );
        return Number(n.rows[0].n) === rawRows;
      },
      CHAOS ? 300_000 : 60_000,
      'the compactor to commit every RAW record',
    ).catch(async (err) => {
      const consumers = [];
      for (const d of DATASETS) {
        const c = await jsm.consumers.info(streamNames.raw, consumerNames.compactor(d));
        consumers.push(
          `${d}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, ack floor ${c.ack_floor.stream_seq}, leader ${c.cluster?.leader}`,
        );
      }
      const lake = await db.pool.query(
        "select dataset, sum(rows)::int as rows, count(*)::int as files from lake_files where status = 'active' group by dataset",
      );
      console.error(
        `compactor stalled; RAW rows ${rawRows}; lake ${JSON.stringify(lake.rows)}\n${consumers.join('\n')}\n${await logTail(compactorLog, 60)}`,
      );
      throw err;
    });
    const compactedMs = Date.now() - started;
    await Promise.all(services.splice(0).map((s) => s.close()));

    // A JOBS replica still holding acked jobs would hand them out again once it leads: with no
    // scraper running, make each node lead JOBS and its consumer, and check nothing is pending.
    let jobsUnderLeaders = '';
    await until(
      async () => {
        copies = await nodeCopies();
        return !copies.jobsDiverged;
      },
      10_000,
      'JOBS replicas to converge',
    ).catch(() => {});
    if (copies.jobsDiverged) {
      const stream = await underEachLeader(
        `$JS.API.STREAM.LEADER.STEPDOWN.${streamNames.jobs}`,
        async () => (await jsm.streams.info(streamNames.jobs)).cluster?.leader,
        async () => (await jsm.streams.info(streamNames.jobs)).state.messages,
      );
      const consumer = await underEachLeader(
        `$JS.API.CONSUMER.LEADER.STEPDOWN.${streamNames.jobs}.${consumerNames.scrapers}`,
        async () => (await jsm.consumers.info(streamNames.jobs, consumerNames.scrapers)).cluster?.leader,
        async () => {
          const c = await jsm.consumers.info(streamNames.jobs, consumerNames.scrapers);
          return c.num_pending + c.num_ack_pending;
        },
      );
      jobsUnderLeaders = `; JOBS replicas diverged (${copies.table.split(';')[0]}): messages under each leader ${JSON.stringify(stream)}, scrapers consumer pending under each leader ${JSON.stringify(consumer)}`;
      console.warn(`cluster test${jobsUnderLeaders}`);
      expect(Object.values(stream), 'JOBS messages under each leader').toEqual(cluster.nodes.map(() => 0));
      expect(Object.values(consumer), 'jobs pending under each consumer leader').toEqual(
        cluster.nodes.map(() => 0),
      );
    }
    let files = 0;
    for (const d of DATASETS) {
      expect(
        await lakeEnvelopes(db.pool, store, d),
        `lake ${d}: one group per RAW envelope, its rows once`,
      ).toEqual(envelopesIn(raw, d));
      files += Number(
        (
          await db.pool.query(
            "select count(*) as n from lake_files where dataset = $1 and status = 'active'",
            [d],
          )
        ).rows[0].n,
      );
    }
    console.log(
      `cluster test: ${expectedJobs} jobs (${STOCKS} stocks × ${DATES.length} days + quotes) done in ${scrapeDoneMs} ms; ` +
        `RAW ${raw.length} envelopes / ${rawRows} records, each once; lake ${files} files, ${rawRows} rows, each once, ` +
        `all committed at ${compactedMs} ms; ` +
        `node copies ${copies.table}${jobsUnderLeaders}; total ${Date.now() - started} ms`,
    );
  });
});
