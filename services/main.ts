/**
 * `npm start [-- --service <name> …] [--config harbour.json]`: runs Harbour services in this process.
 * The only place that reads the environment and installs signal handlers for services.
 *
 * Exit codes: 0 stopped and drained; 1 failed (start or a service); 2 bad usage; 3 stopped but the
 * drain deadline (`shutdown.drainTimeoutMs`) passed and the close was forced; 130 a second signal.
 * `npm start` runs this file with `exec node`, so npm's signal forwarding reaches this process and
 * npm exits with its code; containers run node directly (ops/Dockerfile).
 */
import { parseArgs } from 'node:util';
import { ErrorCodes } from '../contracts/index.ts';
import { configSources } from './config-sources.ts';
import { type HarbourConfig, harbourConfigSchema, startHost } from './host.ts';
import { serviceDefinitions } from './registry.ts';
import { createLogger, loadConfig } from './runtime/index.ts';

const usage = () =>
  [
    'usage: npm start [-- --service <name> …] [--config harbour.json]',
    '       node --import tsx services/main.ts [--service <name> …] [--config harbour.json]',
    '',
    'Runs Harbour services in this process (all of them unless --service is given; repeatable).',
    "Settings: defaults, then a running stack's .harbour/stack.env, then --config (JSON), then HARBOUR_*",
    'environment variables',
    '(`npm run harbour -- config` lists them).',
    '',
    `services: ${serviceDefinitions.map((d) => `${d.name} (${d.description})`).join('\n          ')}`,
    '',
    'SIGTERM/SIGINT drains (stop pulling, finish in-flight work, flush) within',
    'HARBOUR_SHUTDOWN_DRAIN_TIMEOUT_MS; a second signal exits at once.',
    'exit codes: 0 drained, 1 failed, 2 bad usage, 3 drain deadline passed (forced), 130 second signal',
  ].join('\n');

const values = (() => {
  try {
    return parseArgs({
      options: {
        service: { type: 'string', multiple: true },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`${ErrorCodes.Config}: ${(err as Error).message}\n${usage()}\n`);
    process.exit(2);
  }
})();
if (values.help) {
  process.stdout.write(`${usage()}\n`);
  process.exit(0);
}
const sources = configSources(process.env, values.config);
const config = loadConfig(harbourConfigSchema(), sources) as HarbourConfig;
const logger = createLogger({ level: config.log.level });
if (sources.stackFile) logger.info({ file: sources.stackFile.path }, 'using the settings of `npm run stack`');
if (sources.staleStack)
  logger.warn(
    { file: sources.staleStack.path, pid: sources.staleStack.pid },
    'ignoring a stale stack settings file (its `npm run stack` is no longer running)',
  );

try {
  const host = await startHost(config, {
    logger,
    ...(values.service ? { services: values.service } : {}),
  });
  logger.info({ services: host.services, ops: host.opsUrl }, 'harbour running');
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C under `npm start` arrives twice (the terminal signals the process group and npm
    // forwards it): a repeat within a second is the same request, not the "force" one.
    if (firstSignalAt && Date.now() - firstSignalAt < 1000) return;
    if (firstSignalAt) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    firstSignalAt = Date.now();
    logger.info({ signal }, 'shutting down (send again to force)');
    void host.close();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await host.closed;
  const drained = await host.drained;
  logger.info({ drained }, drained ? 'stopped' : 'stopped after the drain deadline (forced)');
  process.exit(drained ? 0 : 3);
} catch (err) {
  logger.fatal({ err }, 'harbour failed');
  process.exit(1);
}
