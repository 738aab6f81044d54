import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { TObject } from '@sinclair/typebox';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import {
  counter,
  createLifecycle,
  gauge,
  histogram,
  type Service,
  type ServiceDeps,
} from '../runtime/index.ts';
import type { ExporterConfig } from './config.ts';
import { registerLineage } from './lineage.ts';
import { PAGE_CSP, renderPage } from './page.ts';
import {
  CcassQuery,
  describeSchemaError,
  ExportQuery,
  normaliseCode,
  ParamError,
  PricesQuery,
  parseDate,
  parseExportParams,
  parseRange,
  StocksQuery,
} from './params.ts';
import {
  allPriceRows,
  ccassTop,
  knownCodes,
  latestName,
  listStocks,
  type Queryable,
  readOnly,
  type StockName,
} from './queries.ts';
import { ExportSlots, type SlotRefusal } from './slots.ts';
import { prepareWorkbook, workbookFileName } from './workbook.ts';

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

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const OPEN_PATHS = new Set(['/', '/healthz', '/metrics', '/favicon.ico']);

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

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
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
  const r = deps.registry;
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
  const exportRows = counter(r, 'harbour_exporter_rows_written_total', 'price rows written into workbooks');
  const exportsTotal = counter(
    r,
    'harbour_exporter_exports_total',
    'workbook exports by outcome (ok, aborted, failed)',
    ['outcome'],
  );
  const slots = new ExportSlots(config.maxConcurrentExports, config.maxExportsPerClient, config.exportWaitMs);
  let apiInFlight = 0;
  gauge(r, 'harbour_exporter_exports_in_flight', 'workbooks being streamed now', [], function () {
    this.set(slots.running);
  });

  const shutdown = new AbortController();
  const tokenDigest = config.token ? createHash('sha256').update(config.token).digest() : null;
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
  const limits = {
    maxCodes: config.maxCodes,
    maxRangeDays: config.maxRangeDays,
    defaultSheets: config.defaultSheets,
  };
  // Rendered per request: its default dates follow the Hong Kong calendar day.
  const page = () =>
    renderPage({
      tokenRequired: Boolean(config.token),
      ccassTop: config.ccassTopParticipants,
      defaultSheets: config.defaultSheets,
      ...(deps.calendar ? { calendar: deps.calendar } : {}),
    });
  const read = <T>(fn: (db: Queryable) => Promise<T>) => readOnly(deps.pool, config.statementTimeoutMs, fn);
  let stockCache: { at: number; list: StockName[] } | null = null;
  const stocks = async (): Promise<StockName[]> => {
    if (!stockCache || Date.now() - stockCache.at > config.stockListCacheMs) {
      stockCache = { at: Date.now(), list: await read(listStocks) };
    }
    return stockCache.list;
  };

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

  // Every route's path and methods, for 405 + Allow on a known path with another method.
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) methods.add(m);
    methodsByPath.set(route.url, methods);
  });

  const routeOf = (req: FastifyRequest) => req.routeOptions.url ?? 'unmatched';
  const started = new WeakMap<FastifyRequest, bigint>();
  app.addHook('onRequest', async (req, reply) => {
    started.set(req, process.hrtime.bigint());
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
    if (length > config.bodyLimitBytes || (req.headers['transfer-encoding'] && config.bodyLimitBytes === 0)) {
      return reply.code(413).send({
        error: 'body_too_large',
        message: `request bodies are limited to ${config.bodyLimitBytes} bytes`,
      });
    }
    const path = (req.raw.url ?? '/').split('?')[0] as string;
    if (!OPEN_PATHS.has(path) && !authorised(req.headers.authorization)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="harbour-exporter"')
        .send({ error: 'unauthorized', message: 'this exporter needs `Authorization: Bearer <token>`' });
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = routeOf(req);
    requests.inc({ route, status: String(reply.statusCode) });
    const t0 = started.get(req);
    if (t0 !== undefined) duration.observe({ route }, Number(process.hrtime.bigint() - t0) / 1e9);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation?.length) {
      const schema = (req.routeOptions.schema?.querystring ?? { properties: {} }) as TObject;
      const e = describeSchemaError(schema, err.validation[0] as never, req.query);
      return reply.code(400).send({ error: 'bad_parameter', parameter: e.parameter, message: e.message });
    }
    if (err instanceof ParamError) {
      return reply.code(400).send({ error: 'bad_parameter', parameter: err.parameter, message: err.message });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: err.code ?? 'bad_request', message: err.message });
    }
    log.error({ err, url: req.url }, 'exporter request failed');
    return reply
      .code(500)
      .send({ error: 'internal', message: 'internal error; the exporter log has the details' });
  });

  const busy = (reply: FastifyReply, what: string, limit: number) =>
    reply
      .code(429)
      .header('retry-after', '5')
      .send({ error: 'busy', message: `${limit} ${what} already running; try again in a few seconds` });

  /** 429 for an export that waited `exportWaitMs` for a slot: says whose exports hold the slots. */
  const exportBusy = (reply: FastifyReply, refusal: SlotRefusal) => {
    const waited = `waited ${Math.round(config.exportWaitMs / 1000)} s for a free slot`;
    const message =
      refusal.reason === 'own'
        ? `your previous export (${refusal.own} running from this address, at most ${config.maxExportsPerClient} at once) is still being downloaded; ${waited}. Try again when it has finished`
        : `${refusal.running - refusal.own} export(s) by other users are running (at most ${config.maxConcurrentExports} at once); ${waited}. Try again in a few seconds`;
    return reply
      .code(429)
      .header('retry-after', '5')
      .send({ error: 'busy', reason: refusal.reason, message });
  };

  /** 404 when not one asked code is known: an empty workbook would hide the mistake. */
  const noKnownCode = (reply: FastifyReply, codes: readonly string[]) =>
    reply.code(404).send({
      error: 'unknown_code',
      parameter: 'codes',
      message: `codes: ${codes.join(', ')} ${codes.length === 1 ? 'is not a known stock' : 'are not known stocks'}; Harbour has no prices for ${codes.length === 1 ? 'it' : 'them'}`,
    });

  const unknownCode = (reply: FastifyReply, code: string) =>
    reply
      .code(404)
      .send({ error: 'unknown_code', parameter: 'code', message: `code: ${code} is not a known stock` });

  /** Runs an API handler under the API concurrency limit. */
  const api =
    <Q>(handler: (q: Q, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      if (apiInFlight >= config.maxConcurrentApi)
        return busy(reply, 'API requests are', config.maxConcurrentApi);
      apiInFlight++;
      try {
        reply.header('cache-control', 'no-store');
        return await handler(req.query as Q, reply);
      } finally {
        apiInFlight--;
      }
    };

  app.get('/', async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .header('cache-control', 'no-cache')
      .send(page()),
  );
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());

  app.get('/healthz', async (_req, reply) => {
    const result = await deps.health.run();
    return reply.code(result.ok ? 200 : 503).send(result);
  });
  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );

  app.get(
    '/api/stocks',
    { schema: { querystring: StocksQuery } },
    api<StocksQuery>(async (q) => {
      const needle = (q.q ?? '').trim().toUpperCase();
      const all = await stocks();
      const digits = /^\d+$/.test(needle);
      const found = !needle
        ? all.slice(0, 20)
        : all
            .filter((s) =>
              digits
                ? s.code.startsWith(needle) || s.code.replace(/^0+/, '').startsWith(needle.replace(/^0+/, ''))
                : s.name.toUpperCase().includes(needle),
            )
            .slice(0, 20);
      return { stocks: found };
    }),
  );

  app.get(
    '/api/prices',
    { schema: { querystring: PricesQuery } },
    api<PricesQuery>(async (q, reply) => {
      const code = normaliseCode(q.code, 'code');
      const { from, to } = parseRange(q.from, q.to, config.maxRangeDays);
      const { name, rows } = await read(async (db) => ({
        name: await latestName(db, code),
        rows: await allPriceRows(db, code, from, to),
      }));
      if (name === null) return unknownCode(reply, code);
      return {
        code,
        name,
        from,
        to,
        rows: rows.map((p) => ({
          date: p.date,
          status: p.status,
          open: p.open,
          high: p.high,
          low: p.low,
          close: p.close,
          change_pct: p.changePct,
          volume: p.volume,
          turnover: p.turnover,
          directed_volume: p.directedVolume,
          dv_30d: p.dv30,
          month_high: p.monthHigh,
          month_high_date: p.monthHighDate,
          month_low: p.monthLow,
          month_low_date: p.monthLowDate,
        })),
      };
    }),
  );

  app.get(
    '/api/ccass',
    { schema: { querystring: CcassQuery } },
    api<CcassQuery>(async (q, reply) => {
      const code = normaliseCode(q.code, 'code');
      const date = q.date === undefined ? null : parseDate(q.date, 'date');
      const { name, top } = await read(async (db) => ({
        name: await latestName(db, code),
        top: await ccassTop(db, code, date, config.ccassTopParticipants),
      }));
      if (name === null) return unknownCode(reply, code);
      return top
        ? { ...top, name }
        : {
            code,
            name,
            holdingDate: null,
            prevHoldingDate: null,
            issuedShares: null,
            top10Pct: null,
            participants: null,
            holders: [],
          };
    }),
  );

  if (deps.store) registerLineage(app, { pool: deps.pool, store: deps.store });

  const workbookHeaders = (reply: FastifyReply, filename: string, unknown: readonly string[]) =>
    reply
      .type(XLSX_TYPE)
      .header('content-disposition', `attachment; filename="${filename}"`)
      .header('cache-control', 'no-store')
      .header('x-harbour-unknown-codes', unknown.join(','));

  // HEAD answers the headers of the workbook GET would send (or its 400/404) without building one
  // and without taking an export slot.
  app.head(
    '/export.xlsx',
    { schema: { querystring: ExportQuery } },
    api<ExportQuery>(async (q, reply) => {
      const params = parseExportParams(q, limits);
      const known = new Set(await read((db) => knownCodes(db, params.codes)));
      const unknown = params.codes.filter((c) => !known.has(c));
      if (!known.size) return noKnownCode(reply, unknown);
      return workbookHeaders(reply, workbookFileName(params), unknown).send();
    }),
  );

  app.get(
    '/export.xlsx',
    { schema: { querystring: ExportQuery }, exposeHeadRoute: false },
    async (req, reply) => {
      const params = parseExportParams(req.query as ExportQuery, limits);
      // The client going away while waiting ends the wait.
      const gone = new AbortController();
      const onGone = () => gone.abort();
      reply.raw.once('close', onGone);
      const slot = await slots.acquire(req.ip, gone.signal);
      reply.raw.off('close', onGone);
      if ('refused' in slot) return exportBusy(reply, slot.refused);
      // The slot is the response's: given back when it ends (last byte handed over, or the client gone).
      if (reply.raw.destroyed || reply.raw.writableFinished) slot.release();
      else reply.raw.once('close', slot.release);
      const t0 = Date.now();
      let plan: Awaited<ReturnType<typeof prepareWorkbook>>;
      try {
        plan = await prepareWorkbook(deps.pool, params, {
          batchRows: config.batchRows,
          ccassTop: config.ccassTopParticipants,
          statementTimeoutMs: config.statementTimeoutMs,
          signal: shutdown.signal,
          onRows: (n) => exportRows.inc(n),
        });
      } catch (err) {
        slot.release();
        exportsTotal.inc({ outcome: 'failed' });
        throw err;
      }
      if (!plan.knownCodes.length) {
        await plan.release();
        slot.release();
        return noKnownCode(reply, plan.unknownCodes);
      }
      const out = new PassThrough();
      plan
        .write(out)
        .then((stats) => {
          exportsTotal.inc({ outcome: 'ok' });
          log.info(
            {
              codes: params.codes.length,
              rows: stats.rows,
              sheets: stats.sheets.length,
              ms: Date.now() - t0,
            },
            'workbook exported',
          );
        })
        .catch((err: unknown) => {
          const aborted = shutdown.signal.aborted || reply.raw.destroyed || req.raw.destroyed;
          exportsTotal.inc({ outcome: aborted ? 'aborted' : 'failed' });
          if (aborted) log.info({ err: (err as Error).message }, 'workbook export aborted');
          else log.error({ err }, 'workbook export failed while streaming');
        });
      return workbookHeaders(reply, plan.filename, plan.unknownCodes).send(out);
    },
  );

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

  deps.health.add('exporter', () => ({
    ok: !shutdown.signal.aborted,
    detail: `${slots.running} exports in flight`,
  }));

  await app.listen({ host: config.host, port: config.port });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, tokenRequired: Boolean(config.token) }, 'exporter listening');

  const lifecycle = createLifecycle({
    name: 'exporter',
    logger: log,
    drainTimeoutMs: deps.drainTimeoutMs,
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
