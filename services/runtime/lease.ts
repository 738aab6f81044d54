import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';

/**
 * Lease in a KV bucket (the scheduler's leader, a compactor's dataset): one key holds
 * `{ owner, until }`. Taking or renewing it is a compare-and-set on the key's revision, so two
 * processes can never both hold it for the same revision. A lease that is not renewed lapses after
 * `ttlMs` and anyone may take it; the same owner (e.g. a restarted process with a stable name)
 * takes it back at once. `until` is the holder's clock: hosts need clocks in step to well under `ttlMs`.
 */
export interface Lease {
  /**
   * Takes or renews the lease: true when this owner holds it afterwards, false when another owner
   * does (or won the compare-and-set). Throws when the bucket cannot be reached: then nobody can
   * take the lease either, and the caller decides (a holder keeps working, see the compactor).
   */
  tryAcquire(now: number): Promise<boolean>;
  release(): Promise<void>;
}

/** JetStream's answer to a compare-and-set on a stale revision. */
const isWrongLastSequence = (err: unknown) => err instanceof JetStreamApiError && err.code === 10071;

interface Holder {
  owner: string;
  until: number;
}

export function createLease(kv: KV, key: string, owner: string, ttlMs: number): Lease {
  const encode = (h: Holder) => JSON.stringify(h);
  return {
    async tryAcquire(now) {
      const entry = await kv.get(key);
      const next = encode({ owner, until: now + ttlMs });
      try {
        if (entry?.operation !== 'PUT') {
          if (entry) await kv.update(key, next, entry.revision);
          else await kv.create(key, next);
          return true;
        }
        const holder = entry.json<Holder>();
        if (holder.owner !== owner && holder.until > now) return false;
        await kv.update(key, next, entry.revision);
        return true;
      } catch (err) {
        // Lost a compare-and-set race: someone else wrote first. Anything else is "unreachable".
        if (isWrongLastSequence(err)) return false;
        throw err;
      }
    },
    async release() {
      const entry = await kv.get(key);
      if (entry?.operation === 'PUT' && entry.json<Holder>().owner === owner) {
        await kv.update(key, encode({ owner, until: 0 }), entry.revision).catch(() => {});
      }
    },
  };
}
