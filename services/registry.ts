import { compactorService } from './compactor/service.ts';
import { exporterService } from './exporter/service.ts';
import { monitorService } from './monitor/service.ts';
import { reporterService } from './reporter/service.ts';
import type { ServiceDefinition } from './runtime/index.ts';
import { schedulerService } from './scheduler/service.ts';
import { scrapersService } from './scrapers/service.ts';
import { transformerService } from './transformer/service.ts';

/** Every stage `npm start` can run, by name (`--service <name>`), in start order. */
export const serviceDefinitions: readonly ServiceDefinition[] = [
  schedulerService,
  scrapersService,
  compactorService,
  transformerService,
  exporterService,
  reporterService,
  monitorService,
];
