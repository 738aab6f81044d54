import { type TObject, type TSchema, Type } from '@sinclair/typebox';
import { ErrorCodes, HarbourError } from '../contracts/index.ts';
import { ensureTopology, TopologyConfig } from '../streams/index.ts';
import { createCalendar, MarketConfig } from './calendar/index.ts';
import { serviceDefinitions } from './registry.ts';
import {
  connectInfra,
  createHealthRegistry,
  createLifecycle,
  createLogger,
  createRegistry,
  InfraConfig,
  type Logger,
  type Service,
  type ServiceDefinition,
  type ServiceDeps,
  startOpsServer,
} from './runtime/index.ts';
import { type SchedulerConfig, scheduleOf } from './scheduler/config.ts';

/** The whole configuration of a Harbour process: shared infrastructure + one section per service. */
export function harbourConfigSchema(defs: readonly ServiceDefinition[] = serviceDefinitions): TObject {
  const sections: Record<string, TSchema> = {};
  for (const d of defs) sections[d.name] = d.config;
  const properties: Record<string, TSchema> = {
    ...InfraConfig.properties,
    topology: Type.Object(TopologyConfig.properties, { default: {} }),
    market: MarketConfig,
    ops: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'bind address of /metrics and /healthz' }),
        port: Type.Integer({
          minimum: 0,
          maximum: 65535,
          default: 9464,
          description: 'port of /metrics and /healthz (0 = any free port)',
        }),
      },
      { default: {} },
    ),
    log: Type.Object(
      {
        level: Type.String({
          default: 'info',
          description: 'pino log level: fatal, error, warn, info, debug, trace',
        }),
      },
      { default: {} },
    ),
    shutdown: Type.Object(
      {
        drainTimeoutMs: Type.Integer({
          minimum: 0,
          default: 30_000,
          description:
            "every service's drain deadline (stop pulling, finish in-flight work, flush) before it forces its own close",
        }),
        forceGraceMs: Type.Integer({
          minimum: 0,
          default: 5_000,
          description:
            "after the drain deadline, the time services' forced closes get before the host drops the shared connections",
        }),
      },
      { default: {} },
    ),
    ...sections,
  };
  return Type.Object(properties);
}

/** Static view of `harbourConfigSchema()`; service sections are typed by each service's own schema. */
export type HarbourConfig = InfraConfig & {
  topology: TopologyConfig;
  market: MarketConfig;
  ops: { host: string; port: number };
  log: { level: string };
  shutdown: { drainTimeoutMs: number; forceGraceMs: number };
  [service: string]: unknown;
};

export interface Host extends Service {
  /** True once every service drained within `shutdown.drainTimeoutMs`, false when any was forced. */
  readonly drained: Promise<boolean>;
  readonly opsUrl: string;
  readonly deps: ServiceDeps;
  readonly services: string[];
}

/**
 * Runs the chosen services in this process against shared connections: one NATS connection, one
 * pool, one object store, one /metrics + /healthz server. Names not given → every service.
 */
export async function startHost(
  config: HarbourConfig,
  opts: { services?: string[]; logger?: Logger; definitions?: readonly ServiceDefinition[] } = {},
): Promise<Host> {
  const defs = opts.definitions ?? serviceDefinitions;
  const chosen = opts.services?.length ? opts.services : defs.map((d) => d.name);
  const unknown = chosen.filter((n) => !defs.some((d) => d.name === n));
  if (unknown.length || !chosen.length) {
    throw new HarbourError(
      ErrorCodes.Config,
      `unknown service ${unknown.join(', ') || '(none)'}; known: ${defs.map((d) => d.name).join(', ')}`,
    );
  }
  const logger = opts.logger ?? createLogger({ level: config.log.level });
  const registry = createRegistry();
  const health = createHealthRegistry();
  // One trading calendar for every stage of the process, from the `market` setting.
  // One shutdown policy: every service drains under the same deadline, then forces itself.
  const infra = {
    ...(await connectInfra(config, { logger, registry, health })),
    calendar: createCalendar(config.market),
    // One schedule too: the scheduler section's jobs, which the monitor judges freshness by.
    ...(config.scheduler ? { schedule: scheduleOf(config.scheduler as SchedulerConfig) } : {}),
    drainTimeoutMs: config.shutdown.drainTimeoutMs,
  };
  const running: Service[] = [];
  let ops: Awaited<ReturnType<typeof startOpsServer>> | undefined;
  try {
    const report = await ensureTopology(infra.nc, infra.jsm, config.topology);
    if (report.created.length) logger.info({ created: report.created }, 'JetStream topology created');
    ops = await startOpsServer({ host: config.ops.host, port: config.ops.port, registry, health });
    for (const name of chosen) {
      const def = defs.find((d) => d.name === name)!;
      const section = config[name];
      running.push(await def.start(section, { ...infra, logger: logger.child({ service: name }) }));
      logger.info({ service: name }, 'service started');
    }
  } catch (err) {
    await Promise.allSettled(running.map((s) => s.close()));
    await ops?.close();
    await infra.close();
    throw err;
  }
  const opsServer = ops;
  // The host's deadline covers each service's own drain (`drainTimeoutMs`) and its own forced
  // close (`forceGraceMs`): only a service whose force hangs past both meets the host's force.
  const lifecycle = createLifecycle({
    name: 'host',
    logger,
    drainTimeoutMs: config.shutdown.drainTimeoutMs + config.shutdown.forceGraceMs,
    drain: async () => {
      // One line per service as it stops: what a person watching Ctrl-C needs, nothing more.
      await Promise.allSettled(
        running.map((s, i) => s.close().then(() => logger.info({ service: chosen[i] }, 'service stopped'))),
      );
      await opsServer.close();
      await infra.close();
      const drained = await Promise.all(running.map((s) => s.drained ?? true));
      return drained.every(Boolean);
    },
    force: async () => {
      // Not awaited: a service still here is stuck in its own force; the connections go regardless.
      for (const s of running) void s.force?.().catch(() => {});
      await opsServer.close();
      await infra.nc.close();
    },
  });
  for (const s of running) s.closed.catch((err) => lifecycle.fail(err));
  return { ...lifecycle, opsUrl: opsServer.url, deps: infra, services: chosen };
}
