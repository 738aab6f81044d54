import { defineService } from '../runtime/index.ts';
import { ExporterConfig } from './config.ts';

/**
 * The stage as the host runs it (`--service exporter`). Its code is imported when it starts, so a
 * process pays (in memory and start-up) only for the stages it runs.
 */
export const exporterService = defineService({
  name: 'exporter',
  description: 'HTTP: Excel workbooks on demand (streamed), a web page with charts, JSON for the page',
  config: ExporterConfig,
  start: async (config, deps) => (await import('./server.ts')).startExporter(config, deps),
});
