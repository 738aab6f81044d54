/** An `Error` named `AbortError` (code `ABORT_ERR`, like Node's own), carrying the signal's reason as `cause`. */
export function abortError(signal?: AbortSignal, message = 'The operation was aborted'): Error {
  const err = new Error(message, signal?.reason === undefined ? undefined : { cause: signal.reason });
  err.name = 'AbortError';
  (err as Error & { code: string }).code = 'ABORT_ERR';
  return err;
}

/** True for anything named `AbortError` (ours, DOMException, Node's). */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/**
 * An AbortController that aborts when any parent does. `dispose()` detaches it from the parents, so
 * long-lived parents (the client's close signal) don't accumulate listeners. Used instead of
 * `AbortSignal.any`, which leaks on some Node 20 releases.
 */
export function linkedController(parents: readonly (AbortSignal | undefined)[]): {
  controller: AbortController;
  dispose: () => void;
} {
  const controller = new AbortController();
  const attached: { signal: AbortSignal; listener: () => void }[] = [];
  for (const signal of parents) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const listener = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', listener, { once: true });
    attached.push({ signal, listener });
  }
  const dispose = (): void => {
    for (const { signal, listener } of attached) signal.removeEventListener('abort', listener);
    attached.length = 0;
  };
  return { controller, dispose };
}
