/**
 * Daily Quotations reports in the format of QUOTATIONS-FORMAT.md: the main board's `dYYMMDDe.htm`
 * and GEM's `GEM/e_GYYMMDD.htm` (GEM stocks, codes 08xxx, only there). Fixed-width latin-1 text
 * with named anchors per section, a DATE line, a two-line header and two lines per security (one
 * line when suspended/halted), CRLF line ends, cut into several `<pre><font size='1'>` chunks as
 * the real ~25 MB files are. Where a chunk is cut and how the GEM report's title reads are not known
 * from any capture: chunks here are every `chunkLines` lines, and the GEM report is assumed to
 * have the main report's layout (as HKEX describes it).
 */
import { tradingDayIndex } from './calendar.ts';
import { commas, escapeHtml, milliStr, reportDate } from './format.ts';
import type { DayQuote, Market } from './market.ts';
import type { Stock } from './universe.ts';

export const SECTIONS = [
  ['market_highlights', 'MARKET HIGHLIGHTS'],
  ['quotations', 'QUOTATIONS'],
  ['sales_all', 'SALES RECORDS FOR ALL STOCKS'],
  ['sales_over', 'SALES RECORDS OVER $500,000'],
  ['amendments', 'AMENDMENTS'],
  ['dealings_suspstocks', 'DEALINGS IN SUSPENDED STOCKS'],
  ['adj_turnover', 'ADJUSTED TURNOVER'],
  ['short_selling', 'SHORT SELLING TURNOVER - DAILY REPORT'],
  ['adj_short', 'ADJUSTED SHORT SELLING TURNOVER'],
  ['options_exercised', 'STOCK OPTIONS EXERCISED'],
  ['efn_highlights', 'EXCHANGE FUND NOTES HIGHLIGHTS'],
  ['overseas_highlights', 'OVERSEAS SECURITIES HIGHLIGHTS'],
  ['other_info', 'OTHER INFORMATION'],
] as const;

const RULE = '-'.repeat(79);

export const QUOTATION_HEADER = [
  ' CODE  NAME OF STOCK    CUR PRV.CLO./    ASK/    HIGH/      SHARES TRADED/',
  '                                CLOSING      BID     LOW        TURNOVER ($)',
];

function px(milli: number | null): string {
  if (milli === null) return '-';
  return milliStr(milli, milli < 500 ? 3 : 2);
}

function qty(n: number | null): string {
  return n === null ? '-' : commas(n);
}

/** Code column (6 wide) with a marker before (`*` at column 0) or after (`#` at column 6) the code. */
function codeField(stock: Stock): { code: string; sep: string } {
  const digits = String(Number(stock.code));
  const code = digits.padStart(6, ' ');
  if (stock.marker === '*') return { code: `*${code.slice(1)}`, sep: ' ' };
  if (stock.marker === '#') return { code, sep: '#' };
  return { code, sep: ' ' };
}

/** The one or two report lines of a security (plain text, not yet HTML-escaped). */
export function quotationLines(stock: Stock, q: DayQuote): string[] {
  const { code, sep } = codeField(stock);
  const name = stock.name.slice(0, 16).padEnd(16, ' ');
  const cur = stock.currency;
  if (q.status === 'suspended' || q.status === 'halted') {
    return [`${code}${sep}${name} ${cur} TRADING ${q.status === 'suspended' ? 'SUSPENDED' : 'HALTED'}`];
  }
  const traded = q.status === 'traded';
  const l1 =
    `${code}${sep}${name} ${cur}` +
    px(q.prevClose).padStart(8) +
    px(q.ask).padStart(9) +
    px(traded ? q.high : null).padStart(9) +
    qty(traded ? q.volume : null).padStart(21);
  const l2 =
    ' '.repeat(27) +
    px(q.close).padStart(8) +
    px(q.bid).padStart(9) +
    px(traded ? q.low : null).padStart(9) +
    qty(traded ? q.turnover : null).padStart(21);
  return [l1, l2];
}

export interface QuotationsOptions {
  /** Lines per `<pre><font size='1'>` chunk (default 64, so even small reports have several). */
  chunkLines?: number;
  /** Pad the sales records with more trades until the report has at least this many bytes (0 = as generated). */
  minBytes?: number;
}

type SectionAnchor = (typeof SECTIONS)[number][0];
const SECTION_TITLES = new Map<string, string>(SECTIONS);

/** A security as the report lists it. */
interface Listed {
  s: Stock;
  q: DayQuote;
}

/** Code (6 wide, no marker) and the name's first 16 characters: how the sections after QUOTATIONS start a line. */
function stockColumns(s: Stock): string {
  return `${String(Number(s.code)).padStart(6)} ${s.name.slice(0, 16).padEnd(16)}`;
}

/** One board's report for a trading day, as HTML (text HTML-escaped inside the `<pre>` chunks). */
export function quotationsHtml(
  market: Market,
  date: string,
  board: 'main' | 'gem' = 'main',
  opts: QuotationsOptions = {},
): string {
  const quotes: Listed[] = market.universe
    .filter((s) => s.board === board)
    .map((s) => ({ s, q: market.day(s.code, date)! }));
  const traded = quotes.filter((x) => x.q.status === 'traded');
  const susp = quotes.filter((x) => x.q.status === 'suspended' || x.q.status === 'halted');

  const out: string[] = reportHead(date, board);
  const section = (anchor: SectionAnchor, lines: string[]) => {
    out.push(`<a name = "${anchor}">${SECTION_TITLES.get(anchor)}</a>`, '');
    for (const l of lines) out.push(esc(l)); // no spread: a padded section has ~10^6 lines
    out.push('', RULE);
  };
  section('market_highlights', marketHighlights(traded, susp.length));
  const qlines: string[] = [...QUOTATION_HEADER, ''];
  for (const { s, q } of quotes) qlines.push(...quotationLines(s, q));
  section('quotations', qlines);
  const sales = salesRecords(traded, date);
  padSales(sales, opts.minBytes ?? 0, out);
  section('sales_all', sales);
  section(
    'sales_over',
    traded.filter((x) => (x.q.turnover ?? 0) > 500_000).map((x) => `${stockColumns(x.s)} ${px(x.q.close)}`),
  );
  section('amendments', ['NIL']);
  section(
    'dealings_suspstocks',
    susp.length ? susp.map((x) => `${stockColumns(x.s)} ${x.q.status.toUpperCase()}`) : ['NIL'],
  );
  section('adj_turnover', ['NIL']);
  section('short_selling', shortSelling(traded));
  for (const anchor of ['adj_short', 'options_exercised', 'efn_highlights', 'overseas_highlights'] as const)
    section(anchor, ['NIL']);
  section('other_info', [
    '* Constituent stocks of the Hang Seng Index',
    '# Other remarks: see the relevant announcements',
  ]);
  return htmlDocument(out, board, Math.max(1, opts.chunkLines ?? 64));
}

/** HTML-escaped as the real reports are: `&`, `<`, `>` escaped, quotes left as they are. */
function esc(s: string): string {
  return escapeHtml(s).replace(/&quot;/g, '"');
}

/** The report's title block, DATE line and table of contents (already escaped). */
function reportHead(date: string, board: 'main' | 'gem'): string[] {
  return [
    '',
    '                    THE STOCK EXCHANGE OF HONG KONG LIMITED',
    '                  ' + esc('\u00a9 Hong Kong Exchanges and Clearing Limited'),
    '',
    board === 'gem'
      ? '                             GEM DAILY QUOTATIONS'
      : '                               DAILY QUOTATIONS',
    '',
    `DATE: ${reportDate(date)}`,
    '',
    'CONTENTS',
    '',
    ...SECTIONS.map(([a, t]) => `<a href = "#${a}">${t}</a>`),
    '',
    RULE,
  ];
}

/** The day's totals; RMB counters' turnover is not in the HK$ total. */
function marketHighlights(traded: Listed[], suspended: number): string[] {
  const totalTurnover = traded.reduce((a, x) => a + (x.s.currency === 'RMB' ? 0 : (x.q.turnover ?? 0)), 0);
  const adv = traded.filter((x) => x.q.close > x.q.prevClose).length;
  const dec = traded.filter((x) => x.q.close < x.q.prevClose).length;
  return [
    `TOTAL MARKET TURNOVER (HK$)             ${commas(totalTurnover).padStart(24)}`,
    `NO. OF SECURITIES TRADED                ${String(traded.length).padStart(24)}`,
    `NO. OF SECURITIES ADVANCED              ${String(adv).padStart(24)}`,
    `NO. OF SECURITIES DECLINED              ${String(dec).padStart(24)}`,
    `NO. OF SECURITIES UNCHANGED             ${String(traded.length - adv - dec).padStart(24)}`,
    `NO. OF SECURITIES SUSPENDED/HALTED      ${String(suspended).padStart(24)}`,
  ];
}

/** Two lines per traded security: its code and name, then `shares-price` trades at its open, high, low and close. */
function salesRecords(traded: Listed[], date: string): string[] {
  const i = tradingDayIndex(date) ?? 0;
  const sales: string[] = [];
  for (const { s, q } of traded) {
    const prices = [q.open, q.high, q.low, q.close].filter((p): p is number => p !== null).map(px);
    sales.push(stockColumns(s));
    sales.push(
      `       ${prices.map((p, k) => `${commas(s.boardLot * (1 + ((i + k) % 7)))}-${p}`).join(' ')}`,
    );
  }
  return sales;
}

/**
 * A real report is ~25 MB, nearly all of it trade records: adds more trades of the same stocks
 * (pairs of lines, each repeat numbered) until the report so far (`before`, escaped) and the sales
 * records reach `minBytes` (estimated at 40 bytes a sales line).
 */
function padSales(sales: string[], minBytes: number, before: readonly string[]): void {
  if (minBytes <= 0 || sales.length === 0) return;
  const beforeBytes = before.reduce((a, l) => a + l.length + 2, 0);
  const base = sales.slice();
  for (let k = 1; sales.length * 40 + beforeBytes < minBytes; k++) {
    for (let j = 1; j < base.length; j += 2) sales.push(base[j - 1]!, `${base[j]!}  (${k})`);
  }
}

/** Short selling of the fixed (well-known) stocks: 12 % of their volume and turnover. */
function shortSelling(traded: Listed[]): string[] {
  return [
    ' CODE  NAME OF STOCK           SHARES         TURNOVER ($)',
    ...traded
      .filter((x) => x.s.fixed)
      .map(
        (x) =>
          `${stockColumns(x.s)}${commas(Math.round((x.q.volume ?? 0) * 0.12)).padStart(14)}${commas(Math.round((x.q.turnover ?? 0) * 0.12)).padStart(20)}`,
      ),
  ];
}

/** The report's lines (escaped) cut into `<pre><font size='1'>` chunks of `chunkLines`, in an HTML page with CRLF line ends. */
function htmlDocument(out: readonly string[], board: 'main' | 'gem', chunkLines: number): string {
  const chunks: string[] = [];
  for (let i = 0; i < out.length; i += chunkLines) {
    chunks.push(`<pre><font size='1'>\r\n${out.slice(i, i + chunkLines).join('\r\n')}\r\n</font></pre>`);
  }
  return [
    '<html>',
    '<head>',
    '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
    `<title>The Stock Exchange of Hong Kong Limited - ${board === 'gem' ? 'GEM ' : ''}Daily Quotations</title>`,
    '</head>',
    '<body>',
    ...chunks,
    '</body>',
    '</html>',
    '',
  ].join('\r\n');
}

/** Report bytes (latin-1). */
export function quotationsBytes(
  market: Market,
  date: string,
  board: 'main' | 'gem' = 'main',
  opts: QuotationsOptions = {},
): Buffer {
  return Buffer.from(quotationsHtml(market, date, board, opts), 'latin1');
}

/**
 * The report a path (under `/eng/stat/smstat/dayquot/`) names: `d261002e.htm` → main board,
 * `GEM/e_G261002.htm` → GEM, both 2026-10-02 (two-digit years are 20xx).
 */
export function reportOfPath(name: string): { date: string; board: 'main' | 'gem' } | undefined {
  const m = /^d(\d{2})(\d{2})(\d{2})e\.htm$/i.exec(name);
  if (m) return { date: `20${m[1]}-${m[2]}-${m[3]}`, board: 'main' };
  const g = /^GEM\/e_G(\d{2})(\d{2})(\d{2})\.htm$/i.exec(name);
  return g ? { date: `20${g[1]}-${g[2]}-${g[3]}`, board: 'gem' } : undefined;
}
