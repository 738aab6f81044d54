/**
 * The newer real samples (2025–2026) not covered by each parser's own tests, with figures read off
 * the samples themselves (see test/fixtures/hkex/SOURCES.md).
 */
import { describe, expect, it } from 'vitest';
import { rowValidators } from '../../../contracts/index.ts';
import { readFixture } from '../../../test/support/hkex-fixtures.ts';
import { parseQuote } from './quote.ts';

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
