import { defineService } from '../runtime/index.ts';
import { MonitorConfig } from './config.ts';

/**
 * The stage as the host runs it (`--service monitor`). Its code is imported when it starts, so a
 * process pays (in memory and start-up) only for the stages it runs.
 */
export const monitorService = defineService({
  name: 'monitor',
  description:
    'exports JetStream stream/consumer state, dataset freshness and row counts (gold dq tables) and lake file counts/bytes as Prometheus metrics',
  config: MonitorConfig,
  start: async (config, deps) => (await import('./monitor.ts')).startMonitor(config, deps),
});
