/**
 * CCASS holdings model. Each stock has a fixed set of candidate participants (real CCASS participant
 * names/addresses from the 00700 sample; consenting investors generated). A participant's holding
 * changes only on its "event" days (core custodians nearly daily, small brokers rarely), following a
 * smooth random level, and marginal participants enter and leave in blocks of days. Everything is a
 * pure function of (seed, stock, participant, trading-day index), so any date can be generated
 * alone and consecutive days differ plausibly. 00700 is anchored so that on the sample date the
 * model equals the real page.
 */
import { tradingDayIndex } from './calendar.ts';
import { normal, SeqRng, strKey, u01 } from './rng.ts';
import { CCASS_SAMPLE, type Samples } from './samples.ts';
import type { Stock } from './universe.ts';

export interface CcassHolding {
  /** Null for consenting investor participants. */
  id: string | null;
  /** As printed; consenting investors end with ` *`. */
  name: string;
  address: string;
  shares: number;
  kind: 'intermediary' | 'consenting';
  /** Position in the stock's candidate list (stable tie-break). */
  order: number;
}

export interface CcassGroup {
  shares: number;
  count: number;
  /** Percent of issued shares in hundredths, truncated like the real site (6892 → `68.92%`). */
  pctHundredths: number;
}

export interface CcassSnapshot {
  code: string;
  date: string;
  longName: string;
  issued: number;
  /** Detail rows, shareholding descending. */
  rows: CcassHolding[];
  intermediaries: CcassGroup;
  consenting: CcassGroup;
  nonConsenting: CcassGroup;
  total: CcassGroup;
}

interface Candidate {
  id: string | null;
  name: string;
  address: string;
  base: number;
  kind: 'intermediary' | 'consenting';
  core: boolean;
  presence: number;
  eventProb: number;
  sigma: number;
  phase: number;
  blockLen: number;
  key: number;
}

interface StockModel {
  stock: Stock;
  candidates: Candidate[];
  ncCount: number;
  ncShares: number;
  anchor?: number;
}

const K_EV = strKey('event');
const K_LVL = strKey('level');
const K_JIT = strKey('jitter');
const K_BLK = strKey('block');
const K_NC = strKey('noncons');
const KNOT = 20;
const MAX_GAP = 30;

/** Truncated percent of issued shares in hundredths (exact, BigInt). */
export function pctHundredths(shares: number, issued: number): number {
  if (issued <= 0) return 0;
  return Number((BigInt(Math.round(shares)) * 10000n) / BigInt(issued));
}

export function formatPct(h: number): string {
  return `${Math.floor(h / 100)}.${String(h % 100).padStart(2, '0')}%`;
}

const SURNAMES = [
  'CHAN',
  'WONG',
  'LEE',
  'CHEUNG',
  'LAU',
  'NG',
  'HO',
  'LAM',
  'LEUNG',
  'TSANG',
  'YIP',
  'CHOI',
  'TANG',
  'KWOK',
  'FUNG',
  'CHOW',
  'MAK',
  'YEUNG',
  'SIU',
  'LO',
  'KO',
  'POON',
  'LUK',
  'TAM',
  'HUI',
  'CHU',
];
const GIVEN = [
  'TAI MAN',
  'SIU MING',
  'KA WAI',
  'WING KEUNG',
  'MEI LING',
  'CHI KEUNG',
  'YUK LAN',
  'KWOK WAH',
  'SUK FAN',
  'HOI YAN',
  'TSZ CHUN',
  'MAN KIT',
  'WAI SHAN',
  'KIN FAI',
  'PUI YEE',
  'CHUN HO',
  'LAI KUEN',
  'YAT SING',
];
const ESTATES = [
  'TAIKOO SHING',
  'MEI FOO SUN CHUEN',
  'CITY ONE SHATIN',
  'KORNHILL',
  'WHAMPOA GARDEN',
  'LAGUNA CITY',
  'SOUTH HORIZONS',
  'HENG FA CHUEN',
  'KINGSWOOD VILLAS',
  'BELVEDERE GARDEN',
  'TELFORD GARDENS',
];
const DISTRICTS = [
  'QUARRY BAY HONG KONG',
  'KOWLOON',
  'SHATIN NEW TERRITORIES',
  'TSUEN WAN NEW TERRITORIES',
  'AP LEI CHAU HONG KONG',
  'CHAI WAN HONG KONG',
  'TIN SHUI WAI NEW TERRITORIES',
  'KWUN TONG KOWLOON',
];

function consentingCandidates(stock: Stock, seed: number, count: number): Omit<Candidate, 'base'>[] {
  const r = new SeqRng([seed, stock.key, strKey('consenting')]);
  const used = new Set<string>();
  const out: Omit<Candidate, 'base'>[] = [];
  while (out.length < count) {
    const company = r.next() < 0.15;
    let name = company
      ? `${r.shuffle(SURNAMES)[0]} ${['INVESTMENT', 'HOLDINGS', 'ENTERPRISES', 'TRADING'][r.int(0, 3)]} LIMITED`
      : `${r.shuffle(SURNAMES)[0]} ${r.shuffle(GIVEN)[0]}`;
    if (used.has(name)) name = `${name} ${r.shuffle(GIVEN)[0]!.split(' ')[0]}`;
    if (used.has(name)) continue;
    used.add(name);
    const address = `FLAT ${'ABCDEFGH'[r.int(0, 7)]} ${r.int(1, 40)}/F BLOCK ${r.int(1, 9)} ${r.shuffle(ESTATES)[0]} ${r.shuffle(DISTRICTS)[0]}`;
    out.push({
      id: null,
      name: `${name} *`,
      address,
      kind: 'consenting',
      core: false,
      presence: 0.8 + r.next() * 0.18,
      eventProb: 0.02 + r.next() * 0.08,
      sigma: 0.3,
      phase: r.int(0, 59),
      blockLen: r.int(30, 80),
      key: strKey(name),
    });
  }
  return out;
}

function participantParams(rank: number, r: SeqRng) {
  const core = rank < 12;
  return {
    core,
    presence: core ? 1 : rank < 60 ? 0.97 : 0.85 + r.next() * 0.12,
    eventProb: rank < 12 ? 0.8 + r.next() * 0.2 : rank < 60 ? 0.3 + r.next() * 0.4 : 0.05 + r.next() * 0.25,
    sigma: rank < 12 ? 0.04 + r.next() * 0.04 : 0.1 + r.next() * 0.25,
    phase: r.int(0, 59),
    blockLen: r.int(20, 60),
  };
}

export class CcassModel {
  private readonly models = new Map<string, StockModel>();

  constructor(
    private readonly samples: Samples,
    private readonly seed: number,
  ) {}

  private model(stock: Stock): StockModel {
    const hit = this.models.get(stock.code);
    if (hit) return hit;
    const pool = this.samples.ccassParticipants.filter((p) => p.id !== '');
    const r = new SeqRng([this.seed, stock.key, strKey('ccass')]);
    let m: StockModel;
    if (stock.code === CCASS_SAMPLE.code) {
      const candidates = this.samples.ccassParticipants.map((p, rank): Candidate => {
        const consenting = p.id === '';
        const pp = participantParams(rank, r);
        return {
          id: consenting ? null : p.id,
          name: p.name,
          address: p.address,
          base: p.shares,
          kind: consenting ? 'consenting' : 'intermediary',
          ...pp,
          ...(consenting ? { core: false, eventProb: 0.05, sigma: 0.3 } : {}),
          key: strKey(p.id || p.name),
        };
      });
      m = {
        stock,
        candidates,
        ncCount: this.samples.ccassSummary.nonConsentingCount,
        ncShares: this.samples.ccassSummary.nonConsentingShares,
        anchor: tradingDayIndex(CCASS_SAMPLE.date),
      };
    } else {
      const c = stock.ccass;
      const n = Math.min(pool.length, Math.round(c.intermediaries * 1.12));
      const top = pool.slice(0, 8);
      const rest = r.shuffle(pool.slice(8)).slice(0, Math.max(0, n - top.length));
      const chosen = [...top, ...rest].sort((a, b) => pool.indexOf(a) - pool.indexOf(b));
      const weights = chosen.map((_, k) => Math.exp(0.6 * r.normal()) / (k + 1) ** 1.25);
      const wsum = weights.reduce((a, b) => a + b, 0);
      const miTotal = stock.issuedShares * c.ratio;
      const lot = stock.boardLot;
      const candidates: Candidate[] = chosen.map((p, rank) => {
        const raw = (miTotal * weights[rank]!) / wsum;
        const base = raw > lot * 1000 ? Math.round(raw) : Math.max(lot, Math.round(raw / lot) * lot);
        return {
          id: p.id,
          name: p.name,
          address: p.address,
          base,
          kind: 'intermediary',
          ...participantParams(rank, r),
          key: strKey(p.id),
        };
      });
      for (const cc of consentingCandidates(stock, this.seed, c.consenting)) {
        candidates.push({ ...cc, base: lot * Math.max(1, Math.round(Math.exp(r.normal() * 1.2) * 8)) });
      }
      m = {
        stock,
        candidates,
        ncCount: c.nonConsentingCount,
        ncShares: Math.round(stock.issuedShares * c.nonConsentingFrac),
      };
    }
    this.models.set(stock.code, m);
    return m;
  }

  private level(stockKey: number, pKey: number, e: number): number {
    const k0 = Math.floor(e / KNOT);
    const t = (e - k0 * KNOT) / KNOT;
    const z0 = normal(this.seed, stockKey, pKey, K_LVL, k0);
    const z1 = normal(this.seed, stockKey, pKey, K_LVL, k0 + 1);
    return (1 - t) * z0 + t * z1;
  }

  /** Latest event day ≤ i (at least one every MAX_GAP days, staggered per participant). */
  private lastEvent(stockKey: number, c: Candidate, i: number): number {
    for (let e = i; e > i - MAX_GAP; e--) {
      if ((e + c.phase) % MAX_GAP === 0 || u01(this.seed, stockKey, c.key, K_EV, e) < c.eventProb) return e;
    }
    return i - MAX_GAP + 1;
  }

  private multiplier(stockKey: number, c: Candidate, i: number): number {
    const e = this.lastEvent(stockKey, c, i);
    return Math.exp(
      c.sigma * this.level(stockKey, c.key, e) + 0.003 * normal(this.seed, stockKey, c.key, K_JIT, e),
    );
  }

  private present(stockKey: number, c: Candidate, i: number, anchor: number | undefined): boolean {
    if (c.core) return true;
    const block = Math.floor((i + c.phase) / c.blockLen);
    if (anchor !== undefined && block === Math.floor((anchor + c.phase) / c.blockLen)) return true;
    return u01(this.seed, stockKey, c.key, K_BLK, block) < c.presence;
  }

  /** Holdings on a trading day (undefined for non-trading days and out-of-range dates). */
  snapshot(stock: Stock, date: string): CcassSnapshot | undefined {
    const i = tradingDayIndex(date);
    if (i === undefined) return undefined;
    const m = this.model(stock);
    const sk = stock.key;
    const rows: CcassHolding[] = [];
    m.candidates.forEach((c, order) => {
      if (!this.present(sk, c, i, m.anchor)) return;
      let f = this.multiplier(sk, c, i);
      if (m.anchor !== undefined) f /= this.multiplier(sk, c, m.anchor);
      const shares = m.anchor === i ? c.base : Math.max(1, Math.round(c.base * f));
      rows.push({ id: c.id, name: c.name, address: c.address, shares, kind: c.kind, order });
    });
    // non-consenting aggregate
    const ncKey = strKey('nc');
    const ncLevel = (j: number) => this.level(sk, ncKey, j);
    let ncCount: number;
    let ncShares: number;
    if (m.anchor === i) {
      ncCount = m.ncCount;
      ncShares = m.ncShares;
    } else {
      const rel = m.anchor === undefined ? 0 : ncLevel(m.anchor);
      ncCount = Math.max(0, Math.round(m.ncCount * Math.exp(0.04 * (ncLevel(i) - rel))));
      ncShares =
        ncCount === 0
          ? 0
          : Math.max(
              ncCount,
              Math.round(
                m.ncShares * Math.exp(0.12 * (ncLevel(i) - rel) + 0.01 * normal(this.seed, sk, K_NC, i)),
              ),
            );
    }
    // keep the CCASS total below the issued shares
    const sum = rows.reduce((a, r) => a + r.shares, 0) + ncShares;
    if (sum > stock.issuedShares * 0.98) {
      const k = (stock.issuedShares * 0.95) / sum;
      for (const r of rows) r.shares = Math.max(1, Math.floor(r.shares * k));
      ncShares = Math.floor(ncShares * k);
    }
    rows.sort((a, b) => b.shares - a.shares || a.order - b.order);
    const group = (rs: CcassHolding[]): CcassGroup => {
      const shares = rs.reduce((a, r) => a + r.shares, 0);
      return { shares, count: rs.length, pctHundredths: pctHundredths(shares, stock.issuedShares) };
    };
    const intermediaries = group(rows.filter((r) => r.kind === 'intermediary'));
    const consenting = group(rows.filter((r) => r.kind === 'consenting'));
    const nonConsenting: CcassGroup = {
      shares: ncShares,
      count: ncCount,
      pctHundredths: pctHundredths(ncShares, stock.issuedShares),
    };
    const total: CcassGroup = {
      shares: intermediaries.shares + consenting.shares + nonConsenting.shares,
      count: intermediaries.count + consenting.count + nonConsenting.count,
      // the real site sums the truncated sub-group percentages
      pctHundredths: intermediaries.pctHundredths + consenting.pctHundredths + nonConsenting.pctHundredths,
    };
    return {
      code: stock.code,
      date,
      longName: stock.longName,
      issued: stock.issuedShares,
      rows,
      intermediaries,
      consenting,
      nonConsenting,
      total,
    };
  }
}
