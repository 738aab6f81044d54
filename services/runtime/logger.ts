import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on stdout (or the given destination); services take `logger.child({ service })`. */
export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    { level: opts.level ?? 'info', base: { app: 'harbour', ...(opts.name ? { name: opts.name } : {}) } },
    opts.destination,
  );
}

/** A logger that drops everything; for tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
