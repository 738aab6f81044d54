import { ErrorCodes, type QuoteBoard, type QuoteRow } from '../../../contracts/index.ts';
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
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Section anchors: `<a name = "quotations">QUOTATIONS</a>`. */
const ANCHOR_RE = /<a\s+name\s*=\s*["']?([A-Za-z_][\w-]*)["']?[^>]*>/gi;
const ANCHOR_ONE_RE = new RegExp(ANCHOR_RE.source, 'i');
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

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

/** Decodes the entities a `<pre>` of the report can carry (named basics and numeric); unknown ones stay as printed. */
function unescapeHtml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
    }
    return NAMED_ENTITIES[e.toLowerCase()] ?? all;
  });
}

/** Options of a Daily Quotations parse. */
export interface QuotationsParseOptions {
  /** Which report this is: `main` (`dYYMMDDe.htm`, default) or `gem` (`GEM/e_GYYMMDD.htm`); stored as `board`. */
  board?: QuoteBoard;
}

/** Text kept from the start of a page to classify a page with no quotations section (maintenance, not found). */
const CLASSIFY_SAMPLE_CHARS = 64 * 1024;

/**
 * Incremental Daily Quotations parser: give it the report's lines in order (`line()`), then call
 * `end()`. It keeps only the rows of the `quotations` section, never the whole page, so a real
 * ~25 MB report (several `<pre><font size='1'>` chunks, CRLF line ends) is parsed in flat memory;
 * once `done` is true the rest of the page (sales records…) is not needed and the caller may stop
 * reading. Tags on a line are dropped and entities decoded, so chunk boundaries
 * (`</font></pre>` … `<pre><font size='1'>`) read as blank lines. Same rules and refusals as
 * {@link parseQuotations}.
 */
export class QuotationsStreamParser {
  private readonly board: QuoteBoard;
  private lineNo = 0;
  /** before: no quotations anchor yet; in: inside the section; after: section over. */
  private phase: 'before' | 'in' | 'after' = 'before';
  private tradeDate = '';
  private sample = '';
  private hasCurrency: boolean | null = null;
  private nameCol = 8;
  private pending: PendingLine1 | null = null;
  /** The section ended at its closing rule or at the next anchor (not at the end of the page). */
  private closed = false;
  private readonly rows: QuoteRow[] = [];
  private readonly seen = new Set<string>();

  constructor(opts: QuotationsParseOptions = {}) {
    this.board = opts.board ?? 'main';
  }

  /** The first 64 KB of the page, for telling what a page without quotations is (maintenance, a bot wall…). */
  get pageStart(): string {
    return this.sample;
  }

  /** The section is complete and the date is known: later lines change nothing. */
  get done(): boolean {
    return this.phase === 'after' && this.tradeDate !== '';
  }

  /** One line of the page, without its line end. */
  line(raw: string): void {
    this.lineNo++;
    if (this.done) return;
    if (this.sample.length < CLASSIFY_SAMPLE_CHARS) this.sample += `${raw}\n`;
    let rest = raw;
    if (this.phase === 'before') {
      const at = findAnchor(rest, 'quotations');
      if (at < 0) {
        this.readDate(rest);
        return;
      }
      this.readDate(rest.slice(0, at));
      this.phase = 'in';
      rest = rest.slice(at + 1); // past the anchor's `<`, so it is not found again below
    }
    if (this.phase === 'in') {
      const next = ANCHOR_ONE_RE.exec(rest);
      if (next) {
        this.sectionLine(rest.slice(0, next.index));
        if (this.phase === 'in') {
          this.closed = true;
          this.phase = 'after';
        }
        this.readDate(rest.slice(next.index));
        return;
      }
      this.sectionLine(rest);
      return;
    }
    this.readDate(rest);
  }

  /** The page is over: the rows, or the refusal the page deserves. */
  end(): { tradeDate: string; rows: QuoteRow[] } {
    if (this.phase === 'before') classifyMissingSection(this.sample);
    if (this.tradeDate === '') {
      fail(
        ErrorCodes.ParseLayout,
        'Daily Quotations report has no readable DATE line (e.g. "DATE: 02 OCT 2026 (FRIDAY)")',
      );
    }
    if (this.pending !== null) {
      fail(
        ErrorCodes.ParseTruncated,
        `Daily Quotations report ends after the first line of stock ${this.pending.code}; the file is cut short`,
        { line: this.pending.lineNo, code: this.pending.code, found: this.rows.length },
      );
    }
    if (this.rows.length === 0) {
      fail(ErrorCodes.ParseLayout, 'Daily Quotations QUOTATIONS section has no security lines', {
        headerFound: this.hasCurrency !== null,
      });
    }
    if (!this.closed) {
      fail(
        ErrorCodes.ParseTruncated,
        `Daily Quotations QUOTATIONS section is not closed (no rule of dashes, no following section) after ${this.rows.length} securities; the file is cut short`,
        { found: this.rows.length, lastCode: this.rows.at(-1)?.code },
      );
    }
    return { tradeDate: this.tradeDate, rows: this.rows };
  }

  private readDate(html: string): void {
    if (this.tradeDate === '' && /\d/.test(html)) this.tradeDate = tradeDateOf(html);
  }

  private push(row: QuoteRow, lineNo: number): void {
    if (this.seen.has(row.code)) {
      fail(ErrorCodes.ParseLayout, `Daily Quotations line ${lineNo}: stock ${row.code} appears twice`, {
        line: lineNo,
        code: row.code,
      });
    }
    this.seen.add(row.code);
    this.rows.push(row);
  }

  /** One line inside the quotations section (tags dropped, entities decoded). */
  private sectionLine(html: string): void {
    const line = unescapeHtml(stripTags(html).replace(/<[^>]*$/, ''));
    const lineNo = this.lineNo;
    if (line.trim() === '') return;
    if (this.pending !== null) {
      this.secondLine(this.pending, line, lineNo);
      this.pending = null;
      return;
    }
    if (CLOSING_RULE_RE.test(line)) {
      if (this.rows.length > 0) {
        this.closed = true;
        this.phase = 'after';
      }
      return;
    }
    if (/\bCODE\b/.test(line) && /NAME\s+OF\s+STOCK/.test(line)) {
      this.hasCurrency = /\bCUR(?:R(?:ENCY)?)?\b|\bCCY\b/.test(line);
      this.nameCol = line.indexOf('NAME');
      return;
    }
    const code = CODE_RE.exec(line);
    if (!code || code[0].length > this.nameCol) {
      const zone = CODE_ZONE_DIGIT_RE.exec(line);
      if (this.hasCurrency !== null && zone && zone[0].length <= this.nameCol) {
        fail(ErrorCodes.ParseLayout, `Daily Quotations line ${lineNo}: cannot read the stock code`, {
          line: lineNo,
          text: excerpt(line),
        });
      }
      return; // titles, sub-headings, the second header line, notes
    }
    this.securityLine(code, line, lineNo);
  }

  /**
   * The first line of a security (its code already matched): a suspended or halted security is
   * complete in this one line; any other waits, `pending`, for its second line.
   */
  private securityLine(code: RegExpExecArray, line: string, lineNo: number): void {
    const hasCurrency = this.hasCurrency;
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
    if (this.tradeDate === '') {
      fail(
        ErrorCodes.ParseLayout,
        'Daily Quotations report has no readable DATE line (e.g. "DATE: 02 OCT 2026 (FRIDAY)") before its quotations',
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
      const status = susp[2] === 'HALTED' ? 'halted' : 'suspended';
      this.push({ ...this.rowStart(stockCode, name, currency), status, flags, ...NO_FIGURES }, lineNo);
      return;
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
    this.pending = {
      lineNo,
      code: stockCode,
      flags,
      name,
      currency: hasCurrency ? m[2]! : null,
      values: values as string[],
    };
  }

  /** The second line of the pending security (closing, bid, low, turnover): the security's row. */
  private secondLine(p: PendingLine1, line: string, lineNo: number): void {
    const m = LINE2_RE.exec(line);
    if (!m || CODE_RE.test(line.slice(0, this.nameCol + 1))) {
      fail(
        ErrorCodes.ParseLayout,
        `Daily Quotations line ${lineNo}: expected the second line (closing, bid, low, turnover) of stock ${p.code}`,
        { line: lineNo, text: excerpt(line), code: p.code },
      );
    }
    const prevClose = num(p.values[0]!, 'previous close', p.lineNo);
    const ask = num(p.values[1]!, 'ask', p.lineNo);
    const high = num(p.values[2]!, 'high', p.lineNo);
    const volume = num(p.values[3]!, 'shares traded', p.lineNo);
    const closing = num(m[1]!, 'closing', lineNo);
    const bid = num(m[2]!, 'bid', lineNo);
    const low = num(m[3]!, 'low', lineNo);
    const turnover = num(m[4]!, 'turnover', lineNo);
    const noTrade = volume === null || volume === 0 || (high === null && low === null);
    this.push(
      {
        ...this.rowStart(p.code, p.name, p.currency),
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
  }

  /** The leading fields of a row: the security, this report's date and board. */
  private rowStart(code: string, name: string, currency: string | null) {
    return { code, trade_date: this.tradeDate, board: this.board, name, currency };
  }
}

/** A security's figures when the report prints none (suspended, halted). */
const NO_FIGURES = {
  prev_close: null,
  open: null,
  high: null,
  low: null,
  close: null,
  ask: null,
  bid: null,
  volume: null,
  turnover: null,
} as const;

/** Index of the `<a name="…">` anchor of `name` in `html`, or -1. */
function findAnchor(html: string, name: string): number {
  for (const m of html.matchAll(new RegExp(ANCHOR_RE))) if (m[1]!.toLowerCase() === name) return m.index;
  return -1;
}

/**
 * Parses an HKEX Daily Quotations report (`dYYMMDDe.htm`, or the GEM report `GEM/e_GYYMMDD.htm`
 * with `board: 'gem'`; give it text decoded from latin-1, see `decodeLatin1`). Reads the date line
 * and the `quotations` section (between its anchor and the closing rule of dashes / the next
 * anchor): two lines per security, or one line for `TRADING SUSPENDED` / `TRADING HALTED`. Markers
 * `*`/`#` beside the code go to `flags`. Line by line, see {@link QuotationsStreamParser} (which a
 * download feeds as the bytes arrive).
 *
 * status: `suspended` / `halted` (all figures null), `no_trade` (volume 0 or `-`, or high and low
 * both `-`; close keeps the printed closing, which the report fills with the previous close — if it
 * is `-` the previous close is used), else `traded`. `open` is always null: the report has none.
 *
 * Refuses: no quotations section → ParseMaintenance / ParseNoData when the page says so, else
 * ParseLayout; section cut short (no closing rule, no following section, or a security missing its
 * second line at the end) → ParseTruncated; unreadable lines, no date, no rows → ParseLayout.
 */
export function parseQuotations(
  text: string,
  opts: QuotationsParseOptions = {},
): { tradeDate: string; rows: QuoteRow[] } {
  const parser = new QuotationsStreamParser(opts);
  for (const line of text.split(/\r\n|\r|\n/)) {
    parser.line(line);
    if (parser.done) break;
  }
  return parser.end();
}

/**
 * Feeds latin-1 bytes, as they arrive in chunks, to a line consumer: splits on CRLF, LF or CR
 * (a CRLF cut between two chunks counts once). Call `end()` after the last chunk.
 */
export function latin1Lines(onLine: (line: string) => void): { write(chunk: Uint8Array): void; end(): void } {
  let carry = '';
  let lastWasCr = false;
  return {
    write(chunk) {
      let text = carry + decodeLatin1(chunk);
      if (lastWasCr && text.startsWith('\n')) text = text.slice(1);
      lastWasCr = text.endsWith('\r');
      const parts = text.split(/\r\n|\r|\n/);
      carry = parts.pop() ?? '';
      for (const p of parts) onLine(p);
    },
    end() {
      if (carry !== '') onLine(carry);
      carry = '';
    },
  };
}
