export { MonitorConfig } from './config.ts';
export { type MonitorState, monitorMetrics, SOURCES, type Source } from './metrics.ts';
export { type Monitor, type MonitorOptions, startMonitor } from './monitor.ts';
export { expectedAsOf, startOfDaySeconds } from './schedule.ts';
export { monitorService } from './service.ts';
export { MONITORED_TABLES, readGold, readJetStream, readLake, tablesPresent } from './sources.ts';
