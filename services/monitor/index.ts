import { defineService } from '../runtime/index.ts';
import { MonitorConfig } from './config.ts';
import { startMonitor } from './monitor.ts';

export { MonitorConfig } from './config.ts';
export { type MonitorState, monitorMetrics, SOURCES, type Source } from './metrics.ts';
export { type Monitor, type MonitorOptions, startMonitor } from './monitor.ts';
export { expectedAsOf, startOfDaySeconds } from './schedule.ts';
export { MONITORED_TABLES, readGold, readJetStream, readLake, tablesPresent } from './sources.ts';

export const monitorService = defineService({
  name: 'monitor',
  description:
    'exports JetStream stream/consumer state, dataset freshness and row counts (gold dq tables) and lake file counts/bytes as Prometheus metrics',
  config: MonitorConfig,
  start: (config, deps) => startMonitor(config, deps),
});
