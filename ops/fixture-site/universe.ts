/**
 * The fixture market's universe: five fixed well-known stocks plus generated others picked (by seed)
 * from real Main Board equities that appear in both the 2019 CCASS stock list and the 2021 List of
 * Securities, so names, lots and ISINs are real. Each stock also carries the generator parameters.
 */
import { SeqRng, strKey } from './rng.ts';
import type { Samples, SecuritySample } from './samples.ts';

export interface Stock {
  code: string;
  /** Short name (List of Securities, CCASS stock list JSON, quotations). */
  name: string;
  /** Long name (CCASS search page). */
  longName: string;
  currency: 'HKD' | 'RMB' | 'USD';
  /** Board: GEM stocks (codes 08xxx) are in the GEM report `GEM/e_GYYMMDD.htm`, not in `dYYMMDDe.htm`. */
  board: 'main' | 'gem';
  /** Securities-list row (text cells as in the workbook). */
  security: SecuritySample;
  boardLot: number;
  issuedShares: number;
  /** Marker printed beside the code in the quotations report. */
  marker: '' | '*' | '#';
  /** Price at the epoch, in thousandths of the currency unit. */
  basePriceMilli: number;
  /** Daily log-return standard deviation. */
  sigma: number;
  /** Typical daily turnover in currency units. */
  avgTurnover: number;
  noTradeProb: number;
  suspendProne: boolean;
  fixed: boolean;
  /** Earnings per share in HKD, dividend yield in %, EPS currency shown by the quote widget. */
  epsHkd: number;
  divYield: number;
  epsCcy: 'HKD' | 'RMB' | 'USD';
  ccass: {
    intermediaries: number;
    consenting: number;
    nonConsentingCount: number;
    /** Fraction of issued shares held in CCASS by intermediaries. */
    ratio: number;
    nonConsentingFrac: number;
  };
  /** Numeric hash key of the code. */
  key: number;
}

interface FixedSpec {
  code: string;
  name: string;
  longName: string;
  issued: number;
  price: number;
  sigma: number;
  turnover: number;
  marker: '' | '*' | '#';
  pe: number;
  divYield: number;
  epsCcy: 'HKD' | 'RMB' | 'USD';
  ccass: Stock['ccass'];
  security: Partial<SecuritySample>;
}

const FIXED: FixedSpec[] = [
  {
    code: '00001',
    name: 'CKH HOLDINGS',
    longName: 'CK HUTCHISON HOLDINGS LIMITED',
    issued: 3_856_240_500,
    price: 98.5,
    sigma: 0.014,
    turnover: 8e8,
    marker: '*',
    pe: 9.5,
    divYield: 3.4,
    epsCcy: 'HKD',
    ccass: {
      intermediaries: 380,
      consenting: 14,
      nonConsentingCount: 1900,
      ratio: 0.52,
      nonConsentingFrac: 0.004,
    },
    security: { boardLot: '500', parValue: 'HKD 1.0000', isin: 'KYG217651051' },
  },
  {
    code: '00005',
    name: 'HSBC HOLDINGS',
    longName: 'HSBC HOLDINGS PLC',
    issued: 20_206_076_794,
    price: 80.2,
    sigma: 0.012,
    turnover: 2.5e9,
    marker: '*',
    pe: 12.1,
    divYield: 5.1,
    epsCcy: 'USD',
    ccass: {
      intermediaries: 430,
      consenting: 25,
      nonConsentingCount: 2600,
      ratio: 0.33,
      nonConsentingFrac: 0.006,
    },
    security: { boardLot: '400', parValue: 'USD 0.5000', isin: 'GB0005405286' },
  },
  {
    code: '00388',
    name: 'HKEX',
    longName: 'HONG KONG EXCHANGES AND CLEARING LIMITED',
    issued: 1_267_783_137,
    price: 245.0,
    sigma: 0.017,
    turnover: 2e9,
    marker: '*',
    pe: 33.0,
    divYield: 2.6,
    epsCcy: 'HKD',
    ccass: {
      intermediaries: 350,
      consenting: 10,
      nonConsentingCount: 900,
      ratio: 0.86,
      nonConsentingFrac: 0.002,
    },
    security: { boardLot: '100', isin: 'HK0388045442' },
  },
  {
    code: '00700',
    name: 'TENCENT',
    longName: 'TENCENT HOLDINGS LIMITED',
    issued: 9_553_315_311,
    price: 405.0,
    sigma: 0.018,
    turnover: 8e9,
    marker: '*',
    pe: 44.1,
    divYield: 0.21,
    epsCcy: 'RMB',
    ccass: {
      intermediaries: 540,
      consenting: 4,
      nonConsentingCount: 380,
      ratio: 0.69,
      nonConsentingFrac: 0.00037,
    },
    security: { boardLot: '100', parValue: 'HKD 0.00002', isin: 'KYG875721634' },
  },
  {
    code: '02800',
    name: 'TRACKER FUND',
    longName: 'TRACKER FUND OF HONG KONG',
    issued: 5_182_500_000,
    price: 31.5,
    sigma: 0.01,
    turnover: 1.5e9,
    marker: '',
    pe: 11.0,
    divYield: 3.0,
    epsCcy: 'HKD',
    ccass: {
      intermediaries: 210,
      consenting: 20,
      nonConsentingCount: 1200,
      ratio: 0.92,
      nonConsentingFrac: 0.01,
    },
    security: {
      category: 'Exchange Traded Products',
      subCategory: 'Exchange Traded Funds',
      boardLot: '500',
      isin: 'HK2800008867',
      etfManager: 'State Street Global Advisors Asia Limited',
      spread: '5 ',
    },
  },
];

/** Codes always in the universe. */
export const FIXED_CODES = FIXED.map((f) => f.code);

/** Per HKD, the rates the widget uses to show EPS in other currencies. */
export const FX_PER_HKD = { HKD: 1, RMB: 0.92, USD: 0.128 } as const;

function defaultSecurity(code: string, name: string): SecuritySample {
  return {
    code,
    name,
    category: 'Equity',
    subCategory: 'Equity Securities (Main Board)',
    boardLot: '1,000',
    parValue: ' ',
    isin: '            ',
    expiry: '',
    stampDuty: 'Y',
    shortsell: 'Y',
    cas: 'Y',
    vcm: 'Y',
    options: 'Y',
    futures: 'Y',
    ccass: 'Y',
    etfManager: '',
    debtLot: '',
    debtInvestor: '',
    pos: 'Y',
    spread: '1 ',
  };
}

function lotOf(s: string): number {
  const n = Number(s.replace(/,/g, '').trim());
  return Number.isFinite(n) && n > 0 ? n : 1000;
}

/** Builds the universe: `stocks` entries (at least the five fixed ones), sorted by code. */
export function buildUniverse(samples: Samples, seed: number, stocks: number): Stock[] {
  const out: Stock[] = [];
  for (const f of FIXED) {
    const real = samples.securities.get(f.code);
    const security: SecuritySample = { ...defaultSecurity(f.code, f.name), ...(real ?? {}), ...f.security };
    security.name = f.name;
    const priceMilli = Math.round(f.price * 1000);
    out.push({
      code: f.code,
      name: f.name,
      longName: f.longName,
      currency: 'HKD',
      board: 'main',
      security,
      boardLot: lotOf(security.boardLot),
      issuedShares: f.issued,
      marker: f.marker,
      basePriceMilli: priceMilli,
      sigma: f.sigma,
      avgTurnover: f.turnover,
      noTradeProb: 0,
      suspendProne: false,
      fixed: true,
      epsHkd: Math.round((f.price / f.pe) * 10000) / 10000,
      divYield: f.divYield,
      epsCcy: f.epsCcy,
      ccass: f.ccass,
      key: strKey(f.code),
    });
  }

  const want = Math.max(0, stocks - FIXED.length);
  if (want > 0) {
    const candidates = [...samples.securities.values()]
      .filter(
        (s) =>
          s.category === 'Equity' &&
          s.subCategory === 'Equity Securities (Main Board)' &&
          Number(s.code) < 10000 &&
          !FIXED_CODES.includes(s.code) &&
          samples.longNames.has(s.code) &&
          /^[\x20-\x7e]+$/.test(s.name),
      )
      .sort((a, b) => a.code.localeCompare(b.code));
    const rng = new SeqRng([seed, strKey('universe')]);
    const chosen = rng.shuffle(candidates).slice(0, want);
    // one RMB counter for currency variety, when there is room and the sample has it
    const rmb = samples.securities.get('80737');
    if (rmb && want >= 5 && chosen.length === want) chosen[chosen.length - 1] = rmb;
    // and one GEM stock (08xxx, real name and lot from the sample) so both quotations reports have
    // rows; with only the five fixed stocks the GEM report has none (the real one always has some)
    const gem = [...samples.securities.values()]
      .filter((s) => s.subCategory === 'Equity Securities (GEM)' && samples.longNames.has(s.code))
      .sort((a, b) => a.code.localeCompare(b.code));
    if (gem.length > 0 && chosen.length > 0) chosen[0] = gem[rng.int(0, gem.length - 1)]!;
    for (const s of chosen) {
      const r = new SeqRng([seed, strKey(s.code), strKey('params')]);
      const isRmb = s.code.startsWith('8');
      const illiquid = r.next() < 0.35;
      const price = Math.exp(Math.log(0.3) + r.next() * (Math.log(150) - Math.log(0.3)));
      const turnover = illiquid
        ? Math.exp(Math.log(2e5) + r.next() * (Math.log(5e6) - Math.log(2e5)))
        : Math.exp(Math.log(5e6) + r.next() * (Math.log(8e8) - Math.log(5e6)));
      const markerDraw = r.next();
      const intermediaries = illiquid ? r.int(15, 60) : r.int(40, 220);
      const issued =
        Math.round(Math.exp(Math.log(3e8) + r.next() * (Math.log(2e10) - Math.log(3e8))) / 1000) * 1000;
      const pe = 4 + r.next() * 30;
      out.push({
        code: s.code,
        name: s.name,
        longName: samples.longNames.get(s.code) ?? s.name,
        currency: isRmb ? 'RMB' : 'HKD',
        board: s.subCategory === 'Equity Securities (GEM)' ? 'gem' : 'main',
        security: { ...s },
        boardLot: lotOf(s.boardLot),
        issuedShares: issued,
        marker: markerDraw < 0.12 ? '*' : markerDraw < 0.2 ? '#' : '',
        basePriceMilli: Math.max(10, Math.round(price * 1000)),
        sigma: 0.015 + r.next() * 0.025,
        avgTurnover: turnover,
        noTradeProb: illiquid ? 0.05 + r.next() * 0.3 : 0.01,
        suspendProne: r.next() < 0.15,
        fixed: false,
        epsHkd: Math.round((price / pe) * 10000) / 10000,
        divYield: Math.round(r.next() * 700) / 100,
        epsCcy: isRmb ? 'RMB' : 'HKD',
        ccass: {
          intermediaries,
          consenting: r.int(0, illiquid ? 4 : 12),
          nonConsentingCount: r.int(5, illiquid ? 120 : 600),
          ratio: 0.3 + r.next() * 0.6,
          nonConsentingFrac: 0.0005 + r.next() * 0.01,
        },
        key: strKey(s.code),
      });
    }
  }
  return out.sort((a, b) => a.code.localeCompare(b.code));
}
