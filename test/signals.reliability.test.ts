/**
 * Stop signals reach the service process however it is started. `npm start` is run as an operator
 * runs it (the npm CLI, `exec node` in the script), on real nats-server, Postgres and the fixture
 * HKEX site, while `harbour backfill --no-workers` has planned CCASS jobs it works on. SIGTERM goes
 * to the npm process only: node must drain (the compactor commits its pending batch), npm must exit
 * 0 with it, and no process of the tree may be left behind. Default: one stop; `npm run test:chaos`
 * (HARBOUR_CHAOS=1): 120 stocks and four start/stop rounds through the backfill.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../contracts/index.ts';
import { consumerNames, streamNames, subjects } from '../streams/index.ts';
import { spawnBackfill } from './support/cli.ts';
import { readStream, testDir } from './support/infra.ts';
import { freePort, logTail, until } from './support/service-process.ts';
import { fsLakeEnv, serviceEnv, useSuiteInfra } from './support/suite.ts';

const repoRoot = join(import.meta.dirname, '..');
const CHAOS = process.env.HARBOUR_CHAOS === '1';
const ROUNDS = CHAOS ? 4 : 1;

/** Every live descendant of `pid` (from /proc), depth first. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // comm may hold spaces and parentheses: the ppid is the second field after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited while we read
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not reaped) is not running.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('SIGTERM to `npm start` during a backfill', () => {
  const started: ChildProcess[] = [];
  /** npm's process tree as it ran (a node orphaned by npm's exit is no longer its descendant). */
  let tree: number[] = [];
  const infra = useSuiteInfra({
    site: { seed: 5, stocks: CHAOS ? 120 : 40, today: '2026-10-16' },
    beforeStop: async () => {
      // On a failure: the whole tree (killing npm alone would orphan node).
      for (const c of started)
        if (c.exitCode === null && c.signalCode === null)
          for (const pid of [...descendants(c.pid!), c.pid!]) process.kill(pid, 'SIGKILL');
      for (const pid of tree.filter(alive)) process.kill(pid, 'SIGKILL');
    },
  });

  it('`npm start -- --help` prints the usage and exits 0; an unknown option exits 2 with a coded error', async () => {
    const run = async (arg: string) => {
      const child = spawn('npm', ['start', '--', arg], { cwd: repoRoot, env: process.env });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b;
      });
      child.stderr.on('data', (b: Buffer) => {
        err += b;
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      return { code, out, err };
    };
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: npm start \[-- --service <name> …\]/m);
    expect(help.out).toMatch(/compactor \(/);
    expect(help.out).toMatch(/exit codes: 0 drained, 1 failed, 2 bad usage, 3 drain deadline passed/);
    expect(help.err).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
    const bad = await run('--no-such-option');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/HARBOUR_ERR_CONFIG: Unknown option '--no-such-option'/);
    expect(bad.err).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('exits 3 when the drain deadline passes and the close is forced', async () => {
    const dir = await testDir('signals-forced');
    const logPath = join(dir, 'npm-start.log');
    const log = await open(logPath, 'w');
    const npm = spawn('npm', ['start', '--', '--service', 'compactor'], {
      cwd: repoRoot,
      env: serviceEnv(
        { natsUrl: infra.nats.server.url, postgresUrl: infra.db.url },
        {
          HARBOUR_OBJECT_STORE_ROOT: join(dir, 'lake'),
          HARBOUR_COMPACTOR_SPOOL_DIR: join(dir, 'spool'),
          // No time to drain: the deadline passes before the services have closed.
          HARBOUR_SHUTDOWN_DRAIN_TIMEOUT_MS: '0',
          HARBOUR_OPS_PORT: '0',
        },
      ),
      stdio: ['ignore', log.fd, log.fd],
    });
    started.push(npm);
    const exit = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    await until(
      async () => /"msg":"harbour running"/.test(readFileSync(logPath, 'utf8')),
      60_000,
      'npm start up',
    );
    process.kill(npm.pid!, 'SIGTERM');
    const [code, signal] = await exit;
    await log.close();
    const output = readFileSync(logPath, 'utf8');
    expect({ code, signal }, output.split('\n').slice(-10).join('\n')).toEqual({ code: 3, signal: null });
    expect(output).toMatch(/"drained":false,"msg":"stopped after the drain deadline \(forced\)"/);
  });

  it(`drains: the pending batch is committed, npm exits 0, no process is left (${ROUNDS} stops)`, {
    timeout: CHAOS ? 900_000 : 180_000,
  }, async () => {
    const dir = await testDir('signals');
    const opsPort = await freePort();
    const env = infra.env({
      ...fsLakeEnv(join(dir, 'lake')),
      HARBOUR_SCRAPERS_HTTP_REQUESTS_PER_SECOND: '20',
      HARBOUR_SCRAPERS_CONCURRENCY: '2',
      // The batch stays open until the stop: only the drain commits it.
      HARBOUR_COMPACTOR_DATASETS: 'ccass',
      HARBOUR_COMPACTOR_FLUSH_AGE_MS: '600000',
      HARBOUR_COMPACTOR_DRAIN_FLUSH_MIN_ROWS: '100000000',
      HARBOUR_COMPACTOR_SPOOL_DIR: join(dir, 'spool'),
      HARBOUR_COMPACTOR_LEASE_TTL_MS: '0',
      HARBOUR_SHUTDOWN_DRAIN_TIMEOUT_MS: '60000',
      HARBOUR_OPS_PORT: String(opsPort),
      HARBOUR_LOG_LEVEL: 'info',
    });
    const logPath = join(dir, 'npm-start.log');
    const metric = async (name: string) => {
      const text = await fetch(`http://127.0.0.1:${opsPort}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    };
    // Every service started (the ops server answers before the stages have migrated their tables).
    const running = async () => /"msg":"harbour running"/.test(readFileSync(logPath, 'utf8'));
    const committedRows = async () =>
      Number((await infra.db.pool.query('select coalesce(sum(rows),0) as n from lake_files')).rows[0].n);
    let cli: ChildProcess | undefined;
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const log = await open(logPath, 'w');
        const npm = spawn('npm', ['start', '--', '--service', 'scrapers', '--service', 'compactor'], {
          cwd: repoRoot,
          env,
          stdio: ['ignore', log.fd, log.fd],
        });
        started.push(npm);
        const npmExit = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
        await until(running, 60_000, 'npm start up').catch(async (err) => {
          console.error(await logTail(logPath));
          throw err;
        });
        if (!cli) {
          cli = spawnBackfill({ dataset: 'ccass', from: '2026-10-05', to: '2026-10-09' }, ['--no-workers'], {
            env: { ...env, HARBOUR_LOG_LEVEL: 'warn' },
            stdio: 'ignore',
          });
          started.push(cli);
        }
        // Mid-backfill: pages are being scraped and the compactor holds them in an open batch.
        const before = await committedRows();
        await until(
          async () => (await metric('harbour_compactor_buffered_rows')) > 0,
          60_000,
          'a pending batch',
        );

        tree = [npm.pid!, ...descendants(npm.pid!)];
        expect(tree.length, 'npm and node (sh is gone: exec)').toBeGreaterThanOrEqual(2);
        const t0 = Date.now();
        process.kill(npm.pid!, 'SIGTERM');
        const [code, signal] = await npmExit;
        const stopMs = Date.now() - t0;
        await log.close();
        const output = readFileSync(logPath, 'utf8');

        // The pending batch is committed: every envelope up to the ack floor is in the lake, the
        // rest was never acked (messages still in the client's pull buffer at the stop: JetStream
        // delivers them again, nothing is lost) and the lake holds none of it.
        const consumer = await infra.nats.jsm.consumers.info(
          streamNames.raw,
          consumerNames.compactor('ccass'),
        );
        const raw = await readStream<Envelope>(infra.nats.jsm, streamNames.raw, subjects.raw('ccass'));
        const acked = raw.filter((m) => m.seq <= consumer.ack_floor.stream_seq);
        const ackedRows = acked.reduce((n, m) => n + m.data.rows.length, 0);
        const rows = await committedRows();
        await new Promise((r) => setTimeout(r, 500));
        const left = tree.filter(alive);
        console.log(
          `SIGTERM ${round}/${ROUNDS} to npm start: exit ${code}${signal ? ` (${signal})` : ''} after ${stopMs} ms; the drain committed ${rows - before} rows (lake ${rows} rows = ${acked.length} acked envelopes; ${consumer.num_ack_pending} delivered and not acked, ${raw.length} in RAW); process tree ${tree.join(' → ')}; left: [${left.join(', ')}]`,
        );
        expect({ code, signal }, output.split('\n').slice(-15).join('\n')).toEqual({ code: 0, signal: null });
        expect(output).toMatch(/"shutting down \(send again to force\)"/);
        expect(output).toMatch(/"drained":true/);
        expect(rows).toBeGreaterThan(before);
        expect(rows).toBe(ackedRows);
        expect(left, 'processes left behind').toEqual([]);
      }
    } finally {
      cli?.kill('SIGKILL');
    }
  });
});
