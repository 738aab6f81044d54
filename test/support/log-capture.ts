import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../services/runtime/logger.ts';

/** A Harbour logger writing its JSON lines into `raw` (one string per line), as `npm start` writes to stdout. */
export function captureLog(level = 'debug'): { raw: string[]; logger: Logger } {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { raw, logger: createLogger({ level, destination: sink }) };
}
