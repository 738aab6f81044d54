import type { Logger } from 'pino';
import { ErrorCodes, HarbourError } from '../../../contracts/errors.ts';
import { sleep } from '../../runtime/index.ts';
import type { HttpClientConfig } from './config.ts';
import type { HttpMetrics } from './metrics.ts';

/**
 * The client's request budget: a token bucket of `requestBudget` attempts refilled at
 * `requestBudget` per `requestBudgetWindowMs`. A rate, not a lifetime: a process running for
 * months sends as much on its last day as on its first.
 */
export class RequestBudget {
  private tokens: number;
  private at = Date.now();
  private warned = false;
  private readonly refillPerMs: number;

  constructor(
    private readonly cfg: Pick<
      HttpClientConfig,
      'requestBudget' | 'requestBudgetWindowMs' | 'retryAfterMaxMs'
    >,
    private readonly logger: Logger,
    private readonly metrics: Pick<HttpMetrics, 'budgetWaits'>,
  ) {
    this.tokens = cfg.requestBudget;
    this.refillPerMs = cfg.requestBudget / cfg.requestBudgetWindowMs;
  }

  /** Attempts allowed right now. */
  remaining(): number {
    this.refill();
    return Math.floor(this.tokens);
  }

  /**
   * Takes one attempt from the budget, waiting for the refill when it is spent. A wait longer than
   * `retryAfterMaxMs` fails the request at once (HttpBudget: the job is retried later) rather than
   * holding it.
   */
  async take(request: { url: URL; method: string }, signal: AbortSignal): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        this.warned = false;
        return;
      }
      const refillMs = this.refillPerMs > 0 ? (1 - this.tokens) / this.refillPerMs : Number.POSITIVE_INFINITY;
      if (!this.warned) {
        this.warned = true;
        this.logger.warn(
          {
            component: 'http-client',
            budget: this.cfg.requestBudget,
            windowMs: this.cfg.requestBudgetWindowMs,
          },
          'http request budget spent; waiting for it to refill',
        );
      }
      if (refillMs > this.cfg.retryAfterMaxMs) throw this.spent(request, refillMs);
      this.metrics.budgetWaits.inc();
      await sleep(Math.ceil(refillMs), signal);
    }
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.cfg.requestBudget, this.tokens + (now - this.at) * this.refillPerMs);
    this.at = now;
  }

  private spent(request: { url: URL; method: string }, refillMs: number): HarbourError {
    const { requestBudget: budget, requestBudgetWindowMs: windowMs } = this.cfg;
    return new HarbourError(
      ErrorCodes.HttpBudget,
      `http request budget of ${budget} per ${windowMs} ms spent`,
      {
        detail: {
          url: request.url.href,
          method: request.method,
          budget,
          windowMs,
          refillMs: Math.ceil(refillMs),
        },
      },
    );
  }
}
