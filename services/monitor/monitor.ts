import { createCalendar } from '../calendar/index.ts';
import { createLifecycle, type Service, type ServiceDeps, sleep } from '../runtime/index.ts';
import { defaultSchedule } from '../scheduler/config.ts';
import type { MonitorConfig } from './config.ts';
import { emptyState, type MonitorState, monitorMetrics, type Source } from './metrics.ts';
import { expectedAsOf, startOfDaySeconds } from './schedule.ts';
import {
  type MonitoredTable,
  readGold,
  readJetStream,
  readLake,
  readRunsPending,
  tablesPresent,
} from './sources.ts';

export interface MonitorOptions {
  /** Clock for the schedule (tests). */
  now?: () => Date;
}

export interface Monitor extends Service {
  /** Reads every source once more now (tests, or a caller that wants fresh numbers before a scrape). */
  refresh(): Promise<void>;
}

/**
 * The monitor: every `refreshEveryMs` it reads JetStream state (streams, consumers), the gold
 * data-quality tables and the lake catalog, and exports them as `harbour_*` gauges on the process's
 * /metrics. It writes nothing. A source that cannot be read (NATS down, a table not created yet)
 * is reported through `harbour_monitor_source_up` / `harbour_monitor_table_present`, never by failing.
 */
export async function startMonitor(
  config: MonitorConfig,
  deps: ServiceDeps,
  opts: MonitorOptions = {},
): Promise<Monitor> {
  const log = deps.logger.child({ component: 'monitor' });
  const now = opts.now ?? (() => new Date());
  const calendar = deps.calendar ?? createCalendar();
  // The scheduler's jobs and time zone (configured once, in the scheduler section).
  const schedule = deps.schedule ?? defaultSchedule();
  const { state, refreshErrors } = monitorMetrics(deps.registry);
  const current: MonitorState = emptyState();
  current.runSloSeconds = config.runInGoldWithinMs / 1000;
  state.current = current;

  const failedBefore = new Set<Source>();
  const run = async (source: Source, read: () => Promise<void>, drop: () => void) => {
    const t0 = performance.now();
    try {
      await read();
      current.up[source] = true;
      current.refreshedAt[source] = Date.now() / 1000;
      if (failedBefore.delete(source)) log.info({ source }, 'monitor source readable again');
    } catch (err) {
      drop();
      current.up[source] = false;
      refreshErrors.inc({ source });
      // One warning per outage, not one per refresh.
      if (!failedBefore.has(source))
        log.warn({ err, source }, 'monitor source unreadable; its metrics are dropped until it recovers');
      failedBefore.add(source);
    } finally {
      current.refreshSeconds[source] = (performance.now() - t0) / 1000;
    }
  };

  let refreshing: Promise<void> | null = null;
  const refreshOnce = async () => {
    const at = now();
    const expected = new Map<string, number>();
    for (const [dataset, date] of expectedAsOf(
      {
        jobs: schedule.jobs,
        timezone: schedule.timezone,
        calendar,
        graceMs: config.freshnessGraceMs,
      },
      at,
    )) {
      expected.set(dataset, startOfDaySeconds(date, schedule.timezone));
    }
    current.expected = expected;
    let tables: Promise<Record<MonitoredTable, boolean>> | undefined;
    const present = () => {
      tables ??= tablesPresent(deps.pool).then((t) => {
        current.tables = t;
        return t;
      });
      return tables;
    };
    await Promise.all([
      run(
        'jetstream',
        async () => {
          current.jetstream = await readJetStream(deps.jsm, {
            streams: config.streams,
            subjectStreams: config.subjectStreams,
          });
        },
        () => {
          current.jetstream = undefined;
        },
      ),
      run(
        'gold',
        async () => {
          current.gold = await readGold(deps.pool, await present(), schedule.timezone);
        },
        () => {
          current.gold = undefined;
        },
      ),
      run(
        'catalog',
        async () => {
          current.lake = await readLake(deps.pool, await present());
          current.runs = await readRunsPending(deps.pool, await present());
        },
        () => {
          current.lake = undefined;
          current.runs = undefined;
        },
      ),
    ]);
  };
  const refresh = () => {
    refreshing ??= refreshOnce().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  const lifecycle = createLifecycle({
    name: 'monitor',
    logger: log,
    drainTimeoutMs: deps.drainTimeoutMs,
    drain: async () => {
      await loop;
      if (state.current === current) state.current = emptyState();
    },
  });
  const { signal } = lifecycle;
  await refresh();
  const loop = (async () => {
    while (!signal.aborted) {
      await sleep(config.refreshEveryMs, signal).catch(() => {});
      if (signal.aborted) break;
      await refresh();
    }
    await refreshing;
  })();
  deps.health.add('monitor', () => ({
    ok: !signal.aborted,
    detail: Object.entries(current.up)
      .map(([source, up]) => `${source} ${up ? 'up' : 'down'}`)
      .join(', '),
  }));
  log.info({ refreshEveryMs: config.refreshEveryMs }, 'monitor started');
  return { ...lifecycle, refresh };
}
