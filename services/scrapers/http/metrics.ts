import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Outcome label of `harbour_http_requests_total`: one per attempt sent. */
export type HttpOutcome = 'ok' | 'http_4xx' | 'http_5xx' | 'network_error' | 'timeout' | 'retry';

export interface HttpMetrics {
  /** Attempts by final classification; `retry` = the attempt failed and was retried. */
  requests: Counter<'host' | 'outcome'>;
  /** Attempt duration, request start to body read (or failure). */
  duration: Histogram<'host'>;
  /** Retries scheduled (one per back-off sleep). */
  retries: Counter<'host'>;
  /** Adaptive spacing currently applied between request starts to a host. */
  hostDelay: Gauge<'host'>;
  /** Sleeps of attempts waiting for the request budget to refill. */
  budgetWaits: Counter;
}

/**
 * Registers (or reuses, when another client already registered them in the same registry) the HTTP
 * client metrics. Without a registry the metrics are created unregistered, so the code path is the same.
 */
export function createHttpMetrics(registry?: Registry): HttpMetrics {
  const registers = registry ? [registry] : [];
  const reuse = <T>(name: string, make: () => T): T =>
    (registry?.getSingleMetric(name) as T | undefined) ?? make();
  return {
    requests: reuse(
      'harbour_http_requests_total',
      () =>
        new Counter({
          name: 'harbour_http_requests_total',
          help: 'HTTP attempts sent by the scraper client, by host and outcome (retry = attempt was retried)',
          labelNames: ['host', 'outcome'] as const,
          registers,
        }),
    ),
    duration: reuse(
      'harbour_http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'harbour_http_request_duration_seconds',
          help: 'Duration of one HTTP attempt including body read, in seconds',
          labelNames: ['host'] as const,
          buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60],
          registers,
        }),
    ),
    retries: reuse(
      'harbour_http_retries_total',
      () =>
        new Counter({
          name: 'harbour_http_retries_total',
          help: 'HTTP retries scheduled by the scraper client',
          labelNames: ['host'] as const,
          registers,
        }),
    ),
    hostDelay: reuse(
      'harbour_http_host_delay_ms',
      () =>
        new Gauge({
          name: 'harbour_http_host_delay_ms',
          help: 'Adaptive delay between request starts to a host, in milliseconds',
          labelNames: ['host'] as const,
          registers,
        }),
    ),
    budgetWaits: reuse(
      'harbour_http_budget_waits_total',
      () =>
        new Counter({
          name: 'harbour_http_budget_waits_total',
          help: 'Waits for the request budget (requestBudget per requestBudgetWindowMs) to refill, one per sleep of a waiting attempt',
          registers,
        }),
    ),
  };
}
