import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Open without a token: the page, health and metrics. */
const OPEN_PATHS = new Set(['/', '/healthz', '/metrics', '/favicon.ico']);

/**
 * Bearer-token guard of every data route (none when `token` is empty): 401 with
 * `WWW-Authenticate`; the token is compared by SHA-256 digest in constant time.
 */
export const bearerAuth = fp(
  async (app: FastifyInstance, opts: { token: string }) => {
    const tokenDigest = opts.token ? createHash('sha256').update(opts.token).digest() : null;
    const authorised = (header: string | undefined): boolean => {
      if (!tokenDigest) return true;
      const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
      if (!m) return false;
      return timingSafeEqual(
        createHash('sha256')
          .update(m[1] as string)
          .digest(),
        tokenDigest,
      );
    };

    app.addHook('onRequest', async (req, reply) => {
      const path = (req.raw.url ?? '/').split('?')[0] as string;
      if (!OPEN_PATHS.has(path) && !authorised(req.headers.authorization)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="harbour-exporter"')
          .send({ error: 'unauthorized', message: 'this exporter needs `Authorization: Bearer <token>`' });
      }
    });
  },
  { name: 'harbour-bearer-auth', fastify: '5.x' },
);
