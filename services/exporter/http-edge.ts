import type { TObject } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from '../runtime/index.ts';
import type { ExporterConfig } from './config.ts';
import { describeSchemaError, ParamError } from './params.ts';

/** The name of the query parameter with the longest value (what made the URL too long), or null. */
function longestParameter(rawUrl: string): string | null {
  const q = rawUrl.indexOf('?');
  if (q < 0) return null;
  let best: string | null = null;
  let longest = -1;
  for (const part of rawUrl.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (part.length - name.length > longest) {
      longest = part.length - name.length;
      best = name.slice(0, 40);
    }
  }
  return best;
}

/**
 * The exporter's HTTP edge, for every route: security headers; 414 for an over-long URL naming the
 * parameter; 413 for a body over `bodyLimitBytes`; parameter errors as 400 `bad_parameter`; 405
 * with `Allow` for a known path asked with another method; 404 otherwise; 500 logged, not shown.
 */
export const httpEdge = fp(
  async (app: FastifyInstance, opts: { config: ExporterConfig; log: Logger }) => {
    const { config, log } = opts;
    // Every route's path and methods, for 405 + Allow on a known path with another method.
    const methodsByPath = new Map<string, Set<string>>();
    app.addHook('onRoute', (route) => {
      const methods = methodsByPath.get(route.url) ?? new Set<string>();
      for (const m of [route.method].flat()) methods.add(m);
      methodsByPath.set(route.url, methods);
    });

    app.addHook('onRequest', async (req, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      const rawUrl = req.raw.url ?? '';
      if (Buffer.byteLength(rawUrl) > config.maxUrlBytes) {
        const parameter = longestParameter(rawUrl);
        return reply.code(414).send({
          error: 'uri_too_long',
          parameter,
          message: `request URL is longer than ${config.maxUrlBytes} bytes${parameter ? `: ${parameter} is too long` : ''}${
            parameter === 'codes' ? ` (at most ${config.maxCodes} codes per request)` : ''
          }`,
        });
      }
      const length = Number(req.headers['content-length'] ?? 0);
      if (
        length > config.bodyLimitBytes ||
        (req.headers['transfer-encoding'] && config.bodyLimitBytes === 0)
      ) {
        return reply.code(413).send({
          error: 'body_too_large',
          message: `request bodies are limited to ${config.bodyLimitBytes} bytes`,
        });
      }
    });

    app.setErrorHandler((err: FastifyError, req, reply) => {
      if (err.validation?.length) {
        const schema = (req.routeOptions.schema?.querystring ?? { properties: {} }) as TObject;
        const e = describeSchemaError(schema, err.validation[0] as never, req.query);
        return reply.code(400).send({ error: 'bad_parameter', parameter: e.parameter, message: e.message });
      }
      if (err instanceof ParamError) {
        return reply
          .code(400)
          .send({ error: 'bad_parameter', parameter: err.parameter, message: err.message });
      }
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
        return reply.code(err.statusCode).send({ error: err.code ?? 'bad_request', message: err.message });
      }
      log.error({ err, url: req.url }, 'exporter request failed');
      return reply
        .code(500)
        .send({ error: 'internal', message: 'internal error; the exporter log has the details' });
    });

    // A known path asked with a method it does not answer: 405 with the methods it does.
    app.setNotFoundHandler((req, reply) => {
      const path = (req.raw.url ?? '/').split('?')[0] as string;
      const methods = methodsByPath.get(path);
      if (methods && !methods.has(req.method)) {
        const allow = [...methods].sort().join(', ');
        return reply
          .code(405)
          .header('allow', allow)
          .send({
            error: 'method_not_allowed',
            message: `${req.method} is not allowed on ${path}; allowed: ${allow}`,
          });
      }
      return reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${path}` });
    });
  },
  { name: 'harbour-http-edge', fastify: '5.x' },
);
