import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A registry with Node process metrics under `harbour_process_*`/`harbour_nodejs_*`. */
export function createRegistry(
  opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {},
): Registry {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'harbour_' });
  return registry;
}

/** Returns the metric already registered under `name`, or registers the one `make` builds (safe for several services in one process). */
export function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** A counter registered once per registry (names `harbour_*_total`). */
export const counter = <L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
) =>
  metric(
    registry,
    name,
    () => new Counter<L>({ name, help, labelNames: labelNames as L[], registers: [registry] }),
  );

/** A gauge registered once per registry; `collect` refreshes it at scrape time. */
export const gauge = <L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  collect?: (this: Gauge<L>) => void | Promise<void>,
) =>
  metric(
    registry,
    name,
    () =>
      new Gauge<L>({
        name,
        help,
        labelNames: labelNames as L[],
        registers: [registry],
        ...(collect ? { collect } : {}),
      }),
  );

/** A histogram registered once per registry. */
export const histogram = <L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
) =>
  metric(
    registry,
    name,
    () => new Histogram<L>({ name, help, labelNames: labelNames as L[], buckets, registers: [registry] }),
  );
