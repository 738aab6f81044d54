import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HealthRegistry } from './health.ts';

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text) and `GET /healthz` (200 when every check passes, else 503,
 * JSON body with each check). Every Harbour process runs exactly one, whatever services it hosts.
 */
export async function startOpsServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  health: HealthRegistry;
}): Promise<OpsServer> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/metrics') {
        const body = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(body);
      } else if (req.method === 'GET' && path === '/healthz') {
        const result = await opts.health.run();
        res.writeHead(result.ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'not found', paths: ['/metrics', '/healthz'] }));
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
