export { backoffMs } from './backoff.ts';
export {
  type ConfigLeaf,
  type ConfigOrigin,
  type ConfigSources,
  configLeaves,
  configTable,
  type EffectiveSetting,
  envName,
  loadConfig,
  loadConfigWithOrigins,
} from './config.ts';
export { type ConsumeLoopOptions, consumeLoop, PULL_EXPIRES_MS } from './consume.ts';
export { connectInfra, InfraConfig, type ServiceDeps } from './deps.ts';
export { type Disposition, dispositionFor, settle } from './disposition.ts';
export { createHealthRegistry, type HealthCheck, type HealthRegistry } from './health.ts';
export { createLease, type Lease } from './lease.ts';
export { briefError, createLogger, type Logger, silentLogger } from './logger.ts';
export {
  Counter,
  counter,
  createRegistry,
  Gauge,
  gauge,
  Histogram,
  histogram,
  metric,
  Registry,
} from './metrics.ts';
export { type Migration, migrate } from './migrate.ts';
export { type OpsServer, startOpsServer } from './ops-server.ts';
export { guardPool, isTransientPgError, retryTransient, withTransaction } from './pg.ts';
export {
  createLifecycle,
  defineService,
  type Lifecycle,
  type LifecycleOptions,
  lazyService,
  type Service,
  type ServiceDefinition,
  sleep,
  stageLifecycle,
} from './service.ts';
export {
  readStackSettings,
  removeStackSettings,
  STACK_SETTINGS_FILE,
  type StackSettings,
  stackSettingsPath,
  writeStackSettings,
} from './stack-settings.ts';
