import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { counter, histogram, type Registry } from '../runtime/index.ts';

/** Counts every answer by route and status and times it (`harbour_exporter_requests_total`, `…_duration_seconds`). */
export const httpMetrics = fp(
  async (app: FastifyInstance, opts: { registry: Registry }) => {
    const r = opts.registry;
    const requests = counter(r, 'harbour_exporter_requests_total', 'HTTP requests answered by the exporter', [
      'route',
      'status',
    ]);
    const duration = histogram(
      r,
      'harbour_exporter_request_duration_seconds',
      'time to answer (for /export.xlsx: until the last byte was handed to the socket)',
      ['route'],
      [0.005, 0.02, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
    );

    const routeOf = (req: FastifyRequest) => req.routeOptions.url ?? 'unmatched';
    const started = new WeakMap<FastifyRequest, bigint>();
    app.addHook('onRequest', async (req) => {
      started.set(req, process.hrtime.bigint());
    });
    app.addHook('onResponse', async (req, reply) => {
      const route = routeOf(req);
      requests.inc({ route, status: String(reply.statusCode) });
      const t0 = started.get(req);
      if (t0 !== undefined) duration.observe({ route }, Number(process.hrtime.bigint() - t0) / 1e9);
    });
  },
  { name: 'harbour-http-metrics', fastify: '5.x' },
);
