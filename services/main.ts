/**
 * `npm start [-- --service <name> …] [--config harbour.json]`: runs Harbour services in this process.
 * The only place that reads the environment and installs signal handlers for services.
 */
import { parseArgs } from 'node:util';
import { configSources } from './config-sources.ts';
import { type HarbourConfig, harbourConfigSchema, startHost } from './host.ts';
import { createLogger, loadConfig } from './runtime/index.ts';

const { values } = parseArgs({
  options: { service: { type: 'string', multiple: true }, config: { type: 'string' } },
  allowPositionals: false,
});
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
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'shutting down (send again to force)');
    void host.close();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await host.closed;
  logger.info('stopped');
  process.exit(0);
} catch (err) {
  logger.fatal({ err }, 'harbour failed');
  process.exit(1);
}
