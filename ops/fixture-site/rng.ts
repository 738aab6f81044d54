/**
 * Deterministic, order-independent randomness: every draw is a pure function of (seed, keys…), so a
 * page for one stock/date can be generated without replaying anything else.
 */
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';

/** 32-bit FNV-1a of a string, for turning codes and names into hash keys. */
export function strKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix(h: number, k: number): number {
  let x = Math.imul(k | 0, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  x = Math.imul(x, 0x1b873593);
  let y = h ^ x;
  y = (y << 13) | (y >>> 19);
  return (Math.imul(y, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Uniform in [0, 1) from integer keys (negative and fractional parts are folded into 32 bits). */
export function u01(...keys: number[]): number {
  let h = 0x9747b28c;
  for (const k of keys) {
    h = mix(h, k);
    // fold high bits of large integers (e.g. share counts) in too
    if (k > 0xffffffff || k < -0x80000000) h = mix(h, Math.floor(k / 0x100000000));
  }
  return fmix(h ^ keys.length) / 0x100000000;
}

/** Standard normal via Box–Muller from two keyed uniforms. */
export function normal(...keys: number[]): number {
  const a = u01(...keys, 0x51ed27);
  const b = u01(...keys, 0x2f1b3c);
  return Math.sqrt(-2 * Math.log(1 - a)) * Math.cos(2 * Math.PI * b);
}

/** Picks one element. */
export function pick<T>(arr: readonly T[], ...keys: number[]): T {
  if (arr.length === 0) throw new HarbourError(ErrorCodes.Internal, 'pick from empty array');
  return arr[Math.floor(u01(...keys) * arr.length)]!;
}

/** A seeded sequential generator, for building static tables (universe, participant lists) once. */
export class SeqRng {
  private n = 0;
  constructor(private readonly keys: number[]) {}
  next(): number {
    return u01(...this.keys, this.n++);
  }
  normal(): number {
    return normal(...this.keys, this.n++);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  shuffle<T>(arr: readonly T[]): T[] {
    const a = arr.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}
