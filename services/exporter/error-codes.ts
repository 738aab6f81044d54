import type { FastifyInstance } from 'fastify';
import { type ErrorCode, ErrorCodes, HttpErrorCodes } from '../../contracts/index.ts';

/**
 * Ties every JSON error answer to the catalogue: a body `{ error: 'busy', … }` leaves as
 * `{ error: 'busy', code: 'HARBOUR_ERR_BUSY', … }` (contracts/errors.ts `HttpErrorCodes`). The short
 * `error` name stays the HTTP contract; `code` is the one logs, DLQ and CLI use. Names fastify
 * itself answers with (415, 406…) get `HARBOUR_ERR_BAD_PARAMETER` below 500, `HARBOUR_ERR_UNEXPECTED`
 * from 500. Done in one `preSerialization` hook so no route can answer without a code.
 */
export function addErrorCodes(app: FastifyInstance): void {
  app.addHook('preSerialization', async (_req, reply, payload: unknown) => {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return payload;
    const body = payload as { error?: unknown; code?: unknown };
    if (typeof body.error !== 'string' || body.code !== undefined) return payload;
    return { error: body.error, code: httpErrorCode(body.error, reply.statusCode), ...body };
  });
}

export function httpErrorCode(error: string, status: number): ErrorCode {
  return (
    (HttpErrorCodes as Record<string, ErrorCode>)[error] ??
    (status < 500 ? ErrorCodes.BadParameter : ErrorCodes.Unexpected)
  );
}
