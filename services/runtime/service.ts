import { setTimeout as delay } from 'node:timers/promises';
import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import type { ServiceDeps } from './deps.ts';

/** What every stage's `start(config, deps)` returns. `closed` settles when the service has stopped, by `close()` or by a fatal error (rejects). */
export interface Service {
  close(): Promise<void>;
  readonly closed: Promise<void>;
  /**
   * Cuts a close short: runs the forced phase now (starting the close if it has not begun) and
   * settles once closed. The host calls it when its own deadline passes; a no-op once closed.
   */
  force?(): Promise<void>;
  /** Settles once closed: true when the drain completed within its deadline, false when forced. */
  readonly drained?: Promise<boolean>;
}

export interface LifecycleOptions {
  name: string;
  logger: Logger;
  /**
   * Graceful phase: stop pulling, finish in-flight work, flush. Returning false says it completed
   * only by forcing something inside (the host: a service was forced), so `drained` is false.
   */
  drain: () => Promise<unknown>;
  /** Forced phase after `drainTimeoutMs`: drop connections, abandon work (unacked messages get redelivered). */
  force?: () => Promise<void>;
  /** The drain deadline; services pass `deps.drainTimeoutMs` (the host's one shutdown setting). */
  drainTimeoutMs?: number;
}

export interface Lifecycle extends Service {
  force(): Promise<void>;
  /** Aborted as soon as close begins; pass it to every I/O call. */
  readonly signal: AbortSignal;
  /** Marks the service failed: `closed` rejects with `err` after the forced close. */
  fail(err: unknown): void;
  /**
   * Settles once close has finished: true when the drain completed within `drainTimeoutMs`,
   * false when it was forced (deadline passed or the drain threw). `npm start` turns it into its
   * exit code.
   */
  readonly drained: Promise<boolean>;
}

/** The shared shutdown state machine: close → drain (deadline) → force → closed. Idempotent. */
export function createLifecycle(opts: LifecycleOptions): Lifecycle {
  const controller = new AbortController();
  let resolveClosed!: () => void;
  let rejectClosed!: (err: unknown) => void;
  const closed = new Promise<void>((res, rej) => {
    resolveClosed = res;
    rejectClosed = rej;
  });
  closed.catch(() => {});
  let resolveDrained!: (drained: boolean) => void;
  const drained = new Promise<boolean>((res) => {
    resolveDrained = res;
  });
  let closing: Promise<void> | undefined;
  let failure: unknown;
  let forceNow!: () => void;
  const forcedEarly = new Promise<'forced'>((res) => {
    forceNow = () => res('forced');
  });

  const shutdown = (): Promise<void> => {
    if (closing) return closing;
    controller.abort(new HarbourError(ErrorCodes.ShutdownForced, `${opts.name} is closing`));
    closing = (async () => {
      const timeoutMs = opts.drainTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      let completed = false;
      const deadline = new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), timeoutMs);
      });
      try {
        const outcome = await Promise.race([
          opts.drain().then((ok) => (ok === false ? ('partly' as const) : ('drained' as const))),
          deadline,
          forcedEarly,
        ]);
        if (outcome === 'timeout' || outcome === 'forced') {
          const why = outcome === 'timeout' ? 'drain deadline passed' : 'force requested';
          opts.logger.warn({ service: opts.name, timeoutMs }, `${why}; forcing close`);
          await opts.force?.();
        } else completed = outcome === 'drained';
      } catch (err) {
        opts.logger.error({ service: opts.name, err }, 'error while draining; forcing close');
        await opts.force?.().catch(() => {});
      } finally {
        clearTimeout(timer);
      }
      resolveDrained(completed);
      if (failure !== undefined) rejectClosed(failure);
      else resolveClosed();
    })();
    return closing;
  };

  return {
    signal: controller.signal,
    close: shutdown,
    force() {
      forceNow();
      return shutdown();
    },
    closed,
    drained,
    fail(err) {
      if (failure === undefined) failure = err;
      opts.logger.error({ service: opts.name, err }, 'service failed');
      void shutdown();
    },
  };
}

/**
 * A stage's lifecycle: `createLifecycle` named after the stage, logging to its logger, with the
 * drain deadline the host passes every stage (`deps.drainTimeoutMs`).
 */
export function stageLifecycle(
  name: string,
  logger: Logger,
  deps: Pick<ServiceDeps, 'drainTimeoutMs'>,
  phases: Pick<LifecycleOptions, 'drain' | 'force'>,
): Lifecycle {
  return createLifecycle({ name, logger, drainTimeoutMs: deps.drainTimeoutMs, ...phases });
}

/**
 * Sleeps `ms` (node:timers/promises); when `signal` aborts, rejects at once with Node's
 * `AbortError` (code `ABORT_ERR`, the signal's reason as `cause`).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : undefined);
}

/** The contract each stage folder fulfils: a config schema (with defaults) and a start function. */
export interface ServiceDefinition<S extends TSchema = TSchema> {
  readonly name: string;
  readonly description: string;
  readonly config: S;
  start(config: Static<S>, deps: ServiceDeps): Promise<Service>;
}

export function defineService<S extends TSchema>(def: ServiceDefinition<S>): ServiceDefinition<S> {
  return def;
}

/**
 * A stage as the host runs it (`--service <name>`), from its name, config schema, description and a
 * `load` that imports the stage's code and returns its start function. The code is imported only when
 * the stage starts, so a process pays (in memory and start-up) only for the stages it runs.
 */
export function lazyService<S extends TSchema>(
  name: string,
  config: S,
  description: string,
  load: () => Promise<(config: Static<S>, deps: ServiceDeps) => Promise<Service>>,
): ServiceDefinition<S> {
  return defineService({ name, description, config, start: async (cfg, deps) => (await load())(cfg, deps) });
}
