import { randomUUID } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { SCHEMA_VERSION, type Tick } from '../../contracts/index.ts';
import { kvBuckets, msgIds, subjects } from '../../streams/index.ts';
import { createCalendar, localDate } from '../calendar/index.ts';
import {
  counter,
  createLease,
  gauge,
  type Service,
  type ServiceDeps,
  sleep,
  stageLifecycle,
} from '../runtime/index.ts';
import type { ScheduledJob, SchedulerConfig } from './config.ts';
import { dueSlots } from './schedule.ts';

export interface SchedulerOptions {
  /** Clock, for tests; defaults to the system clock. */
  now?: () => Date;
  /** Identity in the lease; defaults to a random id. */
  instanceId?: string;
}

const lastKey = (job: string) => `last.${job}`;

/**
 * Publishes `harbour.tick.<job>` for every due cron slot while holding the leader lease. The last
 * published slot per job is kept in KV, so a restart (or another scheduler taking over) resumes
 * where the last leader stopped, catching up at most `catchUpMaxTicks` missed slots. Ticks carry
 * `Nats-Msg-Id = <job>:<slot>`: if two schedulers ever publish the same slot, JetStream keeps one.
 */
export async function startScheduler(
  config: SchedulerConfig,
  deps: ServiceDeps,
  opts: SchedulerOptions = {},
): Promise<Service> {
  const now = opts.now ?? (() => new Date());
  const owner = opts.instanceId ?? randomUUID();
  const log = deps.logger.child({ component: 'scheduler', owner });
  const kv = await new Kvm(deps.js).open(kvBuckets.scheduler);
  const lease = createLease(kv, 'leader', owner, config.leaseTtlMs);
  const calendar = deps.calendar ?? createCalendar();
  const r = deps.registry;
  const published = counter(r, 'harbour_scheduler_ticks_published_total', 'ticks published', [
    'job',
    'catch_up',
  ]);
  const leaderGauge = gauge(r, 'harbour_scheduler_leader', '1 while this scheduler holds the lease');
  const lastTickGauge = gauge(
    r,
    'harbour_scheduler_last_tick_timestamp_seconds',
    'scheduled time of the last tick published',
    ['job'],
  );

  const businessDate = (job: ScheduledJob, slot: Date) => {
    const day = localDate(slot, config.timezone);
    return job.dateRule === 'previous_trading_day' ? calendar.previousTradingDay(day) : day;
  };

  const evaluate = async () => {
    const at = now();
    const leading = await lease.tryAcquire(at.getTime());
    leaderGauge.set(leading ? 1 : 0);
    if (!leading) return;
    for (const job of config.jobs) {
      const entry = await kv.get(lastKey(job.name));
      if (entry?.operation !== 'PUT') {
        // First sight of this job: start from now, no back-fill (the backfill command does that).
        await kv.put(lastKey(job.name), at.toISOString());
        continue;
      }
      const after = new Date(entry.string());
      const slots = dueSlots(job.cron, config.timezone, after, at, Math.max(1, config.catchUpMaxTicks));
      for (const slot of slots) {
        const scheduledAt = slot.toISOString();
        const catchUp = at.getTime() - slot.getTime() > config.evaluateEveryMs * 2;
        const tick: Tick = {
          schema_version: SCHEMA_VERSION,
          job: job.name,
          scheduled_at: scheduledAt,
          date: businessDate(job, slot),
          ...(job.dataset ? { dataset: job.dataset } : {}),
          catch_up: catchUp,
        };
        const ack = await deps.js.publish(subjects.tick(job.name), JSON.stringify(tick), {
          msgID: msgIds.tick(job.name, scheduledAt),
        });
        await kv.put(lastKey(job.name), scheduledAt);
        published.inc({ job: job.name, catch_up: String(catchUp) });
        lastTickGauge.set({ job: job.name }, slot.getTime() / 1000);
        log.info(
          { job: job.name, scheduledAt, date: tick.date, catchUp, duplicate: ack.duplicate },
          'tick published',
        );
      }
    }
  };

  const lifecycle = stageLifecycle('scheduler', log, deps, {
    drain: async () => {
      await loop;
      await lease.release();
    },
  });
  const loop = (async () => {
    while (!lifecycle.signal.aborted) {
      try {
        await evaluate();
      } catch (err) {
        log.warn({ err }, 'tick evaluation failed; retrying next round');
      }
      await sleep(config.evaluateEveryMs, lifecycle.signal).catch(() => {});
    }
  })();
  deps.health.add('scheduler', () => ({ ok: !lifecycle.signal.aborted }));
  return lifecycle;
}
