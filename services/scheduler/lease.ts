import type { KV } from '@nats-io/kv';

/**
 * Leader lease in a KV bucket: one key holds `{ owner, until }`. Taking or renewing it is a
 * compare-and-set on the key's revision, so two schedulers can never both believe they lead
 * for the same revision. A lease that is not renewed lapses after `ttlMs` and anyone may take it.
 */
export interface Lease {
  /** Takes or renews the lease; true when this owner holds it afterwards. */
  tryAcquire(now: number): Promise<boolean>;
  release(): Promise<void>;
}

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
      } catch {
        // Lost a compare-and-set race: someone else wrote first.
        return false;
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
