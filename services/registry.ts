import { compactorService } from './compactor/index.ts';
import { exporterService } from './exporter/index.ts';
import { monitorService } from './monitor/index.ts';
import { reporterService } from './reporter/index.ts';
import type { ServiceDefinition } from './runtime/index.ts';
import { schedulerService } from './scheduler/index.ts';
import { scrapersService } from './scrapers/index.ts';
import { transformerService } from './transformer/index.ts';

/** Every stage `npm start` can run, by name (`--service <name>`), in start order. */
export const serviceDefinitions = [
  schedulerService,
  scrapersService,
  compactorService,
  transformerService,
  exporterService,
  reporterService,
  monitorService,
] as unknown as readonly ServiceDefinition[];
