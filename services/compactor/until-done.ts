import { backoffMs, type Logger, sleep } from '../runtime/index.ts';

/** Runs `fn` until it succeeds, backing off; gives up only when `signal` aborts. */
export async function untilDone<T>(
  fn: () => Promise<T>,
  opts: { signal: AbortSignal; maxMs: number; log: Logger; what: string; onRetry?: () => void },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (opts.signal.aborted) throw err;
      const delay = backoffMs(attempt, 200, opts.maxMs);
      opts.log.warn({ err, attempt, delayMs: delay }, `${opts.what} failed; retrying`);
      opts.onRetry?.();
      await sleep(delay, opts.signal);
    }
  }
}
