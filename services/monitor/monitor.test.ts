import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopology, streamNames, subjects, TopologyConfig } from '../../streams/index.ts';
import { freshDatabase, serviceDeps, startTestNats } from '../../test/support/infra.ts';
import { createCalendar } from '../calendar/index.ts';
import { migrateCatalog } from '../catalog/index.ts';
import type { ServiceDeps } from '../runtime/index.ts';
import { DEFAULT_JOBS } from '../scheduler/index.ts';
import { migrateRunHistory } from '../scrapers/index.ts';
import { migrateTransformer } from '../transformer/index.ts';
import { expectedAsOf, type Monitor, MonitorConfig, startMonitor, startOfDaySeconds } from './index.ts';

type Nats = Awaited<ReturnType<typeof startTestNats>>;
type Db = Awaited<ReturnType<typeof freshDatabase>>;

/** Samples of one metric from the registry's text exposition, keyed by their label set. */
async function samples(deps: ServiceDeps, name: string): Promise<Map<string, number>> {
  const text = await deps.registry.metrics();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

const HK = 'Asia/Hong_Kong';

describe('expected business dates from the schedule', () => {
  const opts = { jobs: DEFAULT_JOBS, timezone: HK, calendar: createCalendar(), graceMs: 3600_000 };

  it('is the date of the latest trading-day tick older than the grace period', () => {
    // Friday 2026-10-02 19:45 HKT: quotes (18:30) are due, fundamentals (19:00) are still in their grace
    // hour, and Thursday's fundamentals run was a holiday run: Wednesday's is the one expected.
    const e = expectedAsOf(opts, new Date('2026-10-02T11:45:00Z'));
    expect(e.get('quotes')).toBe('2026-10-02');
    expect(e.get('securities')).toBe('2026-10-02');
    expect(e.get('fundamentals')).toBe('2026-09-30');
    // CCASS runs at 09:00 for the previous trading day: the 1st is a holiday, so the 30th.
    expect(e.get('ccass')).toBe('2026-09-30');
  });

  it('skips weekends and holidays (no run is expected on them)', () => {
    // Sunday 2026-10-04: the last runs were Friday's; Friday's CCASS run was for Wednesday (Thursday was a holiday).
    const e = expectedAsOf(opts, new Date('2026-10-04T06:00:00Z'));
    expect(e.get('quotes')).toBe('2026-10-02');
    expect(e.get('fundamentals')).toBe('2026-10-02');
    expect(e.get('ccass')).toBe('2026-09-30');
    // Tuesday 2026-10-06 10:30 HKT: Tuesday's CCASS run (for Monday) is due.
    expect(expectedAsOf(opts, new Date('2026-10-06T02:30:00Z')).get('ccass')).toBe('2026-10-05');
  });

  it('exports a date as 00:00 in the business time zone', () => {
    expect(startOfDaySeconds('2026-10-02', HK)).toBe(Date.parse('2026-10-01T16:00:00Z') / 1000);
    expect(startOfDaySeconds('2026-07-01', 'Europe/London')).toBe(Date.parse('2026-06-30T23:00:00Z') / 1000);
  });
});

describe('monitor', () => {
  let nats: Nats;
  let db: Db;
  let deps: ServiceDeps;
  let monitor: Monitor;

  beforeAll(async () => {
    nats = await startTestNats();
    db = await freshDatabase();
    await ensureTopology(nats.nc, nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
    deps = await serviceDeps({ nc: nats.nc, pool: db.pool });
    const config = Value.Default(MonitorConfig, { refreshEveryMs: 60_000 }) as MonitorConfig;
    monitor = await startMonitor(config, deps, { now: () => new Date('2026-10-05T14:00:00Z') });
  });
  afterAll(async () => {
    await monitor?.close();
    await db?.drop();
    await nats?.stop();
  });

  it('starts before the gold and catalog tables exist, and says so', async () => {
    expect(await samples(deps, 'harbour_monitor_table_present')).toEqual(
      new Map([
        ['{table="gold.dq_freshness"}', 0],
        ['{table="gold.dq_row_counts"}', 0],
        ['{table="lake_files"}', 0],
        ['{table="scrape_runs"}', 0],
        ['{table="lake_runs"}', 0],
      ]),
    );
    const up = await samples(deps, 'harbour_monitor_source_up');
    expect(up.get('{source="jetstream"}')).toBe(1);
    expect(up.get('{source="gold"}')).toBe(1);
    expect(up.get('{source="catalog"}')).toBe(1);
    expect((await samples(deps, 'harbour_dataset_rows')).size).toBe(0);
    expect((await samples(deps, 'harbour_lake_files')).size).toBe(0);
    // The schedule is known without any table: Monday 2026-10-05 22:00 HKT.
    const expected = await samples(deps, 'harbour_dataset_expected_as_of_timestamp_seconds');
    expect(expected.get('{dataset="quotes"}')).toBe(startOfDaySeconds('2026-10-05', HK));
    expect(expected.get('{dataset="ccass"}')).toBe(startOfDaySeconds('2026-10-02', HK));
  });

  it("follows the scheduler's jobs (deps.schedule), not a copy of them", async () => {
    // Quotes at 23:00 HKT only: at Monday 22:00 HKT Monday's run is not due yet, so Friday's is
    // expected (the default 18:30 schedule above expects Monday's), and no other dataset is.
    const own = await serviceDeps({
      nc: nats.nc,
      pool: db.pool,
      schedule: {
        jobs: [{ name: 'late-quotes', cron: '0 23 * * 1-5', dataset: 'quotes', dateRule: 'same_day' }],
        timezone: HK,
      },
    });
    const config = Value.Default(MonitorConfig, { refreshEveryMs: 60_000 }) as MonitorConfig;
    const late = await startMonitor(config, own, { now: () => new Date('2026-10-05T14:00:00Z') });
    try {
      const expected = await samples(own, 'harbour_dataset_expected_as_of_timestamp_seconds');
      expect([...expected]).toEqual([['{dataset="quotes"}', startOfDaySeconds('2026-10-02', HK)]]);
    } finally {
      await late.close();
    }
  });

  it('exports stream and consumer state', async () => {
    for (let i = 0; i < 5; i++) await deps.js.publish(subjects.raw('quotes'), JSON.stringify({ i }));
    await deps.js.publish(subjects.dlq('compactor'), '{}');
    // An ephemeral reader is not exported.
    const ordered = await deps.js.consumers.get(streamNames.raw);
    expect(await ordered.next({ expires: 1000 })).not.toBeNull();
    // One delivered and left unacknowledged.
    const c = await deps.js.consumers.get(streamNames.raw, 'compactor-quotes');
    const got = await c.next();
    expect(got).not.toBeNull();
    await monitor.refresh();

    const messages = await samples(deps, 'harbour_jetstream_stream_messages');
    expect(messages.get('{stream="RAW"}')).toBe(5);
    expect(messages.get('{stream="DLQ"}')).toBe(1);
    expect((await samples(deps, 'harbour_jetstream_stream_bytes')).get('{stream="RAW"}')).toBeGreaterThan(0);
    expect((await samples(deps, 'harbour_jetstream_stream_last_sequence')).get('{stream="RAW"}')).toBe(5);
    // The server counts the ephemeral reader too.
    expect((await samples(deps, 'harbour_jetstream_stream_consumers')).get('{stream="RAW"}')).toBe(5);
    const perSubject = await samples(deps, 'harbour_jetstream_stream_subject_messages');
    expect(perSubject.get('{stream="RAW",subject="harbour.raw.quotes"}')).toBe(5);
    expect(perSubject.get('{stream="DLQ",subject="harbour.dlq.compactor"}')).toBe(1);
    // KV buckets are streams too, but their subjects are not counted.
    expect([...perSubject.keys()].some((k) => k.includes('KV_'))).toBe(false);

    const key = '{stream="RAW",consumer="compactor-quotes"}';
    const pending = await samples(deps, 'harbour_jetstream_consumer_pending_messages');
    expect([...pending.keys()].filter((k) => k.includes('stream="RAW"'))).toHaveLength(4);
    expect(pending.get(key)).toBe(4);
    expect((await samples(deps, 'harbour_jetstream_consumer_ack_pending_messages')).get(key)).toBe(1);
    expect((await samples(deps, 'harbour_jetstream_consumer_delivered_sequence')).get(key)).toBe(1);
    expect((await samples(deps, 'harbour_jetstream_consumer_ack_floor_sequence')).get(key)).toBe(0);
    expect(
      (await samples(deps, 'harbour_jetstream_consumer_pending_messages')).get(
        '{stream="RAW",consumer="compactor-ccass"}',
      ),
    ).toBe(0);
    const age = (await samples(deps, 'harbour_jetstream_consumer_last_active_age_seconds')).get(key)!;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(30);

    got!.ack();
    await got!.ackAck();
    await monitor.refresh();
    expect((await samples(deps, 'harbour_jetstream_consumer_ack_floor_sequence')).get(key)).toBe(1);
  });

  it('exports freshness, row counts and lake files once the tables exist', async () => {
    await migrateCatalog(db.pool);
    await migrateTransformer(db.pool);
    await db.pool.query(
      `insert into gold.dq_freshness values
         ('quotes', '2026-10-02', '2026-10-02T10:31:00Z', 9060),
         ('ccass', '2026-09-30', '2026-10-02T01:05:00Z', 119100)`,
    );
    await db.pool.query(
      `insert into gold.dq_row_counts values
         ('quotes', '2026-10-01', 40, 40, 1), ('quotes', '2026-10-02', 38, 40, 0.95),
         ('securities', '2026-10-02', 40, null, null)`,
    );
    await db.pool.query(
      `insert into lake_files (file_key, dataset, partition_date, first_seq, last_seq, rows, bytes, checksum, schema_version, writer, committed_at, status)
       values
         ('a', 'quotes', '2026-10-01', 1, 2, 40, 1000, 'x', 1, 'w', '2026-10-01T11:00:00Z', 'replaced'),
         ('b', 'quotes', '2026-10-01', 3, 4, 40, 1100, 'x', 1, 'w', '2026-10-01T11:00:00Z', 'active'),
         ('c', 'quotes', '2026-10-02', 5, 6, 20, 600, 'x', 1, 'w', '2026-10-02T11:00:00Z', 'active'),
         ('d', 'quotes', '2026-10-02', 7, 8, 18, 500, 'x', 1, 'w', '2026-10-02T11:05:00Z', 'active')`,
    );
    await monitor.refresh();

    expect((await samples(deps, 'harbour_monitor_table_present')).get('{table="lake_files"}')).toBe(1);
    expect(
      (await samples(deps, 'harbour_dataset_latest_as_of_timestamp_seconds')).get('{dataset="quotes"}'),
    ).toBe(startOfDaySeconds('2026-10-02', HK));
    expect((await samples(deps, 'harbour_dataset_loaded_timestamp_seconds')).get('{dataset="ccass"}')).toBe(
      Date.parse('2026-10-02T01:05:00Z') / 1000,
    );
    expect((await samples(deps, 'harbour_dataset_load_lag_seconds')).get('{dataset="quotes"}')).toBe(9060);
    expect((await samples(deps, 'harbour_dataset_rows')).get('{dataset="quotes"}')).toBe(38);
    expect((await samples(deps, 'harbour_dataset_expected_rows')).get('{dataset="quotes"}')).toBe(40);
    expect((await samples(deps, 'harbour_dataset_rows_ratio')).get('{dataset="quotes"}')).toBe(0.95);
    // No expectation for the reference list: the series is absent rather than 0.
    expect((await samples(deps, 'harbour_dataset_expected_rows')).has('{dataset="securities"}')).toBe(false);
    expect((await samples(deps, 'harbour_dataset_rows')).get('{dataset="securities"}')).toBe(40);

    const key = '{dataset="quotes"}';
    expect((await samples(deps, 'harbour_lake_files')).get(key)).toBe(3);
    expect((await samples(deps, 'harbour_lake_size_bytes')).get(key)).toBe(2200);
    expect((await samples(deps, 'harbour_lake_rows')).get(key)).toBe(78);
    expect((await samples(deps, 'harbour_lake_partitions')).get(key)).toBe(2);
    expect((await samples(deps, 'harbour_lake_max_files_per_partition')).get(key)).toBe(2);
    expect((await samples(deps, 'harbour_lake_last_commit_timestamp_seconds')).get(key)).toBe(
      Date.parse('2026-10-02T11:05:00Z') / 1000,
    );
  });

  it('exports the age of the oldest completed run not yet in gold, and the service level', async () => {
    await migrateRunHistory(db.pool);
    // quotes: one run in gold, one completed 40 min ago still missing; ccass: in the lake, not in gold, 5 min;
    // fundamentals: completed without data (nothing to wait for); securities: completed 9 days ago (history).
    await db.pool.query(
      `insert into scrape_runs (run_id, dataset, business_date, trigger, status, completed_at, partitions) values
         ('q1', 'quotes', '2026-10-01', 'test', 'planned', now() - interval '2 hours', '{2026-10-01}'),
         ('q2', 'quotes', '2026-10-02', 'test', 'planned', now() - interval '40 minutes', '{2026-10-02}'),
         ('c1', 'ccass', '2026-10-02', 'test', 'planned', now() - interval '5 minutes', '{2026-10-02}'),
         ('f1', 'fundamentals', '2026-10-02', 'test', 'planned', now() - interval '3 hours', '{}'),
         ('s1', 'securities', '2026-09-20', 'test', 'planned', now() - interval '9 days', '{2026-09-20}')`,
    );
    await db.pool.query(
      `insert into lake_runs (run_id, dataset, partitions, last_raw_seq, completed_at, in_lake_at, in_gold_at) values
         ('q1', 'quotes', '{2026-10-01}', 4, now() - interval '2 hours', now() - interval '2 hours', now() - interval '119 minutes'),
         ('c1', 'ccass', '{2026-10-02}', 9, now() - interval '5 minutes', now() - interval '4 minutes', null)`,
    );
    await monitor.refresh();
    const age = await samples(deps, 'harbour_run_gold_pending_seconds');
    expect(age.get('{dataset="quotes"}')).toBeGreaterThanOrEqual(40 * 60);
    expect(age.get('{dataset="quotes"}')).toBeLessThan(41 * 60);
    expect(age.get('{dataset="ccass"}')).toBeGreaterThanOrEqual(5 * 60);
    expect(age.get('{dataset="ccass"}')).toBeLessThan(6 * 60);
    expect(age.get('{dataset="fundamentals"}')).toBe(0);
    expect(age.get('{dataset="securities"}')).toBe(0);
    const pending = await samples(deps, 'harbour_run_gold_pending_runs');
    expect([...pending.values()]).toEqual([0, 1, 0, 1]); // securities, quotes, fundamentals, ccass
    expect((await samples(deps, 'harbour_run_gold_slo_seconds')).get('{dataset="quotes"}')).toBe(1800);
  });

  it('drops the series of a source it cannot read and reports it down', async () => {
    await nats.server.stop();
    try {
      await monitor.refresh();
      expect((await samples(deps, 'harbour_monitor_source_up')).get('{source="jetstream"}')).toBe(0);
      expect((await samples(deps, 'harbour_monitor_refresh_errors_total')).get('{source="jetstream"}')).toBe(
        1,
      );
      expect((await samples(deps, 'harbour_jetstream_stream_messages')).size).toBe(0);
      // Postgres is still read.
      expect((await samples(deps, 'harbour_lake_files')).get('{dataset="quotes"}')).toBe(3);
    } finally {
      await nats.server.start();
    }
  });
});
