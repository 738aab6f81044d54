/**
 * `npm run stack` supervision on real processes: the stack's nats-server and Postgres are killed
 * (kill -9), come back on the same ports with their data, the compactor (its own process) finishes
 * the work, and stopping the stack leaves no process behind, restarted ones included. Default: one
 * kill of each; `npm run test:chaos` (HARBOUR_CHAOS=1): four.
 */
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../ops/launcher/stack.ts';
import { ensureTopology, streamNames, TopologyConfig } from '../streams/index.ts';
import { testDir } from './support/infra.ts';
import { publishCcassEnvelopes } from './support/lake.ts';
import { logTail, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';
import { fsLakeEnv, serviceEnv } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const KILLS = CHAOS ? 4 : 1;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run stack supervises its children', () => {
  let stack: Stack | undefined;
  let compactor: ServiceProcess | undefined;
  afterAll(async () => {
    await compactor?.stop('SIGKILL');
    await stack?.stop();
  });

  it('restarts a killed nats-server and Postgres on the same ports and data; the pipeline finishes; stop leaves nothing', {
    timeout: CHAOS ? 600_000 : 180_000,
  }, async () => {
    const dir = await testDir('stack');
    const lines: string[] = [];
    stack = await startStack({
      dataDir: dir,
      log: (l) => lines.push(l),
      supervise: { checkEveryMs: 200, baseBackoffMs: 200 },
    });
    const { nats, postgres } = stack;
    const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
    await ensureTopology(nc, jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
    const js = jetstream(nc);
    const pool = new pg.Pool({ connectionString: postgres.url, max: 2, connectionTimeoutMillis: 2000 });
    pool.on('error', () => {});
    const logPath = join(dir, 'compactor.log');
    compactor = await startServiceProcess(
      'compactor',
      {
        ...serviceEnv({ natsUrl: nats.url, postgresUrl: postgres.url }),
        ...fsLakeEnv(join(dir, 'lake')),
        HARBOUR_COMPACTOR_DATASETS: 'ccass',
        HARBOUR_COMPACTOR_FLUSH_AGE_MS: '300',
        HARBOUR_COMPACTOR_SPOOL_DIR: join(dir, 'spool'),
        HARBOUR_COMPACTOR_COMMIT_RETRY_MAX_MS: '1000',
        HARBOUR_OPS_PORT: '0',
        HARBOUR_LOG_LEVEL: 'warn',
      },
      logPath,
    );
    let published = 0;
    const publish = async (tag: string, n: number) => {
      published += await publishCcassEnvelopes(js, n, tag, '2026-10-05', 50);
    };
    const committed = () =>
      pool.query('select coalesce(sum(rows),0) as n from lake_files').then(
        (r) => Number(r.rows[0].n),
        () => -1,
      );
    await publish('before', 10);
    await until(async () => (await committed()) === published, 30_000, 'the first commit');

    const urls = { nats: nats.url, postgres: postgres.url };
    const pids: string[] = [];
    for (let k = 1; k <= KILLS; k++) {
      const killed = { nats: nats.pid!, postgres: postgres.pid! };
      const messages = (await jsm.streams.info(streamNames.raw)).state.messages;
      process.kill(killed.nats, 'SIGKILL');
      process.kill(killed.postgres, 'SIGKILL');
      await until(
        async () =>
          nats.pid !== undefined &&
          nats.pid !== killed.nats &&
          postgres.pid !== undefined &&
          postgres.pid !== killed.postgres,
        60_000,
        `both children restarted (kill ${k})`,
      );
      pids.push(`nats-server ${killed.nats} → ${nats.pid}, postgres ${killed.postgres} → ${postgres.pid}`);
      expect({ nats: nats.url, postgres: postgres.url }).toEqual(urls);
      expect(stack.supervisor?.restarts('nats-server')).toBe(k);
      expect(stack.supervisor?.restarts('postgres')).toBe(k);

      // Same data: the stream kept its messages, the catalog its files; then the work goes on.
      await until(
        async () =>
          (await jsm.streams.info(streamNames.raw).then(
            (s) => s.state.messages,
            () => 0,
          )) === messages,
        30_000,
        'the RAW stream back with its messages',
      );
      await until(async () => (await committed()) === published, 30_000, 'the catalog back with its files');
      await publish(`after${k}-`, 10);
      await until(async () => (await committed()) === published, 90_000, 'the compactor to finish').catch(
        async (err) => {
          console.error(await logTail(logPath));
          throw err;
        },
      );
    }
    expect(lines.some((l) => /nats-server exited unexpectedly/.test(l))).toBe(true);
    expect(lines.some((l) => /postgres restarted/.test(l))).toBe(true);
    console.log(
      `stack supervision, ${KILLS} kill(s) of each: ${pids.join('; ')}; ${published} rows committed; log: ${lines.filter((l) => /restart|exited/.test(l)).join(' | ')}`,
    );

    await compactor.stop('SIGTERM');
    compactor = undefined;
    await pool.end();
    await nc.close();
    const restarted = [nats.pid!, postgres.pid!];
    await stack.stop();
    stack = undefined;
    await new Promise((r) => setTimeout(r, 1000));
    expect(restarted.filter(alive), 'processes left after stop').toEqual([]);
  });
});
