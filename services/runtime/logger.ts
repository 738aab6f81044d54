import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on stdout (or the given destination); services take `logger.child({ service })`. */
export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { app: 'harbour', ...(opts.name ? { name: opts.name } : {}) },
      serializers: { err: serializeError },
    },
    opts.destination,
  );
}

/**
 * pino's error serialiser keeps every enumerable property, and driver errors carry whole objects
 * (pg-pool sets `err.client`, a pg Client of several KB; NATS errors hold connection state). A log
 * line keeps type, message, code, stack and the error's other scalar fields, plus a cause in the
 * same short form.
 */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  for (const [k, v] of Object.entries(err)) {
    if (v === null || v === undefined || k === 'client') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || k === 'detail')
      out[k] = v;
  }
  if (err.stack) out['stack'] = err.stack;
  if (err.cause !== undefined)
    out['cause'] = err.cause instanceof Error ? briefError(err.cause) : String(err.cause);
  return out;
}

/** A logger that drops everything; for tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The part of an error a log line needs: type, code and message. Driver errors carry whole objects
 * (pg-pool sets `err.client`, a pg Client of several KB), which pino's serialiser would dump.
 */
export function briefError(err: unknown): { type: string; code?: string; message: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    message: err.message,
  };
}
