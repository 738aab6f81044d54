import { collectDefaultMetrics, Registry } from 'prom-client';

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
