/**
 * Keeps the children `npm run stack` started alive: a child that dies (crash, OOM, kill -9) is
 * started again by its own handle, so on the same port and data directory, with exponential
 * back-off while it keeps failing, and every death and restart is logged. A child stopped on
 * purpose (its handle's `stop()` through `supervised`) is left stopped until `start()`.
 * `stop()` ends the watching and waits for a restart in progress, so a Ctrl-C that stops the
 * supervisor first and then the children stops every process, restarted ones included.
 */
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';

export interface SupervisedChild {
  /** Name in log lines (`nats-server`, `postgres`). */
  readonly name: string;
  /** Whether the process is running now; checked every `checkEveryMs`. */
  running(): boolean;
  /** Starts it again on the same port and data (its handle's own `start`). */
  start(): Promise<void>;
}

export interface SupervisorOptions {
  log?: (msg: string) => void;
  /** How often children are checked (ms). */
  checkEveryMs?: number;
  /** First restart delay; doubles per failed or short-lived restart up to `maxBackoffMs`. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child up this long after a restart counts as healthy again: back-off starts over. */
  stableAfterMs?: number;
}

export interface Supervisor {
  /** Restarts so far, by child name. */
  restarts(name: string): number;
  /** The child was stopped on purpose: do not restart it until `resume(name)`. */
  pause(name: string): void;
  resume(name: string): void;
  /** Stops watching; resolves once no restart is in progress. */
  stop(): Promise<void>;
}

interface Entry {
  child: SupervisedChild;
  paused: boolean;
  restarts: number;
  /** Consecutive attempts since the child was last stable. */
  attempts: number;
  nextAttemptAt: number;
  upSince: number;
  wasRunning: boolean;
}

export function startSupervisor(children: SupervisedChild[], opts: SupervisorOptions = {}): Supervisor {
  const log = opts.log ?? (() => {});
  const checkEveryMs = opts.checkEveryMs ?? 500;
  const base = opts.baseBackoffMs ?? 500;
  const max = opts.maxBackoffMs ?? 30_000;
  const stableAfterMs = opts.stableAfterMs ?? 60_000;
  const entries = children.map(
    (child): Entry => ({
      child,
      paused: false,
      restarts: 0,
      attempts: 0,
      nextAttemptAt: 0,
      upSince: Date.now(),
      wasRunning: true,
    }),
  );
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();

  const check = async (e: Entry) => {
    const now = Date.now();
    if (e.child.running()) {
      if (!e.wasRunning) e.upSince = now;
      e.wasRunning = true;
      if (e.attempts && now - e.upSince >= stableAfterMs) e.attempts = 0;
      return;
    }
    if (e.paused) return;
    if (e.wasRunning) {
      e.wasRunning = false;
      // Died soon after a restart: keep the back-off growing instead of restarting in a tight loop.
      const delay = Math.min(max, base * 2 ** e.attempts);
      e.nextAttemptAt = now + delay;
      log(`${e.child.name} exited unexpectedly; restarting in ${delay} ms`);
      return;
    }
    if (now < e.nextAttemptAt) return;
    e.attempts += 1;
    try {
      await e.child.start();
      e.restarts += 1;
      e.wasRunning = true;
      e.upSince = Date.now();
      log(`${e.child.name} restarted (restart ${e.restarts}, same port and data)`);
    } catch (err) {
      const delay = Math.min(max, base * 2 ** e.attempts);
      e.nextAttemptAt = Date.now() + delay;
      log(
        `${e.child.name} restart failed (${(err as Error).message.split('\n')[0]}); next try in ${delay} ms`,
      );
    }
  };

  const timer = setInterval(() => {
    if (stopped) return;
    // One pass at a time: a slow restart (Postgres recovery) is not started twice.
    inFlight = inFlight.then(async () => {
      for (const e of entries) if (!stopped) await check(e);
    });
  }, checkEveryMs);
  timer.unref();

  const entry = (name: string) => {
    const e = entries.find((x) => x.child.name === name);
    if (!e) throw new HarbourError(ErrorCodes.Internal, `supervisor: no child named ${name}`);
    return e;
  };
  return {
    restarts: (name) => entry(name).restarts,
    pause(name) {
      entry(name).paused = true;
    },
    resume(name) {
      const e = entry(name);
      e.paused = false;
      e.wasRunning = true;
      e.upSince = Date.now();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}

interface Restartable {
  readonly pid: number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Supervises `handles` (only those given; an external Postgres is not ours to restart) and returns
 * them wrapped so that their own `stop()` / `start()` pause and resume supervision: a test or an
 * operator stopping a child through the stack is not fought by the supervisor. Everything else
 * (`kill()`, `url`, …) is the handle's own.
 */
export function superviseHandles<H extends Record<string, Restartable>>(
  handles: H,
  opts: SupervisorOptions = {},
): { supervisor: Supervisor; handles: H } {
  const supervisor = startSupervisor(
    Object.entries(handles).map(([name, h]) => ({
      name,
      running: () => h.pid !== undefined,
      start: () => h.start(),
    })),
    opts,
  );
  const wrapped = Object.fromEntries(
    Object.entries(handles).map(([name, h]) => {
      const proxy = new Proxy(h, {
        get(target, key, receiver) {
          if (key === 'stop')
            return async () => {
              supervisor.pause(name);
              await target.stop();
            };
          if (key === 'start')
            return async () => {
              await target.start();
              supervisor.resume(name);
            };
          return Reflect.get(target, key, receiver);
        },
      });
      return [name, proxy];
    }),
  ) as H;
  return { supervisor, handles: wrapped };
}
