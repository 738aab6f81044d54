/**
 * A synthetic HKEX market for benchmarks and scale tests, from a seeded PRNG: prices with no-trade
 * days, suspensions and listings during the period; fundamentals; the securities list; one CCASS page
 * per stock with ~`participants` holders drifting day to day plus the summary rows. Days must be
 * generated in order (prices carry over from one day to the next); the same options give the same data.
 */
import type { CcassRow, FundamentalRow, QuoteRow, SecurityRow } from '../../contracts/index.ts';

/** mulberry32: small, fast, deterministic; the seed of every synthetic data set in the tests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The `n` weekdays up to and including `end`, oldest first. */
export function tradingDays(n: number, end = '2026-10-30'): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${end}T00:00:00Z`); out.length < n; t -= 86_400_000) {
    const d = new Date(t);
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) out.push(d.toISOString().slice(0, 10));
  }
  return out.reverse();
}

export interface StockSim {
  code: string;
  name: string;
  price: number;
  sigma: number;
  lot: number;
  noTrade: number;
  listedFrom: number;
  suspendedAt: number;
  lastClose: number | null;
  /** The day's open as the quote widget shows it (the report has none): null on a day without trades. */
  dayOpen: number | null;
  eps: number;
  issued: number;
}

export interface MarketOptions {
  stocks: number;
  /** Trading days the period spans (listings and suspensions fall inside it). */
  days: number;
  /** Mean CCASS participants per stock (each stock ±20 %). */
  participants: number;
  seed?: number;
}

export interface Market {
  readonly stocks: readonly StockSim[];
  quotesOf(date: string, di: number): QuoteRow[];
  fundamentalsOf(date: string, di: number): FundamentalRow[];
  securitiesOf(di: number): SecurityRow[];
  /** CCASS pages of the first `count` stocks listed on day `di`. */
  ccassOf(date: string, di: number, count: number): { code: string; rows: CcassRow[] }[];
}

export function createMarket(opts: MarketOptions): Market {
  const rnd = mulberry32(opts.seed ?? 20261125);
  const stocks: StockSim[] = Array.from({ length: opts.stocks }, (_, i) => ({
    code: String(i + 1).padStart(5, '0'),
    name: `STOCK ${i + 1}`,
    price: Math.round((0.2 + rnd() ** 2 * 300) * 1000) / 1000,
    sigma: 0.01 + rnd() * 0.03,
    lot: [100, 200, 500, 1000, 2000][Math.floor(rnd() * 5)]!,
    noTrade: rnd() < 0.2 ? 0.3 : 0.02,
    // 2% list during the year, 1% have a suspension of 5–25 days
    listedFrom: rnd() < 0.02 ? Math.floor(rnd() * opts.days) : 0,
    suspendedAt: rnd() < 0.01 ? Math.floor(rnd() * opts.days) : -1,
    lastClose: null,
    dayOpen: null,
    eps: (rnd() - 0.2) * 5,
    issued: Math.round((1 + rnd() * 50) * 1e8),
  }));
  const PARTICIPANT_IDS = Array.from({ length: 1500 }, (_, i) => `C${String(i + 1).padStart(5, '0')}`);

  function quotesOf(date: string, di: number): QuoteRow[] {
    const rows: QuoteRow[] = [];
    for (const s of stocks) {
      s.dayOpen = null;
      if (di < s.listedFrom) continue;
      const base = {
        code: s.code,
        trade_date: date,
        board: 'main' as const,
        name: s.name,
        currency: 'HKD',
        flags: '',
        open: null,
        ask: null,
        bid: null,
      };
      if (s.suspendedAt >= 0 && di >= s.suspendedAt && di < s.suspendedAt + 5 + (Number(s.code) % 20)) {
        rows.push({
          ...base,
          status: 'suspended',
          prev_close: null,
          high: null,
          low: null,
          close: null,
          volume: null,
          turnover: null,
        });
        continue;
      }
      const prev = s.lastClose;
      if (prev !== null && rnd() < s.noTrade) {
        rows.push({
          ...base,
          status: 'no_trade',
          prev_close: prev,
          high: null,
          low: null,
          close: prev,
          volume: 0,
          turnover: 0,
        });
        continue;
      }
      const ref = prev ?? s.price;
      const close = Math.max(0.01, Math.round(ref * Math.exp(s.sigma * (rnd() * 2 - 1)) * 1000) / 1000);
      const high = Math.round(Math.max(close, ref) * (1 + rnd() * s.sigma) * 1000) / 1000;
      const low = Math.round(Math.min(close, ref) * (1 - rnd() * s.sigma) * 1000) / 1000;
      const volume = s.lot * Math.ceil(rnd() * 20_000);
      // Between the day's low and high, without drawing from the PRNG (the rest of the market stays as it was).
      s.dayOpen = Math.round((low + ((high - low) * ((Number(s.code) + di) % 10)) / 10) * 1000) / 1000;
      rows.push({
        ...base,
        status: 'traded',
        prev_close: prev,
        high,
        low,
        close,
        volume,
        turnover: Math.round((volume * (high + low)) / 2),
      });
      s.lastClose = close;
    }
    return rows;
  }

  function fundamentalsOf(date: string, di: number): FundamentalRow[] {
    return stocks
      .filter((s) => di >= s.listedFrom)
      .map((s) => {
        const last = s.lastClose ?? s.price;
        return {
          code: s.code,
          as_of: date,
          last,
          prev_close: null,
          open: s.dayOpen,
          high: null,
          low: null,
          volume: null,
          turnover: null,
          eps: Math.round(s.eps * 100) / 100,
          eps_currency: 'HKD',
          pe: s.eps > 0 ? Math.round((last / s.eps) * 100) / 100 : null,
          dividend_yield: Math.round(rnd() * 800) / 100,
          market_cap: rnd() < 0.1 ? null : Math.round(last * s.issued),
          issued_shares: s.issued,
        };
      });
  }

  function securitiesOf(di: number): SecurityRow[] {
    return stocks
      .filter((s) => di >= s.listedFrom)
      .map((s) => ({
        code: s.code,
        name: s.name,
        category: 'Equity',
        sub_category: 'Equity Securities (Main Board)',
        board_lot: s.lot,
        isin: null,
        currency: 'HKD',
      }));
  }

  /** One CCASS page per stock: ~`participants` rows drawn from a pool with day-to-day drift, plus summary rows. */
  function ccassOf(date: string, di: number, count: number): { code: string; rows: CcassRow[] }[] {
    const out: { code: string; rows: CcassRow[] }[] = [];
    for (const s of stocks.slice(0, count)) {
      if (di < s.listedFrom) continue;
      const r = mulberry32(Number(s.code) * 7919 + di);
      const k = Number(s.code);
      const rows: CcassRow[] = [];
      let inter = 0;
      let interN = 0;
      let cons = 0;
      let consN = 0;
      const n = Math.max(5, Math.round(opts.participants * (0.8 + 0.4 * mulberry32(k)())));
      for (let p = 0; p < n; p++) {
        if (r() < 0.03) continue; // a participant missing today
        const consenting = p >= n - 3;
        const holding =
          Math.round((s.issued * 0.6 * (1 / (p + 2)) ** 1.2 * (1 + 0.02 * (r() - 0.5))) / 10) * 10 + 1;
        const id = consenting ? null : PARTICIPANT_IDS[(p * 37 + k) % PARTICIPANT_IDS.length]!;
        if (consenting) {
          cons += holding;
          consN++;
        } else {
          inter += holding;
          interN++;
        }
        rows.push({
          code: s.code,
          holding_date: date,
          row_type: 'participant',
          participant_id: id,
          participant_name: consenting ? `INVESTOR ${k}-${p}` : `BROKER ${id}`,
          address: consenting ? null : `${id} QUEEN'S ROAD`,
          shareholding: holding,
          pct_issued: Math.round((holding / s.issued) * 10000) / 100,
          participants: null,
        });
      }
      const summary = (
        row_type: CcassRow['row_type'],
        shareholding: number,
        participants: number | null,
      ): CcassRow => ({
        code: s.code,
        holding_date: date,
        row_type,
        participant_id: null,
        participant_name: null,
        address: null,
        shareholding,
        pct_issued: row_type === 'issued_shares' ? null : Math.round((shareholding / s.issued) * 10000) / 100,
        participants,
      });
      const nonCons = Math.round(s.issued * 0.05);
      rows.push(
        summary('intermediaries', inter, interN),
        summary('consenting', cons, consN),
        summary('non_consenting', nonCons, 1000 + (k % 500)),
        summary('total', inter + cons + nonCons, interN + consN + 1000 + (k % 500)),
        summary('issued_shares', s.issued, null),
      );
      out.push({ code: s.code, rows });
    }
    return out;
  }

  return { stocks, quotesOf, fundamentalsOf, securitiesOf, ccassOf };
}
