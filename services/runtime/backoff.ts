/**
 * The one retry delay of Harbour: exponential back-off with full jitter, capped ("Exponential
 * Backoff And Jitter", AWS Architecture Blog). `attempt` starts at 1; the delay is uniform in
 * [0, min(maxMs, baseMs · 2^(attempt−1))], so retries of many clients after one outage spread over
 * the whole window instead of arriving together. `random` is injectable for tests.
 */
export function backoffMs(
  attempt: number,
  baseMs = 1000,
  maxMs = 60_000,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 52));
  return Math.round(random() * ceiling);
}
