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

/** One board's report for a trading day, as HTML (text HTML-escaped inside the `<pre>` chunks). */
export function quotationsHtml(
  market: Market,
  date: string,
  board: 'main' | 'gem' = 'main',
  opts: QuotationsOptions = {},
): string {
  const quotes = market.universe
    .filter((s) => s.board === board)
    .map((s) => ({ s, q: market.day(s.code, date)! }));
  const traded = quotes.filter((x) => x.q.status === 'traded');
  const totalTurnover = traded.reduce((a, x) => a + (x.s.currency === 'RMB' ? 0 : (x.q.turnover ?? 0)), 0);
  const adv = traded.filter((x) => x.q.close > x.q.prevClose).length;
  const dec = traded.filter((x) => x.q.close < x.q.prevClose).length;
  const susp = quotes.filter((x) => x.q.status === 'suspended' || x.q.status === 'halted');

  const out: string[] = [];
  const esc = (s: string) => escapeHtml(s).replace(/&quot;/g, '"');
  const section = (anchor: string, title: string, lines: string[]) => {
    out.push(`<a name = "${anchor}">${title}</a>`, '');
    for (const l of lines) out.push(esc(l)); // no spread: a padded section has ~10^6 lines
    out.push('', RULE);
  };

  out.push(
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
  );

  section('market_highlights', 'MARKET HIGHLIGHTS', [
    `TOTAL MARKET TURNOVER (HK$)             ${commas(totalTurnover).padStart(24)}`,
    `NO. OF SECURITIES TRADED                ${String(traded.length).padStart(24)}`,
    `NO. OF SECURITIES ADVANCED              ${String(adv).padStart(24)}`,
    `NO. OF SECURITIES DECLINED              ${String(dec).padStart(24)}`,
    `NO. OF SECURITIES UNCHANGED             ${String(traded.length - adv - dec).padStart(24)}`,
    `NO. OF SECURITIES SUSPENDED/HALTED      ${String(susp.length).padStart(24)}`,
  ]);

  const qlines: string[] = [...QUOTATION_HEADER, ''];
  for (const { s, q } of quotes) qlines.push(...quotationLines(s, q));
  section('quotations', 'QUOTATIONS', qlines);

  const i = tradingDayIndex(date) ?? 0;
  const sales: string[] = [];
  for (const { s, q } of traded) {
    const prices = [q.open, q.high, q.low, q.close].filter((p): p is number => p !== null).map(px);
    sales.push(`${String(Number(s.code)).padStart(6)} ${s.name.slice(0, 16).padEnd(16)}`);
    sales.push(
      `       ${prices.map((p, k) => `${commas(s.boardLot * (1 + ((i + k) % 7)))}-${p}`).join(' ')}`,
    );
  }
  // A real report is ~25 MB, nearly all of it trade records: more trades of the same stocks.
  const minBytes = opts.minBytes ?? 0;
  if (minBytes > 0 && sales.length > 0) {
    const size = () => sales.length * 40 + out.reduce((a, l) => a + l.length + 2, 0);
    const base = sales.slice();
    for (let k = 1; size() < minBytes; k++) {
      for (let j = 1; j < base.length; j += 2) sales.push(base[j - 1]!, `${base[j]!}  (${k})`);
    }
  }
  section('sales_all', 'SALES RECORDS FOR ALL STOCKS', sales);
  section(
    'sales_over',
    'SALES RECORDS OVER $500,000',
    traded
      .filter((x) => (x.q.turnover ?? 0) > 500_000)
      .map(
        (x) => `${String(Number(x.s.code)).padStart(6)} ${x.s.name.slice(0, 16).padEnd(16)} ${px(x.q.close)}`,
      ),
  );
  section('amendments', 'AMENDMENTS', ['NIL']);
  section(
    'dealings_suspstocks',
    'DEALINGS IN SUSPENDED STOCKS',
    susp.length
      ? susp.map(
          (x) =>
            `${String(Number(x.s.code)).padStart(6)} ${x.s.name.slice(0, 16).padEnd(16)} ${x.q.status.toUpperCase()}`,
        )
      : ['NIL'],
  );
  section('adj_turnover', 'ADJUSTED TURNOVER', ['NIL']);
  section('short_selling', 'SHORT SELLING TURNOVER - DAILY REPORT', [
    ' CODE  NAME OF STOCK           SHARES         TURNOVER ($)',
    ...traded
      .filter((x) => x.s.fixed)
      .map(
        (x) =>
          `${String(Number(x.s.code)).padStart(6)} ${x.s.name.slice(0, 16).padEnd(16)}${commas(Math.round((x.q.volume ?? 0) * 0.12)).padStart(14)}${commas(Math.round((x.q.turnover ?? 0) * 0.12)).padStart(20)}`,
      ),
  ]);
  section('adj_short', 'ADJUSTED SHORT SELLING TURNOVER', ['NIL']);
  section('options_exercised', 'STOCK OPTIONS EXERCISED', ['NIL']);
  section('efn_highlights', 'EXCHANGE FUND NOTES HIGHLIGHTS', ['NIL']);
  section('overseas_highlights', 'OVERSEAS SECURITIES HIGHLIGHTS', ['NIL']);
  section('other_info', 'OTHER INFORMATION', [
    '* Constituent stocks of the Hang Seng Index',
    '# Other remarks: see the relevant announcements',
  ]);

  const chunkLines = Math.max(1, opts.chunkLines ?? 64);
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
