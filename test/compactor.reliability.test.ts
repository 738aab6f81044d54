/**
 * Exactly-once under crashes and outages, on real nats-server, Postgres and S3 server.
 * Default (CI) sizes are small; `npm run test:chaos` (HARBOUR_CHAOS=1) runs the long variants:
 * 1M records with 20 kill -9s, 30 s outages. The crash test also checks the spool stays bounded.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPostgres } from '../ops/launcher/postgres.ts';
import { startS3Server } from '../ops/launcher/s3-server.ts';
import { CompactorConfig, startCompactor } from '../services/compactor/index.ts';
import { createObjectStore } from '../services/object-store/index.ts';
import { consumerNames, ensureTopology, streamNames, subjects } from '../streams/index.ts';
import { serviceDeps, startTestNats, testDir } from './support/infra.ts';
import { ccassEnvelope, publishCcassEnvelopes, queryLake } from './support/lake.ts';
import { logTail, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';
import { type TestNats, testTopology, useSuiteInfra } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const ACK_WAIT_MS = 3000;

/** The lake on an S3 server (the run's shared one or a test's own), under `prefix` when given. */
function s3Store(
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string },
  prefix?: string,
) {
  const { endpoint, bucket, accessKeyId, secretAccessKey } = s3;
  return createObjectStore({
    backend: 's3',
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    ...(prefix ? { prefix } : {}),
  });
}

async function consumerIdle(jsm: TestNats['jsm']) {
  const info = await jsm.consumers.info(streamNames.raw, consumerNames.compactor('ccass'));
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

describe('compactor crash test: kill -9 at random moments', () => {
  const envelopes = CHAOS ? 4000 : 240;
  const rowsPerEnvelope = 250;
  const kills = CHAOS ? 20 : 10;
  let child: ServiceProcess | undefined;
  const infra = useSuiteInfra({
    topology: { compactorAckWaitMs: ACK_WAIT_MS },
    beforeStop: async () => child?.stop('SIGKILL'),
  });

  it(`holds exactly the ${envelopes * rowsPerEnvelope} published records after ${kills} kill -9s`, {
    timeout: CHAOS ? 3_600_000 : 240_000,
  }, async () => {
    const s3 = inject('s3')!;
    const prefix = `crash-${Date.now()}/`;
    const spool = await testDir('spool');
    const env = infra.env({
      HARBOUR_OBJECT_STORE_BACKEND: 's3',
      HARBOUR_OBJECT_STORE_ENDPOINT: s3.endpoint,
      HARBOUR_OBJECT_STORE_BUCKET: s3.bucket,
      HARBOUR_OBJECT_STORE_ACCESS_KEY_ID: s3.accessKeyId,
      HARBOUR_OBJECT_STORE_SECRET_ACCESS_KEY: s3.secretAccessKey,
      HARBOUR_OBJECT_STORE_PREFIX: prefix,
      HARBOUR_TOPOLOGY_COMPACTOR_ACK_WAIT_MS: String(ACK_WAIT_MS),
      HARBOUR_COMPACTOR_DATASETS: 'ccass',
      HARBOUR_COMPACTOR_FLUSH_AGE_MS: '400',
      HARBOUR_COMPACTOR_MAX_BATCH_MESSAGES: '25',
      HARBOUR_COMPACTOR_SPOOL_DIR: spool,
      HARBOUR_COMPACTOR_MERGE_EVERY_MS: '0',
      // Each restart is a new writer (hostname-pid): it waits for the killed one's lease to lapse.
      HARBOUR_COMPACTOR_LEASE_TTL_MS: '1500',
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'warn',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    const logPath = join(spool, 'compactor.log');
    const startChild = async () => {
      child = await startServiceProcess('compactor', env, logPath);
    };

    // Publish concurrently with the kills.
    const publishing = (async () => {
      for (let i = 0; i < envelopes; i++) {
        await infra.nats.nc.flush();
        await (await import('@nats-io/jetstream'))
          .jetstream(infra.nats.nc)
          .publish(
            subjects.raw('ccass'),
            JSON.stringify(
              ccassEnvelope(`c${i}`, i % 3 === 0 ? '2026-10-02' : '2026-10-05', rowsPerEnvelope),
            ),
          );
        await new Promise((r) => setTimeout(r, CHAOS ? 5 : 40));
      }
    })();

    const committedRows = () =>
      infra.db.pool.query('select coalesce(sum(rows),0) as n from lake_files').then(
        (r) => Number(r.rows[0].n),
        () => 0,
      );
    await startChild();
    const killedAt: number[] = [];
    for (let k = 0; k < kills; k++) {
      // Kill while it works: once this incarnation has committed something, at a random moment after
      // (once everything is committed, an idle incarnation is killed: waiting for progress then only
      // burnt 60 s a kill, 200 of the test's 240 s).
      const before = await committedRows();
      await until(
        async () => {
          const n = await committedRows();
          return n > before || n >= envelopes * rowsPerEnvelope;
        },
        60_000,
        'progress before the next kill',
      ).catch(() => {});
      await new Promise((r) => setTimeout(r, Math.random() * 600));
      await child!.stop('SIGKILL');
      killedAt.push(await committedRows());
      await startChild();
    }
    await publishing;
    await until(
      () => consumerIdle(infra.nats.jsm),
      CHAOS ? 1_800_000 : 120_000,
      'the compactor to commit everything',
    ).catch(async (err) => {
      console.error(await logTail(logPath));
      throw err;
    });
    // Every kill left its open batch in the spool; the running incarnation removed them (at start
    // and after each commit). With everything committed there is no open batch: no spool file at all.
    const spoolFiles = async () => (await readdir(spool)).filter((n) => n.endsWith('.parquet'));
    await until(async () => (await spoolFiles()).length === 0, 10_000, 'an empty spool').catch(async () => {
      throw new Error(`spool files left after ${kills} kills: ${(await spoolFiles()).join(', ')}`);
    });
    await child!.stop('SIGTERM');
    child = undefined;

    const store = s3Store(s3, prefix);
    const [lake] = await queryLake<{ n: number; ids: number; envelopes: number }>(
      infra.db.pool,
      store,
      'ccass',
      'select count(*) as n, count(distinct participant_id) as ids, count(distinct _key) as envelopes from lake',
    );
    const files = Number(
      await infra.db.pool.query('select count(*) as n from lake_files').then((r) => r.rows[0].n),
    );
    console.log(
      `crash test: ${kills} kill -9s (rows committed at each kill: ${killedAt.join(', ')}), ${files} files; lake holds ${lake!.n} rows, ${lake!.ids} distinct, from ${lake!.envelopes} envelopes; published ${envelopes * rowsPerEnvelope}`,
    );
    expect(lake).toEqual({ n: envelopes * rowsPerEnvelope, ids: envelopes * rowsPerEnvelope, envelopes });
    await store.close();
  });
});

describe('compactor outages: object store, Postgres, nats-server', () => {
  const outageMs = CHAOS ? 30_000 : 4_000;
  let nats: TestNats;
  let pgServer: Awaited<ReturnType<typeof startPostgres>>;
  let pool: pg.Pool;
  let s3: Awaited<ReturnType<typeof startS3Server>>;

  beforeAll(async () => {
    nats = await startTestNats();
    await ensureTopology(nats.nc, nats.jsm, testTopology({ compactorAckWaitMs: ACK_WAIT_MS }));
    pgServer = await startPostgres({ dataDir: await testDir('pg-outage') });
    pool = new pg.Pool({ connectionString: pgServer.url, max: 4, connectionTimeoutMillis: 2000 });
    pool.on('error', () => {});
    s3 = await startS3Server({ dataDir: await testDir('s3-outage'), bucket: 'outage' });
  });
  afterAll(async () => {
    await pool?.end().catch(() => {});
    await pgServer?.stop();
    await s3?.stop();
    await nats?.stop();
  });

  it(`never acks before commit and loses nothing across ${outageMs / 1000}s outages`, {
    timeout: CHAOS ? 600_000 : 180_000,
  }, async () => {
    const store = s3Store(s3);
    const deps = await serviceDeps({ nc: nats.nc, pool, store });
    const config = {
      ...(Value.Default(CompactorConfig, {}) as CompactorConfig),
      datasets: ['ccass' as const],
      spoolDir: await testDir('spool'),
      flushAgeMs: 300,
      mergeEveryMs: 0,
      commitRetryMaxMs: 1000,
    };
    const svc = await startCompactor(config, deps);
    const js = deps.js;
    let published = 0;
    const publish = async (n: number, tag: string) => {
      published += await publishCcassEnvelopes(js, n, tag, '2026-10-02', 100);
    };
    const committed = async () => {
      const c = new pg.Client({ connectionString: pgServer.url, connectionTimeoutMillis: 1000 });
      try {
        await c.connect();
        return Number((await c.query('select coalesce(sum(rows),0) as n from lake_files')).rows[0].n);
      } catch {
        return -1;
      } finally {
        await c.end().catch(() => {});
      }
    };
    const ackFloor = async () =>
      (await nats.jsm.consumers.info(streamNames.raw, consumerNames.compactor('ccass'))).ack_floor.stream_seq;

    await publish(10, 'warm');
    await until(async () => (await committed()) === published, 30_000, 'warm-up commit');

    for (const outage of ['object store', 'postgres', 'nats-server'] as const) {
      const floorBefore = await ackFloor();
      const rowsBefore = await committed();
      if (outage === 'object store') await s3.stop();
      if (outage === 'postgres') await pgServer.stop();
      if (outage === 'nats-server') await nats.server.stop();
      if (outage !== 'nats-server') {
        await publish(10, `${outage}-`);
        await new Promise((r) => setTimeout(r, outageMs));
        // Nothing acked, nothing committed while the outage lasts.
        expect(await ackFloor()).toBe(floorBefore);
        if (outage === 'object store') expect(await committed()).toBe(rowsBefore);
      } else {
        await new Promise((r) => setTimeout(r, outageMs));
      }
      if (outage === 'object store') await s3.start();
      if (outage === 'postgres') await pgServer.start();
      if (outage === 'nats-server') {
        await nats.server.start();
        await until(
          async () =>
            !nats.nc.isClosed() &&
            (await nats.jsm.streams.info(streamNames.raw).then(
              () => true,
              () => false,
            )),
          30_000,
          'reconnect',
        );
        await publish(10, 'after-nats-');
      }
      await until(
        async () => (await committed()) === published,
        120_000,
        `catch-up after the ${outage} outage`,
      );
      console.log(
        `outage ${outage} (${outageMs} ms): ack floor held at ${floorBefore} during it; ${published} rows committed after`,
      );
    }
    await svc.close();
    const [lake] = await queryLake<{ n: number; ids: number }>(
      pool,
      store,
      'ccass',
      'select count(*) as n, count(distinct participant_id) as ids from lake',
    );
    expect(lake).toEqual({ n: published, ids: published });
    const retries = await deps.registry.getSingleMetricAsString('harbour_compactor_commit_retries_total');
    expect(retries).toMatch(/step="upload"/);
    expect(retries).toMatch(/step="commit"/);
  });
});
