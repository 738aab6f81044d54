import { load } from 'cheerio/slim';
import { ErrorCodes, type QuoteRow } from '../../../contracts/index.ts';
import {
  cleanText,
  excerpt,
  fail,
  isoDate,
  MAINTENANCE_RE,
  MONTHS,
  NO_DATA_RE,
  normalizeStockCode,
  parseDecimal,
} from './shared.ts';

/**
 * Decodes ISO-8859-1 bytes: every byte is the code point of the same value (0x80–0x9F stay C1
 * controls; this is not windows-1252). The Daily Quotations report is served in latin-1.
 */
export function decodeLatin1(bytes: Uint8Array): string {
  let out = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    out += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return out;
}

/** Section anchors: `<a name = "quotations">QUOTATIONS</a>`. */
const ANCHOR_RE = /<a\s+name\s*=\s*["']?([A-Za-z_][\w-]*)["']?[^>]*>/gi;
/** `DATE: 02 OCT 2026 (FRIDAY)`, or without `DATE:` in older files. */
const DATE_RE =
  /(?:^|[^\d])(\d{1,2})\s+(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\s+(\d{4})\s*\(\s*(?:MON|TUES|WEDNES|THURS|FRI|SATUR|SUN)DAY\s*\)/i;
/** A value cell: a number with optional thousands commas, or `-` / `N/A` for "no value". */
const V = String.raw`(-|N\/A|\d[\d,]*(?:\.\d+)?|\.\d+)`;
const VALUES4 = String.raw`${V}\s+${V}\s+${V}\s+${V}\s*$`;
const LINE1_CUR_RE = new RegExp(String.raw`^\s*(.*?)\s+([A-Z]{3})\s+${VALUES4}`);
const LINE1_NOCUR_RE = new RegExp(String.raw`^\s*(.*?)\s+${VALUES4}`);
const LINE2_RE = new RegExp(String.raw`^\s+${VALUES4}`);
const SUSPENDED_RE = /^(.*?)\s*\bTRADING\s+(SUSPENDED|HALTED)\s*$/;
/**
 * Start of a security's first line: optional marker (`*`, `#`) before the code (spaces may pad the
 * right-aligned code), the code (≤ 5 digits), then a marker or a space.
 */
const CODE_RE = /^(\s*)(?:([*#]+)\s*)?(\d{1,5})(?:([*#]+)|(?=\s))/;
/** A line whose code zone starts with a digit (after an optional marker): it must read as a security. */
const CODE_ZONE_DIGIT_RE = /^\s*[*#]*\s*\d/;
const CLOSING_RULE_RE = /^\s*-{60,}\s*$/;

/** A name as printed in the fixed-width column: NBSP as space, trimmed, inner spacing kept. */
function printedName(s: string | undefined): string {
  return (s ?? '').replace(/\u00a0/g, ' ').trim();
}

function stripTags(html: string): string {
  return html.replace(/<[^>]*>/g, ' ');
}

function tradeDateOf(html: string): string {
  const m = DATE_RE.exec(stripTags(html));
  if (!m) return '';
  return isoDate(Number(m[3]), MONTHS[m[2]!.toUpperCase()]!, Number(m[1])) ?? '';
}

function classifyMissingSection(html: string): never {
  const text = cleanText(stripTags(html));
  if (MAINTENANCE_RE.test(text)) {
    fail(ErrorCodes.ParseMaintenance, 'Daily Quotations answered with a maintenance page', {
      message: excerpt(text),
    });
  }
  if (NO_DATA_RE.test(text) || /not found|does not exist|cannot be found|no report/i.test(text)) {
    fail(ErrorCodes.ParseNoData, `Daily Quotations report is not available: ${excerpt(text, 120)}`, {
      message: excerpt(text),
    });
  }
  fail(ErrorCodes.ParseLayout, 'page has no QUOTATIONS section; it is not a Daily Quotations report', {
    start: excerpt(text, 300),
  });
}

function num(token: string, field: string, lineNo: number): number | null {
  const n = parseDecimal(token);
  if (n === undefined) {
    fail(ErrorCodes.ParseLayout, `Daily Quotations line ${lineNo}: ${field} "${token}" is not a number`, {
      line: lineNo,
      field,
      value: token,
    });
  }
  return n;
}

interface PendingLine1 {
  lineNo: number;
  code: string;
  flags: string;
  name: string;
  currency: string | null;
  values: string[];
}

/**
 * Parses an HKEX Daily Quotations report (`dYYMMDDe.htm`; give it text decoded from latin-1, see
 * `decodeLatin1`). Reads the date line and the `quotations` section (between its anchor and the
 * closing rule of dashes / the next anchor): two lines per security, or one line for
 * `TRADING SUSPENDED` / `TRADING HALTED`. Markers `*`/`#` beside the code go to `flags`.
 *
 * status: `suspended` / `halted` (all figures null), `no_trade` (volume 0 or `-`, or high and low
 * both `-`; close keeps the printed closing, which the report fills with the previous close — if it
 * is `-` the previous close is used), else `traded`. `open` is always null: the report has none.
 *
 * Refuses: no quotations section → ParseMaintenance / ParseNoData when the page says so, else
 * ParseLayout; section cut short (no closing rule, no following section, or a security missing its
 * second line at the end) → ParseTruncated; unreadable lines, no date, no rows → ParseLayout.
 */
export function parseQuotations(text: string): { tradeDate: string; rows: QuoteRow[] } {
  const anchors = [...text.matchAll(ANCHOR_RE)].map((m) => ({ name: m[1]!.toLowerCase(), index: m.index }));
  const at = anchors.findIndex((a) => a.name === 'quotations');
  if (at < 0) classifyMissingSection(text);
  const start = anchors[at]!.index;
  const next = anchors[at + 1];
  const tradeDate = tradeDateOf(text.slice(0, start)) || tradeDateOf(text);
  if (tradeDate === '') {
    fail(
      ErrorCodes.ParseLayout,
      'Daily Quotations report has no readable DATE line (e.g. "DATE: 02 OCT 2026 (FRIDAY)")',
    );
  }

  const sectionText = load(text.slice(start, next?.index ?? text.length)).text();
  const lines = sectionText.split(/\r\n|\r|\n/);

  let hasCurrency: boolean | null = null;
  let nameCol = 8;
  let pending: PendingLine1 | null = null;
  let closed = false;
  const rows: QuoteRow[] = [];
  const seen = new Set<string>();

  const push = (row: QuoteRow, lineNo: number): void => {
    if (seen.has(row.code)) {
      fail(ErrorCodes.ParseLayout, `Daily Quotations line ${lineNo}: stock ${row.code} appears twice`, {
        line: lineNo,
        code: row.code,
      });
    }
    seen.add(row.code);
    rows.push(row);
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const lineNo = i + 1;
    if (line.trim() === '') continue;

    if (pending !== null) {
      const m = LINE2_RE.exec(line);
      if (!m || CODE_RE.test(line.slice(0, nameCol + 1))) {
        fail(
          ErrorCodes.ParseLayout,
          `Daily Quotations line ${lineNo}: expected the second line (closing, bid, low, turnover) of stock ${pending.code}`,
          { line: lineNo, text: excerpt(line), code: pending.code },
        );
      }
      const p = pending;
      const prevClose = num(p.values[0]!, 'previous close', p.lineNo);
      const ask = num(p.values[1]!, 'ask', p.lineNo);
      const high = num(p.values[2]!, 'high', p.lineNo);
      const volume = num(p.values[3]!, 'shares traded', p.lineNo);
      const closing = num(m[1]!, 'closing', lineNo);
      const bid = num(m[2]!, 'bid', lineNo);
      const low = num(m[3]!, 'low', lineNo);
      const turnover = num(m[4]!, 'turnover', lineNo);
      const noTrade = volume === null || volume === 0 || (high === null && low === null);
      push(
        {
          code: p.code,
          trade_date: tradeDate,
          name: p.name,
          currency: p.currency,
          status: noTrade ? 'no_trade' : 'traded',
          flags: p.flags,
          prev_close: prevClose,
          open: null,
          high,
          low,
          close: closing ?? (noTrade ? prevClose : null),
          ask,
          bid,
          volume,
          turnover,
        },
        p.lineNo,
      );
      pending = null;
      continue;
    }

    if (CLOSING_RULE_RE.test(line)) {
      if (rows.length > 0) {
        closed = true;
        break;
      }
      continue;
    }
    if (/\bCODE\b/.test(line) && /NAME\s+OF\s+STOCK/.test(line)) {
      hasCurrency = /\bCUR(?:R(?:ENCY)?)?\b|\bCCY\b/.test(line);
      nameCol = line.indexOf('NAME');
      continue;
    }
    const code = CODE_RE.exec(line);
    if (!code || code[0].length > nameCol) {
      const zone = CODE_ZONE_DIGIT_RE.exec(line);
      if (hasCurrency !== null && zone && zone[0].length <= nameCol) {
        fail(ErrorCodes.ParseLayout, `Daily Quotations line ${lineNo}: cannot read the stock code`, {
          line: lineNo,
          text: excerpt(line),
        });
      }
      continue; // titles, sub-headings, the second header line, notes
    }
    if (hasCurrency === null) {
      fail(
        ErrorCodes.ParseLayout,
        `Daily Quotations line ${lineNo}: a security line before the column header`,
        {
          line: lineNo,
          text: excerpt(line),
        },
      );
    }
    const stockCode = normalizeStockCode(code[3])!;
    const flags = `${code[2] ?? ''}${code[4] ?? ''}`;
    const rest = line.slice(code[0].length);

    const susp = SUSPENDED_RE.exec(rest);
    if (susp) {
      let name = printedName(susp[1]);
      let currency: string | null = null;
      const cur = /^(.*\S)\s+([A-Z]{3})$/.exec(name);
      if (hasCurrency && cur) {
        name = printedName(cur[1]);
        currency = cur[2]!;
      }
      if (name === '') {
        fail(ErrorCodes.ParseLayout, `Daily Quotations line ${lineNo}: stock ${stockCode} has no name`, {
          line: lineNo,
          text: excerpt(line),
        });
      }
      push(
        {
          code: stockCode,
          trade_date: tradeDate,
          name,
          currency,
          status: susp[2] === 'HALTED' ? 'halted' : 'suspended',
          flags,
          prev_close: null,
          open: null,
          high: null,
          low: null,
          close: null,
          ask: null,
          bid: null,
          volume: null,
          turnover: null,
        },
        lineNo,
      );
      continue;
    }

    const m = (hasCurrency ? LINE1_CUR_RE : LINE1_NOCUR_RE).exec(rest);
    const name = m ? printedName(m[1]) : '';
    if (!m || name === '') {
      fail(
        ErrorCodes.ParseLayout,
        `Daily Quotations line ${lineNo}: cannot read stock ${stockCode} (expected name${hasCurrency ? ', currency' : ''} and four figures, or TRADING SUSPENDED/HALTED)`,
        { line: lineNo, text: excerpt(line) },
      );
    }
    const values = hasCurrency ? m.slice(3, 7) : m.slice(2, 6);
    pending = {
      lineNo,
      code: stockCode,
      flags,
      name,
      currency: hasCurrency ? m[2]! : null,
      values: values as string[],
    };
  }

  if (pending !== null) {
    fail(
      ErrorCodes.ParseTruncated,
      `Daily Quotations report ends after the first line of stock ${pending.code}; the file is cut short`,
      { line: pending.lineNo, code: pending.code, found: rows.length },
    );
  }
  if (rows.length === 0) {
    fail(ErrorCodes.ParseLayout, 'Daily Quotations QUOTATIONS section has no security lines', {
      headerFound: hasCurrency !== null,
    });
  }
  if (!closed && next === undefined) {
    fail(
      ErrorCodes.ParseTruncated,
      `Daily Quotations QUOTATIONS section is not closed (no rule of dashes, no following section) after ${rows.length} securities; the file is cut short`,
      { found: rows.length, lastCode: rows.at(-1)?.code },
    );
  }
  return { tradeDate, rows };
}
