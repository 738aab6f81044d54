import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { dlqMessageValidator, lakeCommittedValidator } from '../../contracts/index.ts';
import {
  consumerNames,
  ensureTopology,
  kvBuckets,
  streamNames,
  subjects,
  TopologyConfig,
} from '../../streams/index.ts';
import { serviceDeps, testDir } from '../../test/support/infra.ts';
import { ccassEnvelope, queryLake } from '../../test/support/lake.ts';
import { useSuiteInfra } from '../../test/support/suite.ts';
import { listFiles } from '../catalog/index.ts';
import { createObjectStore, type ObjectStore } from '../object-store/index.ts';
import type { Service, ServiceDeps } from '../runtime/index.ts';
import { CompactorConfig, startCompactor } from './index.ts';

let store: ObjectStore;
let deps: ServiceDeps;

const infra = useSuiteInfra({
  prepare: async () => {
    store = createObjectStore({ backend: 'fs', root: await testDir('lake') });
    deps = await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool, store });
  },
});

async function config(over: Partial<CompactorConfig> = {}): Promise<CompactorConfig> {
  return {
    ...(Value.Default(CompactorConfig, {}) as CompactorConfig),
    spoolDir: await testDir('spool'),
    flushAgeMs: 300,
    mergeEveryMs: 0,
    ...over,
  };
}

async function until(cond: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const committedRows = async (dataset = 'ccass') =>
  Number(
    (
      await infra.db.pool.query(
        "select coalesce(sum(rows), 0) as n from lake_files where dataset = $1 and status = 'active'",
        [dataset],
      )
    ).rows[0].n,
  );

describe('compactor on real nats-server, Postgres and object store', () => {
  let svc: Service;
  afterAll(async () => svc?.close());

  it('writes typed, Hive-partitioned Parquet exactly once, emits commit events and dead-letters bad envelopes', async () => {
    svc = await startCompactor(await config({ datasets: ['ccass'] }), deps);
    for (let i = 0; i < 20; i++) {
      await deps.js.publish(
        subjects.raw('ccass'),
        JSON.stringify(ccassEnvelope(`a${i}`, i < 10 ? '2026-10-02' : '2026-10-05', 50)),
      );
    }
    const bad = { ...ccassEnvelope('bad', '2026-10-02', 2), rows: [{ code: '700' }] };
    const badAck = await deps.js.publish(subjects.raw('ccass'), JSON.stringify(bad));
    await until(async () => (await committedRows()) === 1000);

    const files = await listFiles(infra.db.pool, { dataset: 'ccass' });
    expect(new Set(files.map((f) => f.partitionDate))).toEqual(new Set(['2026-10-02', '2026-10-05']));
    for (const f of files)
      expect(f.fileKey).toMatch(/^bronze\/ccass\/date=2026-10-0[25]\/part-\d{12}-\d{12}-[\w.-]+\.parquet$/);

    const [stats] = await queryLake<{ n: number; ids: number; dates: number; seqs: number }>(
      infra.db.pool,
      store,
      'ccass',
      'select count(*) as n, count(distinct participant_id) as ids, count(distinct holding_date) as dates, count(distinct _seq) as seqs from lake',
    );
    expect(stats).toEqual({ n: 1000, ids: 1000, dates: 2, seqs: 20 });
    const typed = await queryLake<{ t: string; d: string }>(
      infra.db.pool,
      store,
      'ccass',
      'select typeof(shareholding) as t, typeof(holding_date) as d from lake limit 1',
    );
    expect(typed[0]).toEqual({ t: 'DOUBLE', d: 'DATE' });

    // Commit events, one per file, on harbour.lake.committed.ccass.
    await until(
      async () => (await infra.nats.jsm.streams.info(streamNames.events)).state.messages >= files.length,
    );
    const ev = await infra.nats.jsm.streams.getMessage(streamNames.events, {
      last_by_subj: subjects.lakeCommitted('ccass'),
    });
    const event = lakeCommittedValidator.parse(ev!.json());
    expect(files.map((f) => f.fileKey)).toContain(event.file_key);

    // The bad envelope is in the DLQ with its reason and original sequence; nothing of it reached the lake.
    await until(async () => (await infra.nats.jsm.streams.info(streamNames.dlq)).state.messages === 1);
    const dlq = dlqMessageValidator.parse(
      (await infra.nats.jsm.streams.getMessage(streamNames.dlq, { seq: 1 }))!.json(),
    );
    expect(dlq).toMatchObject({
      stage: 'compactor',
      code: 'HARBOUR_ERR_SCHEMA_INVALID',
      original_seq: badAck.seq,
      original_subject: 'harbour.raw.ccass',
    });
    expect(dlq.reason).toContain('/rows/0');
    await svc.close();
  });

  it('skips redelivered envelopes that are already committed, also those below the prune floor', async () => {
    // JetStream can deliver acked messages again: a consumer replica that missed acks takes over in a
    // cluster, or the consumer is recreated. Here it is recreated, so every RAW message comes again.
    const consumer = consumerNames.compactor('ccass');
    const before = await committedRows();
    const { rows } = await infra.db.pool.query(
      'select pruned_through from lake_watermarks where consumer = $1',
      [consumer],
    );
    expect(Number(rows[0].pruned_through)).toBeGreaterThan(0); // the first test's sequences were pruned
    await infra.nats.jsm.consumers.delete(streamNames.raw, consumer);
    await ensureTopology(infra.nats.nc, infra.nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
    svc = await startCompactor(await config({ datasets: ['ccass'] }), deps);
    await deps.js.publish(subjects.raw('ccass'), JSON.stringify(ccassEnvelope('b0', '2026-10-05', 10)));
    await until(async () => {
      const c = await infra.nats.jsm.consumers.info(streamNames.raw, consumer);
      return c.num_pending === 0 && c.num_ack_pending === 0 && (await committedRows()) >= before + 10;
    });
    await svc.close();
    expect(await committedRows()).toBe(before + 10);
    const [stats] = await queryLake<{ n: number; seqs: number; ids: number }>(
      infra.db.pool,
      store,
      'ccass',
      'select count(*) as n, count(distinct _seq) as seqs, count(distinct participant_id) as ids from lake',
    );
    expect(stats).toEqual({ n: before + 10, seqs: 21, ids: before + 10 });
  });

  it('commits a drained backlog at once, lets a trickle wait for flushAgeMs, and commits it on close', async () => {
    const date = '2026-10-07';
    const rowsOn = async () =>
      Number(
        (
          await infra.db.pool.query(
            "select coalesce(sum(rows),0) as n from lake_files where partition_date = $1 and status='active'",
            [date],
          )
        ).rows[0].n,
      );
    for (let i = 0; i < 10; i++)
      await deps.js.publish(subjects.raw('ccass'), JSON.stringify(ccassEnvelope(`d${i}`, date, 100)));
    const started = Date.now();
    svc = await startCompactor(
      await config({ datasets: ['ccass'], flushAgeMs: 600_000, drainFlushMinRows: 1000 }),
      deps,
    );
    await until(async () => (await rowsOn()) === 1000, 15_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    // 10 rows are below drainFlushMinRows: they wait for flushAgeMs (10 min), or for a graceful stop.
    await deps.js.publish(subjects.raw('ccass'), JSON.stringify(ccassEnvelope('late', date, 10)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await rowsOn()).toBe(1000);
    await svc.close();
    expect(await rowsOn()).toBe(1010);
  });

  it('merges a day of trickled small files into files near the target size', async () => {
    const target = 64 * 1024;
    svc = await startCompactor(
      await config({
        datasets: ['ccass'],
        flushAgeMs: 100,
        targetFileBytes: target,
        mergeSmallFileBytes: target / 2,
        mergeMinFiles: 4,
      }),
      deps,
    );
    const date = '2026-10-06';
    for (let i = 0; i < 24; i++) {
      await deps.js.publish(subjects.raw('ccass'), JSON.stringify(ccassEnvelope(`t${i}`, date, 40)));
      const want = (i + 1) * 40;
      await until(
        async () =>
          Number(
            (
              await infra.db.pool.query(
                "select coalesce(sum(rows),0) as n from lake_files where partition_date = $1 and status='active'",
                [date],
              )
            ).rows[0].n,
          ) === want,
      );
    }
    await svc.close();
    const small = await listFiles(infra.db.pool, { dataset: 'ccass', partitionDate: date });
    expect(small.length).toBeGreaterThanOrEqual(12);

    const { mergePartitions } = await import('./merge.ts');
    const cfg = await config({ targetFileBytes: target, mergeSmallFileBytes: target / 2, mergeMinFiles: 4 });
    await mergePartitions(deps, cfg, 'ccass', 'test', new AbortController().signal);
    const after = await listFiles(infra.db.pool, { dataset: 'ccass', partitionDate: date });
    const bytes = after.reduce((a, f) => a + f.bytes, 0);
    const ratio = after.length / Math.ceil(bytes / target);
    console.log(
      `merge: ${small.length} files → ${after.length} files, ${bytes} bytes, files ÷ ceil(bytes/target) = ${ratio.toFixed(2)}`,
    );
    expect(ratio).toBeLessThanOrEqual(1.1);
    const [stats] = await queryLake<{ n: number; ids: number }>(
      infra.db.pool,
      store,
      'ccass',
      `select count(*) as n, count(distinct participant_id) as ids from lake where holding_date = DATE '${date}'`,
    );
    expect(stats).toEqual({ n: 960, ids: 960 });
  });

  it('one writer per dataset: a standby waits for the lease to lapse, and takes over when the owner stops', async () => {
    const kv = await new Kvm(deps.js).open(kvBuckets.leases);
    // A previous owner that died without releasing: its lease runs 2 s more.
    const ghostUntil = Date.now() + 2000;
    await kv.put('compactor.ccass', JSON.stringify({ owner: 'ghost', until: ghostUntil }));
    const cfg = async (writerId: string) =>
      config({ datasets: ['ccass'], writerId, leaseTtlMs: 1500, flushAgeMs: 200 });
    const a = await startCompactor(await cfg('wa'), deps);
    const b = await startCompactor(
      await cfg('wb'),
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool, store }),
    );
    const writersOn = async (date: string) =>
      (
        await infra.db.pool.query<{ writer: string; rows: string; first: Date }>(
          `select writer, sum(rows) as rows, min(committed_at) as first from lake_files
           where partition_date = $1 and status = 'active' group by writer`,
          [date],
        )
      ).rows;
    const publish = async (date: string) => {
      for (let i = 0; i < 5; i++)
        await deps.js.publish(subjects.raw('ccass'), JSON.stringify(ccassEnvelope(`l${i}`, date, 10)));
    };
    try {
      await publish('2026-10-12');
      await until(async () => (await writersOn('2026-10-12')).reduce((n, w) => n + Number(w.rows), 0) === 50);
      const first = await writersOn('2026-10-12');
      expect(first).toHaveLength(1); // one writer made the day's file(s)
      expect(first[0]!.first.getTime()).toBeGreaterThanOrEqual(ghostUntil - 50); // not before the dead owner's lease lapsed
      const [owner, standby] = first[0]!.writer === 'wa' ? [a, 'wb'] : [b, 'wa'];
      await owner.close(); // releases the lease: the standby need not wait out the TTL
      await publish('2026-10-13');
      await until(async () => (await writersOn('2026-10-13')).reduce((n, w) => n + Number(w.rows), 0) === 50);
      expect((await writersOn('2026-10-13')).map((w) => w.writer)).toEqual([standby]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('removes spool files no live writer owns at start and after each commit, and reports the spool size', async () => {
    const cfg = await config({ datasets: ['ccass'], flushAgeMs: 200, leaseTtlMs: 0 });
    // A process that has exited (its pid is free) and one that is alive.
    const dead = spawn(process.execPath, ['-e', '']);
    await once(dead, 'exit');
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const file = (name: string, bytes: number) => writeFile(join(cfg.spoolDir, name), Buffer.alloc(bytes));
    await file(`ccass-2026-10-02-p${dead.pid}-1-a.parquet`, 1000); // left by a kill -9
    await file('ccass-2026-10-02-1700000000000-b.parquet', 1000); // older naming, no owner
    await file(`ccass-2026-10-02-p${process.pid}-1-c.parquet`, 1000); // this pid, not in use
    await file(`ccass-2026-10-02-p${alive.pid}-1-d.parquet`, 777); // a live writer's open batch
    await file('notes.log', 10); // not a spool file
    const own = await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool, store });
    const metric = async (name: string) =>
      Number(/ (\S+)$/.exec((await own.registry.getSingleMetricAsString(name)).trim())?.[1]);
    const left = async () => (await readdir(cfg.spoolDir)).sort();
    const kept = [`ccass-2026-10-02-p${alive.pid}-1-d.parquet`, 'notes.log'];
    const c = await startCompactor(cfg, own);
    try {
      expect(await left()).toEqual(kept);
      expect(await metric('harbour_compactor_spool_removed_files_total')).toBe(3);
      expect(await metric('harbour_compactor_spool_files')).toBe(1);
      expect(await metric('harbour_compactor_spool_bytes')).toBe(777);

      const rowsOn = async () =>
        Number(
          (
            await infra.db.pool.query(
              "select coalesce(sum(rows),0) as n from lake_files where partition_date = '2026-10-20' and status = 'active'",
            )
          ).rows[0].n,
        );
      for (let i = 0; i < 5; i++)
        await own.js.publish(subjects.raw('ccass'), JSON.stringify(ccassEnvelope(`s${i}`, '2026-10-20', 20)));
      // While the batch is open its spool file is there; once committed only the live writer's is left.
      await until(async () => (await left()).length > kept.length, 10_000);
      await until(async () => (await rowsOn()) === 100);
      await until(async () => (await left()).length === kept.length, 10_000);
      expect(await left()).toEqual(kept);
      expect(await metric('harbour_compactor_spool_files')).toBe(1);
    } finally {
      await c.close();
      alive.kill('SIGKILL');
    }
  });

  it('removes temporary files of uploads a killed process left in an fs lake, after the sweep grace', async () => {
    const root = await testDir('lake-tmp');
    const tmp = join(root, '.tmp');
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, 'killed.part'), Buffer.alloc(100));
    await writeFile(join(tmp, 'in-flight.part'), Buffer.alloc(100));
    const old = new Date(Date.now() - 10_000);
    await utimes(join(tmp, 'killed.part'), old, old);
    const lake = createObjectStore({ backend: 'fs', root });
    const c = await startCompactor(
      await config({ datasets: ['quotes'], sweepGraceMs: 5000, outboxEveryMs: 100, leaseTtlMs: 0 }),
      await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool, store: lake }),
    );
    try {
      await until(async () => !(await readdir(tmp)).includes('killed.part'), 10_000);
      expect(await readdir(tmp)).toEqual(['in-flight.part']);
    } finally {
      await c.close();
    }
  });
});
