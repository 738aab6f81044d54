/**
 * The newer real samples (2025–2026) not covered by each parser's own tests, with figures read off
 * the samples themselves (see test/fixtures/hkex/SOURCES.md).
 */
import { describe, expect, it } from 'vitest';
import { rowValidators } from '../../../contracts/index.ts';
import { readFixture, readFixtureBytes } from '../../../test/support/hkex-fixtures.ts';
import { parseQuote } from './quote.ts';
import { parseSecuritiesList } from './securities-list.ts';

describe('quote widget, English, 2026 (00653 BONJOUR HOLD, JSONP as the browser received it)', () => {
  const row = parseQuote(readFixture('quote', '00653-2026-01-26-eng-getequityquote.from-capture-json.jsonp'));

  it('reads the prices, the open included (op 0.129), and the M units', () => {
    expect(row).toMatchObject({
      code: '00653',
      as_of: '2026-01-26', // updatetime "26 Jan 2026 16:08"
      last: 0.132,
      prev_close: 0.127,
      open: 0.129,
      high: 0.139,
      low: 0.124,
      volume: 18_070_000, // vo 18.07 M
      turnover: 2_370_000, // am 2.37 M
      market_cap: 221_800_000, // mkt_cap 221.80 M
      issued_shares: 1_680_306_637,
    });
  });

  it('keeps eps as the number 0 and empty P/E and dividend yield as null', () => {
    expect(row).toMatchObject({ eps: 0, eps_currency: 'HKD', pe: null, dividend_yield: null });
    expect(rowValidators.fundamentals.problems(row)).toEqual([]);
  });
});

describe('List of Securities as at 31/12/2025 (18 columns, the current layout)', () => {
  it('reads 17,157 securities with the as-at date', { timeout: 60_000 }, async () => {
    const { asOf, rows } = await parseSecuritiesList(
      readFixtureBytes('securities-list', 'ListOfSecurities-2025-12-31.xlsx'),
    );
    expect(asOf).toBe('2025-12-31');
    expect(rows).toHaveLength(17_157);
    expect(rows[0]).toEqual({
      code: '00001',
      name: 'CKH HOLDINGS',
      category: 'Equity',
      sub_category: 'Equity Securities (Main Board)',
      board_lot: 500,
      isin: 'KYG217651051',
      currency: 'HKD',
    });
    expect(rows.at(-1)).toMatchObject({ code: '89988', name: 'BABA-WR', board_lot: 100, currency: 'RMB' });
    expect(new Set(rows.map((r) => r.code)).size).toBe(17_157);
    for (const r of rows.slice(0, 200)) expect(rowValidators.securities.problems(r)).toEqual([]);
  });
});
