import { sleep } from '../../runtime/index.ts';
import { abortError } from './abort.ts';

export interface HostGateOptions {
  /** Most attempts in flight at once. */
  concurrency: number;
  /** Token bucket refill, request starts per second. */
  requestsPerSecond: number;
  /** Token bucket size. */
  burst: number;
  /** Adaptive delay: first step, multiplier, decay, ceiling (see HttpClientConfig). */
  adaptiveDelayStepMs: number;
  adaptiveDelayFactor: number;
  adaptiveDelayDecay: number;
  adaptiveDelayMaxMs: number;
  /** Called whenever the adaptive delay changes. */
  onDelayChange?: (delayMs: number) => void;
  /** Monotonic clock in ms; injectable for tests. */
  now?: () => number;
}

interface Waiter {
  grant: () => void;
}

/**
 * Politeness gate for one host. An attempt first takes a concurrency slot, then reserves a start time:
 * the later of (a) when the token bucket has a token for it, (b) the previous start plus the adaptive
 * delay, (c) a pause set from Retry-After. Reservations are taken in slot order, so starts are spaced
 * even under contention; the slot is held from the wait until `release()`.
 */
export class HostGate {
  private readonly opts: HostGateOptions;
  private readonly now: () => number;
  private active = 0;
  private readonly waiters: Waiter[] = [];
  private tokens: number;
  private refilledAt: number;
  /** Earliest start for the next reservation (adaptive spacing, Retry-After pauses). */
  private nextStartAt = 0;
  private delay = 0;

  constructor(opts: HostGateOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => performance.now());
    this.tokens = opts.burst;
    this.refilledAt = this.now();
  }

  /** Current adaptive spacing between request starts, in ms. */
  get delayMs(): number {
    return this.delay;
  }

  /** Attempts currently holding a slot (waiting for their start time or in flight). */
  get inFlight(): number {
    return this.active;
  }

  /**
   * Waits for a slot and a start time. Resolves with a `release` function (idempotent) that must be
   * called when the attempt is over. Rejects with an AbortError as soon as `signal` aborts.
   */
  async acquire(signal: AbortSignal): Promise<() => void> {
    await this.acquireSlot(signal);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.releaseSlot();
    };
    try {
      const startAt = this.reserveStart();
      try {
        await sleep(startAt - this.now(), signal);
      } catch (err) {
        this.tokens = Math.min(this.opts.burst, this.tokens + 1); // the reserved token was not used
        throw err;
      }
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /** No attempt to this host starts before `delayMs` from now (Retry-After). */
  pauseFor(delayMs: number): void {
    this.nextStartAt = Math.max(this.nextStartAt, this.now() + delayMs);
  }

  /** A slow answer, 429, 5xx, timeout or network error: widen the spacing. */
  slowDown(): void {
    const { adaptiveDelayStepMs: step, adaptiveDelayFactor: factor, adaptiveDelayMaxMs: max } = this.opts;
    this.setDelay(Math.min(max, Math.max(step, this.delay * factor)));
  }

  /** A fast 2xx: narrow the spacing back towards zero. */
  speedUp(): void {
    if (this.delay === 0) return;
    const next = this.delay * this.opts.adaptiveDelayDecay;
    this.setDelay(next < this.opts.adaptiveDelayStepMs ? 0 : next);
  }

  private setDelay(delayMs: number): void {
    const rounded = Math.round(delayMs);
    if (rounded === this.delay) return;
    this.delay = rounded;
    this.opts.onDelayChange?.(rounded);
  }

  private reserveStart(): number {
    const now = this.now();
    const { requestsPerSecond: rate, burst } = this.opts;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    this.tokens -= 1;
    const tokenAt = this.tokens >= 0 ? now : now + (-this.tokens / rate) * 1000;
    const startAt = Math.max(tokenAt, this.nextStartAt);
    this.nextStartAt = startAt + this.delay;
    return startAt;
  }

  private acquireSlot(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this.active < this.opts.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(signal));
      };
      this.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private releaseSlot(): void {
    const next = this.waiters.shift();
    if (next)
      next.grant(); // the slot passes straight to the next waiter
    else this.active--;
  }
}
