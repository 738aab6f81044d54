/**
 * The scheduler under kill -9, on a real nats-server: two scheduler processes (as deployed, one
 * leader under the KV lease) tick a job every 2 seconds; the leader is killed at random moments and
 * restarted as the standby. Afterwards TICKS holds every slot of the run exactly once: the standby
 * took over when the lease lapsed and caught up the slots missed meanwhile, and no slot was
 * published twice (the last slot is kept in KV, and `Nats-Msg-Id` collapses a repeat).
 * Default (CI) size is small; `npm run test:chaos` (HARBOUR_CHAOS=1) kills more often.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tick } from '../contracts/index.ts';
import { streamNames, subjects } from '../streams/index.ts';
import { testDir } from './support/infra.ts';
import {
  freePort,
  logTail,
  type ServiceProcess,
  startServiceProcess,
  until,
} from './support/service-process.ts';
import { useSuiteInfra } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const KILLS = CHAOS ? 10 : 3;
const EVERY_S = 2;
const LEASE_TTL_MS = 2000;

describe('scheduler crash test: kill -9 of the leader', () => {
  const procs: { port: number; log: string; proc?: ServiceProcess }[] = [];
  const infra = useSuiteInfra({
    beforeStop: async () => {
      for (const p of procs) await p.proc?.stop('SIGKILL');
    },
  });

  it(`publishes every slot once across ${KILLS} kill -9s of the leader`, {
    timeout: CHAOS ? 600_000 : 180_000,
  }, async () => {
    const dir = await testDir('scheduler-log');
    const env = (port: number) =>
      infra.env({
        HARBOUR_OPS_PORT: String(port),
        HARBOUR_LOG_LEVEL: 'warn',
        HARBOUR_SCHEDULER_JOBS: JSON.stringify([
          { name: 'pulse', cron: `*/${EVERY_S} * * * * *`, dateRule: 'same_day' },
        ]),
        HARBOUR_SCHEDULER_EVALUATE_EVERY_MS: '200',
        HARBOUR_SCHEDULER_LEASE_TTL_MS: String(LEASE_TTL_MS),
        HARBOUR_SCHEDULER_CATCH_UP_MAX_TICKS: '10',
      });
    for (const name of ['a', 'b'])
      procs.push({ port: await freePort(), log: join(dir, `scheduler-${name}.log`) });
    const start = async (p: (typeof procs)[number]) => {
      p.proc = await startServiceProcess('scheduler', env(p.port), p.log);
    };
    const leading = async (p: (typeof procs)[number]) => {
      const text = await fetch(`http://127.0.0.1:${p.port}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      return /^harbour_scheduler_leader 1$/m.test(text);
    };
    const ticks = async (): Promise<{ tick: Tick; at: number }[]> => {
      const info = await infra.nats.jsm.streams.info(streamNames.ticks);
      const out: { tick: Tick; at: number }[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await infra.nats.jsm.streams.getMessage(streamNames.ticks, { seq });
        if (m?.subject === subjects.tick('pulse')) out.push({ tick: m.json<Tick>(), at: m.time.getTime() });
      }
      return out;
    };

    for (const p of procs) await start(p);
    const leader = async () => {
      let found: (typeof procs)[number] | undefined;
      await until(
        async () => {
          for (const p of procs) if (await leading(p)) found = p;
          return found !== undefined;
        },
        30_000,
        'a leader',
      );
      return found!;
    };
    // First start records "now" and publishes nothing for it; wait for the first real slot.
    await until(async () => (await ticks()).length > 0, 30_000, 'the first tick');
    const kills: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 1500 + Math.random() * 3000));
      const victim = await leader();
      const before = (await ticks()).length;
      await victim.proc!.stop('SIGKILL');
      kills.push(Date.now());
      await start(victim);
      await until(async () => (await ticks()).length > before + 1, 30_000, 'ticks after the kill').catch(
        async (err) => {
          for (const p of procs) console.error(await logTail(p.log));
          throw err;
        },
      );
    }
    await new Promise((r) => setTimeout(r, 3000));
    for (const p of procs) await p.proc!.stop('SIGTERM');
    for (const p of procs) p.proc = undefined;

    const all = await ticks();
    const slots = all.map((t) => Date.parse(t.tick.scheduled_at)).sort((a, b) => a - b);
    const gaps = slots.slice(1).map((s, i) => s - slots[i]!);
    // Publish delay of each slot: how late its tick reached the stream (the takeovers stand out).
    const lateness = all.map((t) => t.at - Date.parse(t.tick.scheduled_at));
    const catchUps = all.filter((t) => t.tick.catch_up).length;
    console.log(
      `scheduler crash test: ${all.length} ticks over ${(slots.at(-1)! - slots[0]!) / 1000} s, ${kills.length} leader kill -9s; ` +
        `distinct slots ${new Set(slots).size}; ${catchUps} published as catch-up; ` +
        `latest publish ${Math.max(...lateness)} ms after its slot (lease TTL ${LEASE_TTL_MS} ms)`,
    );
    expect(kills).toHaveLength(KILLS);
    expect(new Set(slots).size).toBe(all.length); // nothing twice
    expect(gaps.every((g) => g === EVERY_S * 1000)).toBe(true); // nothing missed
    expect(Math.max(...lateness)).toBeLessThan(LEASE_TTL_MS + 5000);
  });
});
