import { compactorService } from './compactor/index.ts';
import type { ServiceDefinition } from './runtime/index.ts';
import { schedulerService } from './scheduler/index.ts';
import { scrapersService } from './scrapers/index.ts';

/** Every stage `npm start` can run, by name (`--service <name>`). */
export const serviceDefinitions = [
  schedulerService,
  scrapersService,
  compactorService,
] as unknown as readonly ServiceDefinition[];
