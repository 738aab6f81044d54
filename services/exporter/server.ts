import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { type Logger, type Service, type ServiceDeps, stageLifecycle } from '../runtime/index.ts';
import { bearerAuth } from './auth.ts';
import type { ExporterConfig } from './config.ts';
import { addErrorCodes } from './error-codes.ts';
import { httpEdge } from './http-edge.ts';
import { httpMetrics } from './http-metrics.ts';
import { exporterRoutes } from './routes.ts';

export interface ExporterService extends Service {
  /** Base URL the server listens on, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
}

/** What the exporter uses from the shared deps (it needs no NATS; the object store only for /lineage). */
export type ExporterDeps = Pick<
  ServiceDeps,
  'pool' | 'logger' | 'registry' | 'health' | 'calendar' | 'drainTimeoutMs'
> &
  Partial<Pick<ServiceDeps, 'store'>>;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The exporter as a fastify app, not listening (tests use `inject`): plugins in hook order —
 * request metrics, the HTTP edge (headers, 414/413, errors, 405/404), bearer auth, then the routes.
 */
export async function buildExporterApp(
  config: ExporterConfig,
  deps: ExporterDeps,
  opts: { log: Logger; shutdown: AbortSignal },
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: Math.max(1, config.bodyLimitBytes),
    routerOptions: { maxParamLength: 64 },
    requestTimeout: config.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Node's parser refuses a longer request head with a bare 431; up to this size the onRequest
    // hook answers an over-long URL with 414 naming the parameter.
    http: { maxHeaderSize: config.maxRequestHeadBytes },
  });
  // On the root app, not in a plugin: it must see every JSON error, the edge's and auth's included.
  addErrorCodes(app);
  await app.register(httpMetrics, { registry: deps.registry });
  await app.register(httpEdge, { config, log: opts.log });
  await app.register(bearerAuth, { token: config.token });
  await app.register(exporterRoutes, { config, deps, log: opts.log, shutdown: opts.shutdown });
  await app.ready();
  return app;
}

/**
 * The exporter HTTP service (fastify): `GET /export.xlsx` streams a workbook, `GET /api/stocks`,
 * `/api/prices`, `/api/ccass` answer the page, `GET /` is the page, `/healthz` and `/metrics` for
 * operations. Binds 127.0.0.1 unless configured; a bearer token guards data routes when set and
 * must be set when the bind address is not loopback.
 */
export async function startExporter(config: ExporterConfig, deps: ExporterDeps): Promise<ExporterService> {
  if (!isLoopback(config.host) && !config.token) {
    throw new HarbourError(
      ErrorCodes.Config,
      `exporter.token (HARBOUR_EXPORTER_TOKEN) is required when exporter.host (${config.host}) is not a loopback address`,
    );
  }
  if (config.token && config.token.length < 16) {
    throw new HarbourError(ErrorCodes.Config, 'exporter.token must be at least 16 characters long');
  }
  const log = deps.logger.child({ component: 'exporter' });
  const shutdown = new AbortController();
  const app = await buildExporterApp(config, deps, { log, shutdown: shutdown.signal });

  await app.listen({ host: config.host, port: config.port });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, tokenRequired: Boolean(config.token) }, 'exporter listening');

  const lifecycle = stageLifecycle('exporter', log, deps, {
    drain: async () => {
      await app.close();
    },
    force: async () => {
      shutdown.abort(new HarbourError(ErrorCodes.ShutdownForced, 'exporter closed by force'));
      app.server.closeAllConnections();
      await app.close().catch(() => {});
    },
  });
  return {
    url,
    close: lifecycle.close,
    closed: lifecycle.closed,
    force: lifecycle.force,
    drained: lifecycle.drained,
  };
}
