import { describe, expect, it } from 'vitest';
import { ErrorCodes, type FundamentalRow, rowValidators } from '../../../contracts/index.ts';
import { harbourErrorOf, readFixture } from '../../../test/support/hkex-fixtures.ts';
import { parseQuote, quoteDate } from './quote.ts';
import { parseOutcome } from './shared.ts';

const BODY = readFixture('quote', '00700-2018-06-08-zh-getequityquote.from-code-comment.json');

const EXPECTED: FundamentalRow = {
  code: '00700',
  as_of: '2018-06-08',
  last: 415,
  prev_close: 429.2,
  open: 426.6,
  high: 426.6,
  low: 412.6,
  volume: 28_930_000,
  turnover: 12_080_000_000,
  eps: 7.5986,
  eps_currency: 'RMB',
  pe: 44.1,
  dividend_yield: 0.21,
  market_cap: 3_944_190_000_000,
  issued_shares: 9_504_093_926,
};

/** The fixture with some quote fields replaced. */
function withQuote(patch: Record<string, unknown>, dataPatch: Record<string, unknown> = {}): string {
  const doc = JSON.parse(BODY);
  Object.assign(doc.data.quote, patch);
  Object.assign(doc.data, dataPatch);
  return JSON.stringify(doc);
}

describe('parseQuote', () => {
  it('reads the 00700 fixture exactly (M/B units multiplied out, Chinese date)', () => {
    const row = parseQuote(BODY);
    expect(row).toEqual(EXPECTED);
    expect(rowValidators.fundamentals.problems(row)).toEqual([]);
  });

  it('accepts JSONP wrappers', () => {
    const compact = JSON.stringify(JSON.parse(BODY));
    expect(parseQuote(`callback(${compact})`)).toEqual(EXPECTED);
    expect(parseQuote(`jQuery35104479_1528572605481(${compact});\n`)).toEqual(EXPECTED);
    expect(parseQuote(`/**/ cb (${BODY}) ;`)).toEqual(EXPECTED);
  });

  it('multiplies K units and plain numbers exactly', () => {
    const row = parseQuote(
      withQuote({ vo: '1,234.5', vo_u: 'K', am: '0.07', am_u: 'M', mkt_cap: '1.1', mkt_cap_u: 'T' }),
    );
    expect(row.volume).toBe(1_234_500);
    expect(row.turnover).toBe(70_000);
    expect(row.market_cap).toBe(1_100_000_000_000);
    expect(parseQuote(withQuote({ vo: '512', vo_u: '' })).volume).toBe(512);
  });

  it('gives null for empty or dash values (e.g. a suspended stock)', () => {
    const row = parseQuote(
      withQuote({ ls: '', op: '-', vo: '', vo_u: '', pe: 'N/A', eps: null, eps_ccy: '' }),
    );
    expect(row).toMatchObject({
      last: null,
      open: null,
      volume: null,
      pe: null,
      eps: null,
      eps_currency: null,
    });
  });

  it('reads English and numeric update times', () => {
    expect(quoteDate('8 Jun 2018 16:08')).toBe('2018-06-08');
    expect(quoteDate('08 June 2018')).toBe('2018-06-08');
    expect(quoteDate('08/06/2018 16:08')).toBe('2018-06-08');
    expect(quoteDate('2018年6月8日16:08')).toBe('2018-06-08');
    expect(quoteDate('2018年2月30日')).toBeNull();
    expect(parseQuote(withQuote({ updatetime: '8 Jun 2018 16:08' })).as_of).toBe('2018-06-08');
  });

  it('refuses an unknown stock', () => {
    const err = harbourErrorOf(() =>
      parseQuote(withQuote({}, { responsecode: '003', responsemsg: 'Invalid symbol', quote: null })),
    );
    expect(err.code).toBe(ErrorCodes.ParseUnknownStock);
    expect(parseOutcome(err)).toBe('unknown_stock');
    expect(harbourErrorOf(() => parseQuote('{"data":{"responsecode":"000","quote":null}}')).code).toBe(
      ErrorCodes.ParseUnknownStock,
    );
  });

  it('classifies other error responses', () => {
    expect(
      harbourErrorOf(() =>
        parseQuote(withQuote({}, { responsecode: '999', responsemsg: 'System maintenance' })),
      ).code,
    ).toBe(ErrorCodes.ParseMaintenance);
    // an unknown code is its own retryable error, never "no data"
    const unknown = harbourErrorOf(() => parseQuote(withQuote({}, { responsecode: '100', responsemsg: '' })));
    expect(unknown.code).toBe(ErrorCodes.QuoteResponse);
    expect(parseOutcome(unknown)).toBe('error');
    // a message about the token: the caller reads a new token (checked before "invalid …" means an unknown stock)
    expect(
      harbourErrorOf(() =>
        parseQuote(withQuote({}, { responsecode: '005', responsemsg: 'Invalid token', quote: null })),
      ).code,
    ).toBe(ErrorCodes.QuoteToken);
  });

  it('reads the 2026 English capture (JSONP, updatetime "26 Jan 2026 16:08")', () => {
    const row = parseQuote(
      readFixture('quote', '00653-2026-01-26-eng-getequityquote.from-capture-json.jsonp'),
    );
    expect(row).toMatchObject({
      code: '00653',
      as_of: '2026-01-26',
      last: 0.132,
      prev_close: 0.127,
      open: 0.129,
      high: 0.139,
      low: 0.124,
      volume: 18_070_000,
      turnover: 2_370_000,
      eps: 0,
      eps_currency: 'HKD',
      pe: null,
      dividend_yield: null,
      market_cap: 221_800_000,
      issued_shares: 1_680_306_637,
    });
    expect(rowValidators.fundamentals.problems(row)).toEqual([]);
  });

  it('refuses what is not a quote answer', () => {
    expect(harbourErrorOf(() => parseQuote('<html>error</html>')).code).toBe(ErrorCodes.ParseLayout);
    expect(harbourErrorOf(() => parseQuote('{"qid":"1"}')).code).toBe(ErrorCodes.ParseLayout);
    expect(harbourErrorOf(() => parseQuote(withQuote({ pe: 'abc' }))).message).toMatch(
      /"pe" is not a number/,
    );
    expect(harbourErrorOf(() => parseQuote(withQuote({ vo_u: 'X' }))).code).toBe(ErrorCodes.ParseLayout);
    expect(harbourErrorOf(() => parseQuote(withQuote({ updatetime: '' }))).code).toBe(ErrorCodes.ParseLayout);
  });
});
