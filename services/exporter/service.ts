import { lazyService } from '../runtime/index.ts';
import { ExporterConfig } from './config.ts';

/** The stage as the host runs it (`--service exporter`); its code is imported when it starts. */
export const exporterService = lazyService(
  'exporter',
  ExporterConfig,
  'HTTP: Excel workbooks on demand (streamed), a web page with charts, JSON for the page',
  async () => (await import('./server.ts')).startExporter,
);
