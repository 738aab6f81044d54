import { lazyService } from '../runtime/index.ts';
import { MonitorConfig } from './config.ts';

/** The stage as the host runs it (`--service monitor`); its code is imported when it starts. */
export const monitorService = lazyService(
  'monitor',
  MonitorConfig,
  'exports JetStream stream/consumer state, dataset freshness and row counts (gold dq tables) and lake file counts/bytes as Prometheus metrics',
  async () => (await import('./monitor.ts')).startMonitor,
);
