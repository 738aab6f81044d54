/** One named readiness check; a service registers its own (NATS connected, consumer bound, …). */
export type HealthCheck = () => Promise<{ ok: boolean; detail?: string }> | { ok: boolean; detail?: string };

export interface HealthRegistry {
  add(name: string, check: HealthCheck): () => void;
  run(): Promise<{ ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> }>;
}

export function createHealthRegistry(): HealthRegistry {
  const checks = new Map<string, HealthCheck>();
  return {
    add(name, check) {
      checks.set(name, check);
      return () => checks.delete(name);
    },
    async run() {
      const out: Record<string, { ok: boolean; detail?: string }> = {};
      let ok = true;
      for (const [name, check] of checks) {
        try {
          out[name] = await check();
        } catch (err) {
          out[name] = { ok: false, detail: (err as Error).message };
        }
        if (!out[name]?.ok) ok = false;
      }
      return { ok, checks: out };
    },
  };
}
