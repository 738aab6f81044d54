/**
 * Daily prices: a deterministic random walk per stock over trading days, in thousandths (milli) of
 * the currency unit rounded to the HKEX spread table, so day N's previous close is exactly day N−1's
 * close. Suspended, halted and no-trade days carry the close forward.
 */
import { tradingDayAt, tradingDayIndex } from './calendar.ts';
import { normal, strKey, u01 } from './rng.ts';
import type { Stock } from './universe.ts';

export type DayStatus = 'traded' | 'no_trade' | 'suspended' | 'halted';

/** One stock on one trading day; prices in milli, null when the report prints `-`. */
export interface DayQuote {
  code: string;
  date: string;
  status: DayStatus;
  /** Previous trading day (null on the epoch). */
  prevDate: string | null;
  prevClose: number;
  close: number;
  open: number | null;
  high: number | null;
  low: number | null;
  ask: number | null;
  bid: number | null;
  volume: number | null;
  turnover: number | null;
}

/** Spread-table tick at a price (both in milli). */
export function tickOf(priceMilli: number): number {
  if (priceMilli < 250) return 1;
  if (priceMilli < 500) return 5;
  if (priceMilli < 10_000) return 10;
  if (priceMilli < 20_000) return 20;
  if (priceMilli < 100_000) return 50;
  if (priceMilli < 200_000) return 100;
  if (priceMilli < 500_000) return 200;
  if (priceMilli < 1_000_000) return 500;
  if (priceMilli < 2_000_000) return 1000;
  if (priceMilli < 5_000_000) return 2000;
  return 5000;
}

export function roundTick(priceMilli: number, mode: 'round' | 'up' | 'down' = 'round'): number {
  const p = Math.max(10, priceMilli);
  const t = tickOf(p);
  const f = mode === 'up' ? Math.ceil : mode === 'down' ? Math.floor : Math.round;
  return Math.max(10, f(p / t) * t);
}

const K_RET = strKey('ret');
const MEAN_REVERSION = 0.004;
const K_SUSP = strKey('susp');
const K_HALT = strKey('halt');
const K_NT = strKey('notrade');
const K_OHLC = strKey('ohlc');

interface Walk {
  close: number[];
  status: DayStatus[];
}

export class Market {
  private readonly walks = new Map<string, Walk>();
  private readonly byCode: Map<string, Stock>;

  constructor(
    readonly universe: readonly Stock[],
    readonly seed: number,
  ) {
    this.byCode = new Map(universe.map((s) => [s.code, s]));
  }

  stock(code: string): Stock | undefined {
    return this.byCode.get(code);
  }

  /** Status of a stock on trading day `i` (pure function of seed, stock, day). */
  private statusAt(s: Stock, i: number): DayStatus {
    if (s.fixed || i === 0) return 'traded';
    if (s.suspendProne && u01(this.seed, s.key, K_SUSP, Math.floor(i / 15)) < 0.35) return 'suspended';
    if (u01(this.seed, s.key, K_HALT, i) < 0.004) return 'halted';
    if (u01(this.seed, s.key, K_NT, i) < s.noTradeProb) return 'no_trade';
    return 'traded';
  }

  private walk(s: Stock, upTo: number): Walk {
    let w = this.walks.get(s.code);
    if (!w) {
      w = { close: [roundTick(s.basePriceMilli)], status: ['traded'] };
      this.walks.set(s.code, w);
    }
    for (let i = w.close.length; i <= upTo; i++) {
      const prev = w.close[i - 1]!;
      const st = this.statusAt(s, i);
      w.status.push(st);
      if (st === 'traded') {
        // weakly mean-reverting log walk, so prices stay in a plausible band over the years
        const pull = MEAN_REVERSION * Math.log(prev / s.basePriceMilli);
        const r = s.sigma * normal(this.seed, s.key, K_RET, i) - pull;
        w.close.push(roundTick(prev * Math.exp(r)));
      } else {
        w.close.push(prev);
      }
    }
    return w;
  }

  /** The stock on a trading day; undefined for unknown stocks and non-trading days. */
  day(code: string, date: string): DayQuote | undefined {
    const s = this.byCode.get(code);
    const i = tradingDayIndex(date);
    if (!s || i === undefined) return undefined;
    const w = this.walk(s, i);
    const status = w.status[i]!;
    const close = w.close[i]!;
    const prevClose = i === 0 ? roundTick(s.basePriceMilli) : w.close[i - 1]!;
    const base: DayQuote = {
      code,
      date,
      status,
      prevDate: i === 0 ? null : (tradingDayAt(i - 1) ?? null),
      prevClose,
      close,
      open: null,
      high: null,
      low: null,
      ask: null,
      bid: null,
      volume: null,
      turnover: null,
    };
    const h = (...k: number[]) => u01(this.seed, s.key, K_OHLC, i, ...k);
    const n = (...k: number[]) => normal(this.seed, s.key, K_OHLC, i, ...k);
    if (status === 'suspended' || status === 'halted') return base;
    if (status === 'no_trade') {
      const t = tickOf(close);
      return {
        ...base,
        bid: h(1) < 0.6 ? Math.max(10, close - t * (1 + Math.floor(h(2) * 3))) : null,
        ask: h(3) < 0.6 ? close + t * (1 + Math.floor(h(4) * 3)) : null,
      };
    }
    const open = roundTick(prevClose * Math.exp((s.sigma / 2) * n(5)));
    const hi = roundTick(Math.max(open, close) * (1 + Math.abs(n(6)) * (s.sigma / 3)), 'up');
    const loRaw = roundTick(Math.min(open, close) * (1 - Math.abs(n(7)) * (s.sigma / 3)), 'down');
    const lo = Math.min(loRaw, open, close);
    const high = Math.max(hi, open, close);
    const bid = h(8) < 0.5 ? Math.max(10, close - tickOf(close)) : close;
    const ask = bid + tickOf(bid);
    const vwap = (lo + (high - lo) * (0.3 + 0.4 * h(9))) / 1000;
    const lots = Math.max(
      1,
      Math.round((s.avgTurnover * Math.exp(0.45 * n(10))) / Math.max(vwap, 0.01) / s.boardLot),
    );
    const volume = lots * s.boardLot;
    const turnover = Math.max(1, Math.round(volume * vwap));
    return { ...base, open, high, low: lo, ask, bid, volume, turnover };
  }

  /** Close carried to a date (last close on or before it); undefined before the epoch. */
  lastClose(code: string, date: string): number | undefined {
    return this.day(code, date)?.close;
  }
}
