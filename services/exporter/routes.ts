import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  allPriceRows,
  ccassTop,
  knownCodes,
  latestName,
  listStocks,
  prepareWorkbook,
  type Queryable,
  readOnly,
  type StockName,
  workbookFileName,
} from '../gold/index.ts';
import { counter, gauge, type Logger } from '../runtime/index.ts';
import type { ExporterConfig } from './config.ts';
import { registerLineage } from './lineage.ts';
import { PAGE_CSP, renderPage } from './page.ts';
import {
  CcassQuery,
  ExportQuery,
  normaliseCode,
  PricesQuery,
  parseDate,
  parseExportParams,
  parseRange,
  StocksQuery,
} from './params.ts';
import type { ExporterDeps } from './server.ts';
import { ExportSlots, type SlotRefusal } from './slots.ts';

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** What the route groups share: settings, deps, read-only queries, the API limit, the export slots. */
interface RouteContext {
  config: ExporterConfig;
  deps: ExporterDeps;
  log: Logger;
  shutdown: AbortSignal;
  read: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;
  /** Runs an API handler under the API concurrency limit (`maxConcurrentApi`). */
  api: <Q>(
    handler: (q: Q, reply: FastifyReply) => Promise<unknown>,
  ) => (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  stocks: () => Promise<StockName[]>;
}

/** 429 when a limit is reached. */
function busyReply(reply: FastifyReply, what: string, limit: number) {
  return reply
    .code(429)
    .header('retry-after', '5')
    .send({ error: 'busy', message: `${limit} ${what} already running; try again in a few seconds` });
}

/** 404 when not one asked code is known: an empty workbook would hide the mistake. */
function noKnownCode(reply: FastifyReply, codes: readonly string[]) {
  return reply.code(404).send({
    error: 'unknown_code',
    parameter: 'codes',
    message: `codes: ${codes.join(', ')} ${codes.length === 1 ? 'is not a known stock' : 'are not known stocks'}; Harbour has no prices for ${codes.length === 1 ? 'it' : 'them'}`,
  });
}

function unknownCode(reply: FastifyReply, code: string) {
  return reply
    .code(404)
    .send({ error: 'unknown_code', parameter: 'code', message: `code: ${code} is not a known stock` });
}

/**
 * The exporter's routes: the page, `/healthz`, `/metrics`, the JSON API (at most
 * `maxConcurrentApi` at once), `/lineage` (with an object store) and `/export.xlsx` (export slots:
 * `maxConcurrentExports`, `maxExportsPerClient`). `shutdown` aborts running exports (forced close).
 * On close the exporter's health check is removed.
 */
export async function exporterRoutes(
  app: FastifyInstance,
  opts: { config: ExporterConfig; deps: ExporterDeps; log: Logger; shutdown: AbortSignal },
): Promise<void> {
  const { config, deps } = opts;
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

  let apiInFlight = 0;
  const api =
    <Q>(handler: (q: Q, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      if (apiInFlight >= config.maxConcurrentApi)
        return busyReply(reply, 'API requests are', config.maxConcurrentApi);
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

  const ctx: RouteContext = { ...opts, read, api, stocks };
  registerApiRoutes(app, ctx);
  registerExportRoutes(app, ctx, limits);
}

/** `/api/stocks`, `/api/prices`, `/api/ccass` and, with an object store, `/lineage`. */
function registerApiRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { config, deps, read, api, stocks } = ctx;
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
}

/** The export metrics; `unfinished` holds an export from its slot until its outcome is counted. */
function exportMetrics(r: ExporterDeps['registry']) {
  const exportRows = counter(r, 'harbour_exporter_rows_written_total', 'price rows written into workbooks');
  const exportsTotal = counter(
    r,
    'harbour_exporter_exports_total',
    'workbook exports by outcome (ok, aborted, failed)',
    ['outcome'],
  );
  // The slot goes back when the response closes, which the client may see before the writer has
  // settled and counted the export: the gauge says "finished" only once it is counted.
  const unfinished = new Set<object>();
  gauge(
    r,
    'harbour_exporter_exports_in_flight',
    'workbook exports not finished (streaming, or their outcome not yet counted)',
    [],
    function () {
      this.set(unfinished.size);
    },
  );
  return { exportRows, exportsTotal, unfinished };
}

/** `HEAD` and `GET /export.xlsx`: the workbook, streamed under an export slot. */
function registerExportRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  limits: Parameters<typeof parseExportParams>[1],
): void {
  const { config, deps, log, read, api } = ctx;
  const shutdown = { signal: ctx.shutdown };
  const slots = new ExportSlots(config.maxConcurrentExports, config.maxExportsPerClient, config.exportWaitMs);
  const { exportRows, exportsTotal, unfinished } = exportMetrics(deps.registry);
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
      const exportRun = {};
      unfinished.add(exportRun);
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
        unfinished.delete(exportRun);
        throw err;
      }
      if (!plan.knownCodes.length) {
        await plan.release();
        slot.release();
        unfinished.delete(exportRun);
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
        })
        .finally(() => unfinished.delete(exportRun));
      return workbookHeaders(reply, plan.filename, plan.unknownCodes).send(out);
    },
  );

  const removeHealth = deps.health.add('exporter', () => ({
    ok: !shutdown.signal.aborted,
    detail: `${slots.running} exports in flight`,
  }));
  app.addHook('onClose', async () => removeHealth());
}
