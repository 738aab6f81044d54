/**
 * Fault switches and request counters of the fixture site. Each counted fault applies to the next N
 * matching requests (optionally only those whose path starts with `pathPrefix`), then switches
 * itself off. Control endpoints (`/__faults`, `/__stats`) are never faulted or counted.
 */

export interface CountedFault {
  /** Requests still to affect; Infinity = until reset. */
  count: number;
  pathPrefix?: string;
}

export interface FaultState {
  status5xx?: CountedFault & { status: number };
  slow?: CountedFault & { ms: number };
  reset?: CountedFault;
  maintenance?: CountedFault;
  truncate?: CountedFault & { keepRatio: number };
}

/**
 * What `set()` and `POST /__faults` accept (merged into the current state; a key set to
 * `false`/`null`/0 clears that fault):
 * - `{ status5xx: { count: 2, status: 503 } }` — next 2 requests answer 503;
 * - `{ slowMs: 2000, count: 3 }` — delay the next 3 answers by 2 s (no count = until reset);
 * - `{ reset: 2 }` or `{ reset: { count: 2 } }` — destroy the socket of the next 2 requests;
 * - `{ maintenance: true }` (or a count) — CCASS search answers with the maintenance page;
 * - `{ truncate: true }` (or a count, `truncateKeep: 0.3`) — CCASS result pages cut short;
 * - `pathPrefix: '/sdw/'` at top level (or inside an object form) limits the faults set in that call.
 */
export interface FaultInput {
  status5xx?: { count?: number; status?: number; pathPrefix?: string } | false | null;
  slowMs?: number | false | null;
  count?: number;
  reset?: number | { count?: number; pathPrefix?: string } | false | null;
  maintenance?: boolean | number | { count?: number; pathPrefix?: string } | null;
  truncate?: boolean | number | { count?: number; pathPrefix?: string; keep?: number } | null;
  truncateKeep?: number;
  pathPrefix?: string;
}

export type FaultKind = keyof FaultState;

function countOf(v: unknown, fallback = Number.POSITIVE_INFINITY): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.max(0, Math.floor(v));
  return fallback;
}

export class FaultSwitches {
  private state: FaultState = {};
  /** How many times each fault fired. */
  readonly fired: Record<FaultKind, number> = {
    status5xx: 0,
    slow: 0,
    reset: 0,
    maintenance: 0,
    truncate: 0,
  };

  /** Merges faults into the current state (see {@link FaultInput}). */
  set(input: FaultInput): FaultState {
    if (typeof input !== 'object' || input === null) throw new TypeError('faults: expected an object');
    const top = input.pathPrefix;
    const withPrefix = <T extends CountedFault>(f: T, own?: string): T => {
      const p = own ?? top;
      return p ? { ...f, pathPrefix: p } : f;
    };
    if ('status5xx' in input) {
      const v = input.status5xx;
      if (!v) delete this.state.status5xx;
      else {
        const status = v.status ?? 503;
        if (!Number.isInteger(status) || status < 400 || status > 599)
          throw new RangeError('faults: bad status');
        const count = countOf(v.count, 1);
        if (count === 0) delete this.state.status5xx;
        else this.state.status5xx = withPrefix({ count, status }, v.pathPrefix);
      }
    }
    if ('slowMs' in input) {
      const ms = input.slowMs;
      if (!ms) delete this.state.slow;
      else {
        if (typeof ms !== 'number' || ms < 0) throw new RangeError('faults: bad slowMs');
        this.state.slow = withPrefix({ ms, count: countOf(input.count) });
      }
    }
    if ('reset' in input) {
      const v = input.reset;
      if (!v) delete this.state.reset;
      else if (typeof v === 'number') this.state.reset = withPrefix({ count: countOf(v) });
      else this.state.reset = withPrefix({ count: countOf(v.count, 1) }, v.pathPrefix);
    }
    if ('maintenance' in input) {
      const v = input.maintenance;
      if (!v) delete this.state.maintenance;
      else if (v === true) this.state.maintenance = withPrefix({ count: Number.POSITIVE_INFINITY });
      else if (typeof v === 'number') this.state.maintenance = withPrefix({ count: countOf(v) });
      else this.state.maintenance = withPrefix({ count: countOf(v.count) }, v.pathPrefix);
    }
    if ('truncate' in input) {
      const v = input.truncate;
      const keepRatio = Math.min(0.95, Math.max(0, input.truncateKeep ?? 0.3));
      if (!v) delete this.state.truncate;
      else if (v === true) this.state.truncate = withPrefix({ count: Number.POSITIVE_INFINITY, keepRatio });
      else if (typeof v === 'number') this.state.truncate = withPrefix({ count: countOf(v), keepRatio });
      else
        this.state.truncate = withPrefix(
          { count: countOf(v.count), keepRatio: Math.min(0.95, Math.max(0, v.keep ?? keepRatio)) },
          v.pathPrefix,
        );
    }
    return this.get();
  }

  /** Clears every fault (and the fired counters). */
  reset(): void {
    this.state = {};
    for (const k of Object.keys(this.fired) as FaultKind[]) this.fired[k] = 0;
  }

  /** A copy of the current state (Infinity counts shown as null in JSON). */
  get(): FaultState {
    return structuredClone(this.state);
  }

  /** If fault `kind` applies to `path`, consumes one use and returns it. */
  take<K extends FaultKind>(kind: K, path: string): NonNullable<FaultState[K]> | undefined {
    const f = this.state[kind];
    if (!f || f.count <= 0) return undefined;
    if (f.pathPrefix && !path.startsWith(f.pathPrefix)) return undefined;
    const used = { ...f } as NonNullable<FaultState[K]>;
    f.count -= 1;
    if (f.count <= 0) delete this.state[kind];
    this.fired[kind] += 1;
    return used;
  }

  /** JSON view for `GET /__faults`. */
  toJSON(): unknown {
    return {
      active: JSON.parse(JSON.stringify(this.state, (_k, v) => (v === Infinity ? null : v))),
      fired: this.fired,
    };
  }
}

/** Requests counted per path and per `METHOD path`. */
export class RequestStats {
  total = 0;
  readonly paths: Record<string, number> = {};
  readonly requests: Record<string, number> = {};

  count(method: string, path: string): void {
    this.total += 1;
    this.paths[path] = (this.paths[path] ?? 0) + 1;
    const k = `${method} ${path}`;
    this.requests[k] = (this.requests[k] ?? 0) + 1;
  }

  /** Requests for one path (all methods). */
  of(path: string, method?: string): number {
    return method ? (this.requests[`${method} ${path}`] ?? 0) : (this.paths[path] ?? 0);
  }

  reset(): void {
    this.total = 0;
    for (const k of Object.keys(this.paths)) delete this.paths[k];
    for (const k of Object.keys(this.requests)) delete this.requests[k];
  }

  toJSON(): unknown {
    return { total: this.total, paths: { ...this.paths }, requests: { ...this.requests } };
  }
}
