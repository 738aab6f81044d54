import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tick, tickValidator } from '../../contracts/index.ts';
import { ensureTopology, kvBuckets, streamNames, subjects, TopologyConfig } from '../../streams/index.ts';
import { serviceDeps, startTestNats } from '../../test/support/infra.ts';
import { createCalendar, dueSlots, SchedulerConfig, startScheduler } from './index.ts';

let nats: Awaited<ReturnType<typeof startTestNats>>;
beforeAll(async () => {
  nats = await startTestNats();
  await ensureTopology(nats.nc, nats.jsm, Value.Default(TopologyConfig, {}) as TopologyConfig);
});
afterAll(async () => nats?.stop());

const config = (over: Partial<SchedulerConfig> = {}): SchedulerConfig =>
  ({
    ...(Value.Default(SchedulerConfig, {}) as SchedulerConfig),
    jobs: [
      { name: 'quotes-daily', cron: '30 18 * * 1-5', dataset: 'quotes', dateRule: 'same_day' },
      { name: 'ccass-daily', cron: '0 9 * * 1-5', dataset: 'ccass', dateRule: 'previous_trading_day' },
    ],
    evaluateEveryMs: 50,
    leaseTtlMs: 1000,
    ...over,
  }) as SchedulerConfig;

async function ticks(): Promise<Tick[]> {
  const info = await nats.jsm.streams.info(streamNames.ticks);
  const out: Tick[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await nats.jsm.streams.getMessage(streamNames.ticks, { seq }).catch(() => null);
    if (m) out.push(tickValidator.parse(m.json()));
  }
  return out;
}

async function until(cond: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('calendar and cron', () => {
  it('skips weekends and Hong Kong holidays', () => {
    const cal = createCalendar();
    expect(cal.previousTradingDay('2026-10-05')).toBe('2026-10-02'); // Monday → Friday
    expect(cal.previousTradingDay('2026-10-02')).toBe('2026-09-30'); // holiday skipped
    expect(cal.tradingDays('2026-09-28', '2026-10-04')).toEqual([
      '2026-09-28',
      '2026-09-29',
      '2026-09-30',
      '2026-10-02',
    ]);
  });

  it('finds due slots in Hong Kong time, bounded for long outages', () => {
    const now = new Date('2026-10-05T10:31:00Z'); // Monday 18:31 HKT
    expect(
      dueSlots('30 18 * * 1-5', 'Asia/Hong_Kong', new Date('2026-10-02T10:30:00Z'), now, 10).map((d) =>
        d.toISOString(),
      ),
    ).toEqual(['2026-10-05T10:30:00.000Z']);
    expect(
      dueSlots('30 18 * * 1-5', 'Asia/Hong_Kong', new Date('2020-01-01T00:00:00Z'), now, 3),
    ).toHaveLength(3);
  });
});

describe('scheduler on a real nats-server', () => {
  it('publishes due ticks once, catches up after downtime, and hands over the lease', async () => {
    let clock = new Date('2026-10-02T10:00:00Z'); // Friday 18:00 HKT
    const now = () => clock;
    const deps = await serviceDeps({ nc: nats.nc });
    const a = await startScheduler(config(), deps, { now, instanceId: 'a' });
    const kv = await new Kvm(jetstream(nats.nc)).open(kvBuckets.scheduler);
    await until(async () => (await kv.get('last.quotes-daily'))?.operation === 'PUT');
    expect(await ticks()).toHaveLength(0); // first start: no back-fill

    clock = new Date('2026-10-02T10:30:05Z'); // the 18:30 slot passes
    await until(async () => (await ticks()).length === 1);
    const [first] = await ticks();
    expect(first).toMatchObject({
      job: 'quotes-daily',
      date: '2026-10-02',
      dataset: 'quotes',
      scheduled_at: '2026-10-02T10:30:00.000Z',
    });

    // A second scheduler while `a` holds the lease publishes nothing.
    const b = await startScheduler(config(), await serviceDeps({ nc: nats.nc }), { now, instanceId: 'b' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await ticks()).toHaveLength(1);

    // `a` goes away; a week passes; `b` takes over once the lease lapses and catches up at most 5 slots per job.
    await a.close();
    clock = new Date('2026-10-13T02:00:00Z'); // Tuesday 10:00 HKT
    await until(async () => (await ticks()).length >= 1 + 5 + 5);
    await new Promise((r) => setTimeout(r, 300));
    const all = await ticks();
    expect(all).toHaveLength(11);
    const ccass = all.filter((t) => t.job === 'ccass-daily');
    expect(ccass.every((t) => t.catch_up)).toBe(true);
    // CCASS ticks are for the previous trading day: Tuesday 13 Oct 09:00 → Monday 12 Oct.
    expect(ccass.at(-1)).toMatchObject({ scheduled_at: '2026-10-13T01:00:00.000Z', date: '2026-10-12' });
    expect(new Set(all.map((t) => `${t.job}:${t.scheduled_at}`)).size).toBe(all.length);
    await b.close();
  });

  it('collapses a duplicate tick publish in the dedup window', async () => {
    const js = jetstream(nats.nc);
    const tick = JSON.stringify({
      schema_version: 1,
      job: 'x',
      scheduled_at: '2026-10-02T10:30:00.000Z',
      date: '2026-10-02',
      catch_up: false,
    });
    const one = await js.publish(subjects.tick('x'), tick, { msgID: 'x:2026-10-02T10:30:00.000Z' });
    const two = await js.publish(subjects.tick('x'), tick, { msgID: 'x:2026-10-02T10:30:00.000Z' });
    expect(one.duplicate).toBe(false);
    expect(two.duplicate).toBe(true);
    expect(two.seq).toBe(one.seq);
  });
});
