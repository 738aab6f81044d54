import { describe, expect, it } from 'vitest';
import { ErrorCodes, type QuoteRow, rowValidators } from '../../../contracts/index.ts';
import { harbourErrorOf } from '../../../test/support/hkex-fixtures.ts';
import { decodeLatin1, latin1Lines, parseQuotations, QuotationsStreamParser } from './quotations.ts';

/*
 * No whole real dYYMMDDe.htm exists among the samples; these reports are built from the excerpts in
 * shared/fixtures/hkex/QUOTATIONS-FORMAT.md (header, 669 TECHTRONIC IND and 1308 SITC lines verbatim).
 */
const RULE = '-'.repeat(79);

const HEADER_CUR = [
  ' CODE  NAME OF STOCK    CUR PRV.CLO./    ASK/    HIGH/      SHARES TRADED/',
  '                                CLOSING      BID     LOW        TURNOVER ($)',
];
const HEADER_OLD = [
  ' CODE  NAME OF STOCK    PRV.CLO./    ASK/    HIGH/      SHARES TRADED/',
  '                            CLOSING      BID     LOW        TURNOVER ($)',
];

const ROWS_CUR = [
  '   669 TECHTRONIC IND   HKD  130.00   132.00   133.00            6,222,546',
  '                             131.20   131.10   129.00          910,771,539',
  '  1308 SITC             HKD   33.00    33.70    34.00              511,000',
  '                              33.50    33.45    32.80           19,631,120',
  '  2475 LUXSHARE ICT     HKD TRADING SUSPENDED',
  '     8 PCCW             HKD    4.50     4.52        -                    0',
  '                               4.50     4.48        -                    0',
  '    17 NEW WORLD DEV    HKD    7.80      N/A      N/A                    -',
  '                                  -      N/A      N/A                    -',
  '*    5 HSBC HOLDINGS    HKD   62.35    62.40    62.80           18,340,207',
  '                              62.40    62.35    61.90        1,143,889,211',
  '   700#TENCENT          HKD  380.00   381.00   385.20           14,020,155',
  '                             380.60   380.60   376.40        5,339,129,408',
  '    3  HK &amp; CHINA GAS  HKD    6.10     6.11     6.15           12,345,678',
  '                               6.11     6.10     6.05           75,432,100',
  '*80737 BAY AREA DEV-R    RMB    1.49     1.55        -                    0',
  '                               1.49     1.40        -                    0',
  '  9988#ALIBABA-SW       HKD TRADING HALTED',
  '   341 CAF\u00c9 DE CORAL H  HKD    9.00     9.01     9.05              100,000',
  '                               9.01     9.00     8.98              901,000',
  '  2828 HS CHINA ENT ETF USD    9.55     9.56     9.60            1,000,000',
  '                               9.58     9.55     9.50            9,570,000',
];

function report(opts: { date?: string; header?: string[]; rows?: string[]; tail?: string } = {}): string {
  const date = opts.date ?? 'DATE: 02 OCT 2026 (FRIDAY)';
  const body = [
    '<a name = "top"></a>                  THE STOCK EXCHANGE OF HONG KONG LIMITED',
    '                                  DAILY QUOTATIONS',
    '',
    `                       ${date}`,
    '',
    '  <a href="#market_highlights">MARKET HIGHLIGHTS</a>',
    '  <a href="#quotations">QUOTATIONS</a>',
    '  <a href="#sales_all">SALES RECORDS FOR ALL STOCKS</a>',
    '',
    '<a name = "market_highlights">MARKET HIGHLIGHTS</a>',
    '  TURNOVER (HK$)                          123,456,789,012',
    RULE,
    '<a name = "quotations">QUOTATIONS</a>',
    '',
    ...(opts.header ?? HEADER_CUR),
    '',
    ...(opts.rows ?? ROWS_CUR),
  ];
  const tail =
    opts.tail ??
    [
      RULE,
      '<a name = "sales_all">SALES RECORDS FOR ALL STOCKS</a>',
      '   669 TECHTRONIC IND',
      '  [131.20] 10,000',
      RULE,
    ].join('\n');
  return `<html><head><title>Daily Quotations</title></head><body><pre>\n${body.join('\n')}\n${tail}\n</pre></body></html>\n`;
}

function byCode(rows: QuoteRow[], code: string): QuoteRow {
  const row = rows.find((r) => r.code === code);
  if (!row) throw new Error(`no row for ${code}`);
  return row;
}

describe('parseQuotations (current layout, with currency)', () => {
  const { tradeDate, rows } = parseQuotations(report());

  it('reads the date line and every security', () => {
    expect(tradeDate).toBe('2026-10-02');
    expect(rows.map((r) => r.code)).toEqual([
      '00669',
      '01308',
      '02475',
      '00008',
      '00017',
      '00005',
      '00700',
      '00003',
      '80737',
      '09988',
      '00341',
      '02828',
    ]);
    for (const r of rows) expect(rowValidators.quotes.problems(r)).toEqual([]);
  });

  it('reads a traded security exactly (the doc excerpt)', () => {
    expect(byCode(rows, '00669')).toEqual({
      code: '00669',
      trade_date: '2026-10-02',
      board: 'main',
      name: 'TECHTRONIC IND',
      currency: 'HKD',
      status: 'traded',
      flags: '',
      prev_close: 130,
      open: null,
      high: 133,
      low: 129,
      close: 131.2,
      ask: 132,
      bid: 131.1,
      volume: 6_222_546,
      turnover: 910_771_539,
    } satisfies QuoteRow);
    expect(byCode(rows, '01308')).toMatchObject({
      name: 'SITC',
      prev_close: 33,
      ask: 33.7,
      high: 34,
      volume: 511_000,
      close: 33.5,
      bid: 33.45,
      low: 32.8,
      turnover: 19_631_120,
    });
  });

  it('reads suspended and halted one-liners', () => {
    expect(byCode(rows, '02475')).toEqual({
      code: '02475',
      trade_date: '2026-10-02',
      board: 'main',
      name: 'LUXSHARE ICT',
      currency: 'HKD',
      status: 'suspended',
      flags: '',
      prev_close: null,
      open: null,
      high: null,
      low: null,
      close: null,
      ask: null,
      bid: null,
      volume: null,
      turnover: null,
    } satisfies QuoteRow);
    expect(byCode(rows, '09988')).toMatchObject({
      name: 'ALIBABA-SW',
      status: 'halted',
      flags: '#',
      currency: 'HKD',
    });
  });

  it('marks no-trade securities; close carries the previous close', () => {
    expect(byCode(rows, '00008')).toMatchObject({
      status: 'no_trade',
      prev_close: 4.5,
      close: 4.5,
      ask: 4.52,
      bid: 4.48,
      high: null,
      low: null,
      volume: 0,
      turnover: 0,
    });
    // Closing printed as "-": the previous close is used; N/A and "-" volume are null.
    expect(byCode(rows, '00017')).toMatchObject({
      status: 'no_trade',
      prev_close: 7.8,
      close: 7.8,
      ask: null,
      bid: null,
      high: null,
      low: null,
      volume: null,
      turnover: null,
    });
  });

  it('keeps * and # markers as flags, never in code or name', () => {
    expect(byCode(rows, '00005')).toMatchObject({ name: 'HSBC HOLDINGS', flags: '*', volume: 18_340_207 });
    expect(byCode(rows, '00700')).toMatchObject({ name: 'TENCENT', flags: '#', close: 380.6 });
    expect(byCode(rows, '80737')).toMatchObject({ name: 'BAY AREA DEV-R', flags: '*', currency: 'RMB' });
  });

  it('decodes HTML entities and keeps other currencies', () => {
    expect(byCode(rows, '00003').name).toBe('HK & CHINA GAS');
    expect(byCode(rows, '02828')).toMatchObject({
      name: 'HS CHINA ENT ETF',
      currency: 'USD',
      turnover: 9_570_000,
    });
  });
});

describe('the real file shape: CRLF, <pre><font> chunks, bytes in pieces', () => {
  /** The report with CRLF line ends, cut into `<pre><font size='1'>` chunks every `every` lines. */
  function chunked(every: number): string {
    const lines = report().split('\n');
    const out: string[] = [];
    lines.forEach((l, i) => {
      if (i > 0 && i % every === 0) out.push('</font></pre>', "<pre><font size='1'>");
      out.push(l);
    });
    return out.join('\r\n');
  }

  it('reads the same rows whatever the chunking, and fed in odd-sized byte pieces', () => {
    const expected = parseQuotations(report()).rows;
    // every 3 lines: some chunk boundaries fall between a security's two lines
    for (const every of [3, 7, 64]) {
      const text = chunked(every);
      expect(parseQuotations(text).rows, `every ${every}`).toEqual(expected);
      const bytes = Buffer.from(text, 'latin1');
      const parser = new QuotationsStreamParser();
      const lines = latin1Lines((l) => parser.line(l));
      // 7-byte pieces cut CRLF pairs apart
      for (let i = 0; i < bytes.length; i += 7) lines.write(bytes.subarray(i, i + 7));
      lines.end();
      expect(parser.end().rows, `every ${every}, in pieces`).toEqual(expected);
    }
  });

  it('is done once the quotations section is closed, and labels the board it was given', () => {
    const parser = new QuotationsStreamParser({ board: 'gem' });
    const lines = report().split('\n');
    let read = 0;
    for (const l of lines) {
      if (parser.done) break;
      parser.line(l);
      read++;
    }
    expect(read).toBeLessThan(lines.length - 2); // the sales records were never needed
    const { rows } = parser.end();
    expect(rows.length).toBeGreaterThan(5);
    expect(new Set(rows.map((r) => r.board))).toEqual(new Set(['gem']));
  });
});

describe('parseQuotations on other layouts', () => {
  it('reads latin-1 bytes via decodeLatin1', () => {
    const bytes = new Uint8Array(Buffer.from(report(), 'latin1'));
    expect(bytes.includes(0xc9)).toBe(true);
    const { rows } = parseQuotations(decodeLatin1(bytes));
    expect(byCode(rows, '00341')).toMatchObject({
      name: 'CAF\u00c9 DE CORAL H',
      close: 9.01,
      volume: 100_000,
    });
  });

  it('decodeLatin1 maps every byte to the same code point', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = decodeLatin1(all);
    expect([...s].map((c) => c.charCodeAt(0))).toEqual([...all]);
    expect(decodeLatin1(new Uint8Array(200_000).fill(0x41))).toHaveLength(200_000);
  });

  it('reads older files: no currency column, date line without "DATE:"', () => {
    const html = report({
      date: '04 JAN 2010 (MONDAY)',
      header: HEADER_OLD,
      rows: [
        '   939 CCB                  6.02     6.03     6.10          156,789,000',
        '                            6.05     6.04     5.98          945,123,456',
        '    11 HANG SENG BANK     115.00   115.10   116.00            1,234,567',
        '                          115.50   115.40   114.80          142,345,678',
        '  1111 CHONG HING BANK      TRADING SUSPENDED',
        '*    1 CHEUNG KONG         112.00   112.50   113.00            3,456,789',
        '                           112.80   112.70   111.50          389,876,543',
      ],
    });
    const { tradeDate, rows } = parseQuotations(html);
    expect(tradeDate).toBe('2010-01-04');
    expect(rows).toHaveLength(4);
    expect(byCode(rows, '00939')).toMatchObject({
      name: 'CCB',
      currency: null,
      prev_close: 6.02,
      close: 6.05,
    });
    expect(byCode(rows, '00011')).toMatchObject({
      name: 'HANG SENG BANK',
      currency: null,
      volume: 1_234_567,
    });
    expect(byCode(rows, '01111')).toMatchObject({
      name: 'CHONG HING BANK',
      currency: null,
      status: 'suspended',
    });
    expect(byCode(rows, '00001')).toMatchObject({ name: 'CHEUNG KONG', flags: '*', status: 'traded' });
    for (const r of rows) expect(rowValidators.quotes.problems(r)).toEqual([]);
  });

  it('accepts a section closed only by the next anchor', () => {
    const { rows } = parseQuotations(
      report({ tail: '<a name = "sales_all">SALES RECORDS FOR ALL STOCKS</a>' }),
    );
    expect(rows).toHaveLength(12);
  });
});

describe('parseQuotations refusals', () => {
  it('refuses a page without a quotations section', () => {
    const err = harbourErrorOf(() =>
      parseQuotations('<html><body><pre>DATE: 02 OCT 2026 (FRIDAY)\nhello</pre></body></html>'),
    );
    expect(err.code).toBe(ErrorCodes.ParseLayout);
  });

  it('classifies maintenance and not-available pages', () => {
    expect(
      harbourErrorOf(() =>
        parseQuotations(
          '<html><body><h1>Website Maintenance</h1><p>Please visit us later.</p></body></html>',
        ),
      ).code,
    ).toBe(ErrorCodes.ParseMaintenance);
    expect(
      harbourErrorOf(() =>
        parseQuotations('<html><body><p>The requested report is not available.</p></body></html>'),
      ).code,
    ).toBe(ErrorCodes.ParseNoData);
  });

  it('refuses a report cut short', () => {
    const full = report();
    const cutMidSection = full.slice(0, full.indexOf('  1308 SITC'));
    const err = harbourErrorOf(() => parseQuotations(cutMidSection));
    expect(err.code).toBe(ErrorCodes.ParseTruncated);
    expect(err.detail).toMatchObject({ found: 1 });
    const cutMidPair = full.slice(0, full.indexOf('                              33.50'));
    expect(harbourErrorOf(() => parseQuotations(cutMidPair)).code).toBe(ErrorCodes.ParseTruncated);
  });

  it('refuses unreadable lines with their line number', () => {
    const rows = [...ROWS_CUR];
    rows[1] = '                             131.20   131.10   129.00';
    const err = harbourErrorOf(() => parseQuotations(report({ rows })));
    expect(err.code).toBe(ErrorCodes.ParseLayout);
    expect(err.message).toMatch(/line \d+: expected the second line/);
    const bad = [...ROWS_CUR];
    bad[2] = '  1308 SITC             HKD   33.00    3x.70    34.00              511,000';
    expect(harbourErrorOf(() => parseQuotations(report({ rows: bad }))).code).toBe(ErrorCodes.ParseLayout);
    const bigNumber = [...ROWS_CUR];
    bigNumber[0] = '   669 TECHTRONIC IND   HKD  130.00   132.00   133.00            6,22,546';
    expect(harbourErrorOf(() => parseQuotations(report({ rows: bigNumber }))).message).toMatch(
      /shares traded/,
    );
  });

  it('refuses a line whose code cannot be read, but skips notes', () => {
    const badCode = [
      ...ROWS_CUR,
      '  12A4 SOMETHING       HKD    1.00     1.01     1.02                1,000',
      '                               1.00     1.00     1.00                1,000',
    ];
    const err = harbourErrorOf(() => parseQuotations(report({ rows: badCode })));
    expect(err.code).toBe(ErrorCodes.ParseLayout);
    expect(err.message).toMatch(/cannot read the stock code/);
    const withNotes = [...ROWS_CUR, '', '* INDEX CONSTITUENT   # OTHER REMARKS'];
    expect(parseQuotations(report({ rows: withNotes })).rows).toHaveLength(12);
  });

  it('refuses a report without a date line, without rows, or with a code twice', () => {
    expect(harbourErrorOf(() => parseQuotations(report({ date: 'SOMEDAY' }))).code).toBe(
      ErrorCodes.ParseLayout,
    );
    expect(harbourErrorOf(() => parseQuotations(report({ rows: [] }))).code).toBe(ErrorCodes.ParseLayout);
    const twice = [...ROWS_CUR, ROWS_CUR[0]!, ROWS_CUR[1]!];
    expect(harbourErrorOf(() => parseQuotations(report({ rows: twice }))).message).toMatch(
      /00669 appears twice/,
    );
  });
});
