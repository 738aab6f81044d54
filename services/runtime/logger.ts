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
      redact: { paths: REDACT_PATHS, censor },
    },
    opts.destination,
  );
}

/**
 * Secrets a log line must never show, wherever a config (or a section of it) is logged: at the top
 * of the line, under one key (`{ config }`), or as a service's own section (`{ config: exporter }`).
 * URLs keep scheme, user, host and path with the password replaced by `***`, so a log still says
 * which server was meant; tokens, passwords and secret keys become `[redacted]`.
 */
const SECRET_URLS = ['postgres.url', 'nats.url'];
const SECRETS = ['exporter.token', 'objectStore.secretAccessKey', 'reporter.smtp.pass'];
/** The same secrets as seen from inside their section (a service logging its own config). */
const SECTION_SECRETS = ['token', 'secretAccessKey', 'smtp.pass', 'pass'];
const REDACT_PATHS = [
  ...[...SECRET_URLS, ...SECRETS].flatMap((p) => [p, `*.${p}`]),
  ...SECTION_SECRETS.map((p) => `*.${p}`),
];

function censor(value: unknown, path: string[]): unknown {
  if (typeof value !== 'string' || value === '') return value;
  if (path[path.length - 1] === 'url') return redactUrls(value);
  return '[redacted]';
}

/** Every URL of a comma-separated list (NATS takes several) with its password replaced by `***`. */
export function redactUrls(urls: string): string {
  return urls
    .split(',')
    .map((u) => {
      try {
        const url = new URL(u.trim());
        if (!url.password) return u;
        url.password = '***';
        return url.href;
      } catch {
        // Not a URL: it may still hold `user:secret@`; keep nothing after the scheme.
        return u.includes('@') ? '[redacted]' : u;
      }
    })
    .join(',');
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
