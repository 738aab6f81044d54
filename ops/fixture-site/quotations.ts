/**
 * Daily Quotations report (`dYYMMDDe.htm`) in the format of QUOTATIONS-FORMAT.md: one `<pre>` of
 * fixed-width latin-1 text with named anchors per section, a DATE line, a two-line header and two
 * lines per security (one line when suspended/halted). Encoded as latin-1 bytes.
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

/** The whole report for a trading day, as text (HTML-escaped inside the `<pre>`). */
export function quotationsHtml(market: Market, date: string): string {
  const quotes = market.universe.map((s) => ({ s, q: market.day(s.code, date)! }));
  const traded = quotes.filter((x) => x.q.status === 'traded');
  const totalTurnover = traded.reduce((a, x) => a + (x.s.currency === 'RMB' ? 0 : (x.q.turnover ?? 0)), 0);
  const adv = traded.filter((x) => x.q.close > x.q.prevClose).length;
  const dec = traded.filter((x) => x.q.close < x.q.prevClose).length;
  const susp = quotes.filter((x) => x.q.status === 'suspended' || x.q.status === 'halted');

  const out: string[] = [];
  const esc = (s: string) => escapeHtml(s).replace(/&quot;/g, '"');
  const section = (anchor: string, title: string, lines: string[]) => {
    out.push(`<a name = "${anchor}">${title}</a>`, '', ...lines.map(esc), '', RULE);
  };

  out.push(
    '',
    '                    THE STOCK EXCHANGE OF HONG KONG LIMITED',
    '                  ' + esc('\u00a9 Hong Kong Exchanges and Clearing Limited'),
    '',
    '                               DAILY QUOTATIONS',
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

  return `<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">
<title>The Stock Exchange of Hong Kong Limited - Daily Quotations</title>
</head>
<body>
<pre>
${out.join('\n')}
</pre>
</body>
</html>
`;
}

/** Report bytes (latin-1). */
export function quotationsBytes(market: Market, date: string): Buffer {
  return Buffer.from(quotationsHtml(market, date), 'latin1');
}

/** `d261002e.htm` → `2026-10-02` (two-digit years are 20xx). */
export function dateFromReportName(name: string): string | undefined {
  const m = /^d(\d{2})(\d{2})(\d{2})e\.htm$/i.exec(name);
  return m ? `20${m[1]}-${m[2]}-${m[3]}` : undefined;
}
