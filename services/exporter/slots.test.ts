import { describe, expect, it } from 'vitest';
import { ExportSlots, type SlotResult } from './slots.ts';

const granted = (r: SlotResult) => {
  if ('refused' in r) throw new Error(`refused: ${JSON.stringify(r.refused)}`);
  return r.release;
};

describe('ExportSlots', () => {
  it('gives a freed slot to the first waiter whose client is under its own limit', async () => {
    const slots = new ExportSlots(2, 1, 5_000);
    const a1 = granted(await slots.acquire('a'));
    const b1 = granted(await slots.acquire('b'));
    const order: string[] = [];
    // a waits for its own slot, c for any slot: when b's slot frees, c (not a) gets it.
    const noted = (client: string) => (r: SlotResult) => {
      order.push(client);
      return r;
    };
    const a2 = slots.acquire('a').then(noted('a'));
    const c1 = slots.acquire('c').then(noted('c'));
    b1();
    granted(await c1);
    expect(order).toEqual(['c']);
    expect(slots.runningFor('a')).toBe(1);
    a1();
    granted(await a2);
    expect(order).toEqual(['c', 'a']);
    expect(slots.running).toBe(2);
  });

  it('refuses after the wait, saying whose exports hold the slots', async () => {
    const slots = new ExportSlots(1, 1, 50);
    const a = granted(await slots.acquire('a'));
    expect(await slots.acquire('a')).toEqual({ refused: { reason: 'own', running: 1, own: 1 } });
    expect(await slots.acquire('b')).toEqual({ refused: { reason: 'others', running: 1, own: 0 } });
    a();
    a(); // releasing twice frees one slot only
    expect(slots.running).toBe(0);
    granted(await slots.acquire('b'));
  });

  it('stops waiting when the client goes away', async () => {
    const slots = new ExportSlots(1, 1, 60_000);
    granted(await slots.acquire('a'));
    const gone = new AbortController();
    const waiting = slots.acquire('b', gone.signal);
    gone.abort();
    expect(await waiting).toMatchObject({ refused: { reason: 'others' } });
  });
});
