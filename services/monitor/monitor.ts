import { createCalendar } from '../calendar/index.ts';
import { type Service, type ServiceDeps, sleep, stageLifecycle } from '../runtime/index.ts';
import { defaultSchedule } from '../scheduler/config.ts';
import type { MonitorConfig } from './config.ts';
import { emptyState, type MonitorState, monitorMetrics, SOURCES, type Source } from './metrics.ts';
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
  const { state, refreshErrors } = monitorMetrics(deps.registry);
  const current: MonitorState = emptyState();
  current.runSloSeconds = config.runInGoldWithinMs / 1000;
  state.current = current;
  const refreshOnce = sourcesRefresh(config, deps, current, {
    run: sourceRunner(current, refreshErrors, log),
    now: opts.now ?? (() => new Date()),
  });
  let refreshing: Promise<void> | null = null;
  const refresh = () => {
    refreshing ??= refreshOnce().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  const lifecycle = stageLifecycle('monitor', log, deps, {
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

/** Runs one source's `read`; on failure `drop`s its readings (their series vanish) and counts the error. */
type RunSource = (source: Source, read: () => Promise<void>, drop: () => void) => Promise<void>;

/**
 * Reads a source into `current` and records how it went (`up`, `refreshedAt`, `refreshSeconds`,
 * `refreshErrors`). A failure is logged once per outage, and again when the source is readable.
 */
function sourceRunner(
  current: MonitorState,
  refreshErrors: ReturnType<typeof monitorMetrics>['refreshErrors'],
  log: ServiceDeps['logger'],
): RunSource {
  const failedBefore = new Set<Source>();
  return async (source, read, drop) => {
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
}

/**
 * One refresh of everything the monitor exports: the business dates the schedule expects by now,
 * then every source at once (JetStream; the gold data-quality tables; the lake catalog and the
 * runs pending gold). Which tables exist is read once per refresh, by the first source that needs it.
 */
function sourcesRefresh(
  config: MonitorConfig,
  deps: ServiceDeps,
  current: MonitorState,
  { run, now }: { run: RunSource; now: () => Date },
): () => Promise<void> {
  const calendar = deps.calendar ?? createCalendar();
  // The scheduler's jobs and time zone (configured once, in the scheduler section).
  const schedule = deps.schedule ?? defaultSchedule();
  return async () => {
    const expected = new Map<string, number>();
    const due = expectedAsOf(
      { jobs: schedule.jobs, timezone: schedule.timezone, calendar, graceMs: config.freshnessGraceMs },
      now(),
    );
    for (const [dataset, date] of due) expected.set(dataset, startOfDaySeconds(date, schedule.timezone));
    current.expected = expected;
    let tables: Promise<Record<MonitoredTable, boolean>> | undefined;
    const present = () => {
      tables ??= tablesPresent(deps.pool).then((t) => {
        current.tables = t;
        return t;
      });
      return tables;
    };
    const readers: Record<Source, [read: () => Promise<void>, drop: () => void]> = {
      jetstream: [
        async () => {
          const { streams, subjectStreams } = config;
          current.jetstream = await readJetStream(deps.jsm, { streams, subjectStreams });
        },
        () => {
          current.jetstream = undefined;
        },
      ],
      gold: [
        async () => {
          current.gold = await readGold(deps.pool, await present(), schedule.timezone);
        },
        () => {
          current.gold = undefined;
        },
      ],
      catalog: [
        async () => {
          current.lake = await readLake(deps.pool, await present());
          current.runs = await readRunsPending(deps.pool, await present());
        },
        () => {
          current.lake = undefined;
          current.runs = undefined;
        },
      ],
    };
    await Promise.all(SOURCES.map((source) => run(source, ...readers[source])));
  };
}
