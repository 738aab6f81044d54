/**
 * Loads the real HKEX samples once per directory and derives what the generators need from them:
 * the CCASS page template and participant pool (00700 page), long stock names (CCASS stock list) and
 * security attributes (List of Securities workbook). Samples are only read, never written.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { readFirstSheetRows } from '../../services/scrapers/parsers/xlsx-stream.ts';

export const SAMPLE_FILES = {
  ccass00700: 'ccass/00700-2019-10-29.html',
  stockListHtml: 'ccass-stocklist/stocklist-html-2019-10-27.html',
  securities: 'securities-list/ListOfSecurities-2021-10-11.xlsx',
} as const;

/** The real page: 00700 holdings on this date are served byte for byte. */
export const CCASS_SAMPLE = { code: '00700', date: '2019-10-29' } as const;

export interface SampleParticipant {
  /** Empty for consenting investor participants. */
  id: string;
  name: string;
  address: string;
  shares: number;
}

export interface CcassTemplate {
  /** Page start up to the result area; placeholders {{VIEWSTATE}} {{TODAY}} {{SORTBY}} {{SORTDIR}} {{ALERT}} {{DATE_YMD}} {{DATE_DMY}} {{CODE}} {{NAME}}. */
  pageHead: string;
  /** Page end after the result area; {{MAXDATE}} {{MINDATE}}. */
  pageTail: string;
  /** Result area up to and including `<tbody>`: {{S0}}…{{S11}} summary values, {{ISSUED}}. */
  resultHead: string;
  /** One detail row incl. leading whitespace: {{ID}} {{PNAME}} {{ADDR}} {{SH}} {{PCT}}. */
  row: string;
  /** From the whitespace before `</tbody>` to the end of the result area. */
  resultTail: string;
}

export interface SecuritySample {
  code: string;
  name: string;
  category: string;
  subCategory: string;
  boardLot: string;
  parValue: string;
  isin: string;
  expiry: string;
  stampDuty: string;
  shortsell: string;
  cas: string;
  vcm: string;
  options: string;
  futures: string;
  ccass: string;
  etfManager: string;
  debtLot: string;
  debtInvestor: string;
  pos: string;
  spread: string;
}

export interface Samples {
  dir: string;
  ccassSampleBytes: Buffer;
  ccassTemplate: CcassTemplate;
  /** Detail rows of the real 00700 page in page order (shareholding desc). */
  ccassParticipants: SampleParticipant[];
  ccassSummary: {
    issued: number;
    nonConsentingShares: number;
    nonConsentingCount: number;
  };
  /** code → long name, from the 2019 CCASS stock list. */
  longNames: Map<string, string>;
  /** code → row of the 2021 List of Securities. */
  securities: Map<string, SecuritySample>;
  /** Header row (row 3) texts of the real workbook, A..T. */
  securitiesHeader: string[];
}

const cache = new Map<string, Promise<Samples>>();

/** Loads (once per directory) and derives everything from the samples. */
export function loadSamples(dir: string): Promise<Samples> {
  const key = path.resolve(dir);
  let p = cache.get(key);
  if (!p) {
    p = doLoad(key);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function doLoad(dir: string): Promise<Samples> {
  const read = async (rel: string) => {
    try {
      return await readFile(path.join(dir, rel));
    } catch (err) {
      throw new HarbourError(
        ErrorCodes.Config,
        `fixture site: cannot read sample ${rel} in ${dir}: ${(err as Error).message}`,
      );
    }
  };
  const [ccassBytes, stockListBytes, xlsxBytes] = await Promise.all([
    read(SAMPLE_FILES.ccass00700),
    read(SAMPLE_FILES.stockListHtml),
    read(SAMPLE_FILES.securities),
  ]);
  const ccassHtml = ccassBytes.toString('utf8');
  const { template, participants, summary } = deriveCcass(ccassHtml);
  const longNames = parseStockListHtml(stockListBytes.toString('utf8'));
  const { rows, header } = await parseSecuritiesXlsx(xlsxBytes);
  return {
    dir,
    ccassSampleBytes: ccassBytes,
    ccassTemplate: template,
    ccassParticipants: participants,
    ccassSummary: summary,
    longNames,
    securities: rows,
    securitiesHeader: header,
  };
}

function layoutError(message: string): HarbourError {
  return new HarbourError(ErrorCodes.ParseLayout, `fixture site: CCASS sample template: ${message}`);
}

/** Replaces exactly one occurrence of `re` (throws if the sample's structure is not as expected). */
function replaceOne(s: string, re: RegExp, repl: string, what: string): string {
  const flags = re.flags.includes('g') ? re.flags : `${re.flags}g`;
  const all = s.match(new RegExp(re.source, flags));
  if (all?.length !== 1) throw layoutError(`expected one ${what}, found ${all?.length ?? 0}`);
  return s.replace(re, repl);
}

/** Index just past the `</div>` closing the `<div` that starts at `start`. */
function divEnd(html: string, start: number): number {
  const re = /<div\b|<\/div>/g;
  re.lastIndex = start;
  let depth = 0;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    depth += m[0] === '</div>' ? -1 : 1;
    if (depth === 0) return m.index + m[0].length;
  }
  throw layoutError('unbalanced <div>');
}

const BODY_RE = /<div class="mobile-list-body">([^<]*)<\/div>/g;

function numberOf(s: string): number {
  return Number(s.replace(/,/g, '').trim());
}

/** A template slot: the sample text `re` matches (exactly once) becomes `repl`; `what` names it in errors. */
type Slot = readonly [re: RegExp, repl: string, what: string];

/** The page head's slots: the form's hidden fields and text boxes, and the mobile view's date and stock. */
const HEAD_SLOTS: readonly Slot[] = [
  [
    /(<input type="hidden" name="__VIEWSTATE" id="__VIEWSTATE" value=")[^"]*(" \/>)/,
    '$1{{VIEWSTATE}}$2',
    '__VIEWSTATE',
  ],
  [/(name="today" id="today" value=")[^"]*(")/, '$1{{TODAY}}$2', 'today'],
  [/(name="sortBy" id="sortBy" value=")[^"]*(")/, '$1{{SORTBY}}$2', 'sortBy'],
  [
    /(name="sortDirection" id="sortDirection" value=")[^"]*(" \/>)/,
    // The 2026 form (09868 captures) also carries originalShareholdingDate and has no
    // __EVENTVALIDATION; the 2019 sample this template comes from has neither.
    '$1{{SORTDIR}}$2\n\t<input type="hidden" name="originalShareholdingDate" id="originalShareholdingDate" value="{{DATE_YMD}}" />',
    'sortDirection',
  ],
  [/(name="alertMsg" id="alertMsg")( \/>)/, '$1{{ALERT}}$2', 'alertMsg'],
  [/(name="txtShareholdingDate" type="text" value=")[^"]*(")/, '$1{{DATE_YMD}}$2', 'txtShareholdingDate'],
  [/(name="txtStockCode" type="text" value=")[^"]*(")/, '$1{{CODE}}$2', 'txtStockCode'],
  [/(name="txtStockName" type="text" value=")[^"]*(")/, '$1{{NAME}}$2', 'txtStockName'],
  [/(<b>Shareholding Date: <\/b>\s*)\d{2}\/\d{2}\/\d{4}/, '$1{{DATE_DMY}}', 'mobile shareholding date'],
  [
    /(<div class="search-bar__selectedItem-filter searchStock">\s*)\d{5} <b>[^<]*<\/b>/,
    '$1{{CODE}} <b>{{NAME}}</b>',
    'mobile stock',
  ],
];

/** The page tail's slots: the date picker's bounds. */
const TAIL_SLOTS: readonly Slot[] = [
  [/(MAX: new Date\(')[^']*('\))/, '$1{{MAXDATE}}$2', 'MAX date'],
  [/(options\.MIN = new Date\(')[^']*('\))/, '$1{{MINDATE}}$2', 'MIN date'],
  [/(attr\('data-reset', ')[^']*('\))/, '$1{{MAXDATE}}$2', 'data-reset'],
];

function fillSlots(s: string, slots: readonly Slot[]): string {
  return slots.reduce((text, [re, repl, what]) => replaceOne(text, re, repl, what), s);
}

/** The sample page as the CCASS templates (see {@link CcassTemplate}), its participants and its summary figures. */
export function deriveCcass(html: string): {
  template: CcassTemplate;
  participants: SampleParticipant[];
  summary: Samples['ccassSummary'];
} {
  const resStart = html.indexOf('<div class="ccass-search-result">');
  if (resStart < 0) throw layoutError('no .ccass-search-result');
  const resEnd = divEnd(html, resStart);
  const pageHead = fillSlots(html.slice(0, resStart), HEAD_SLOTS);
  const pageTail = fillSlots(html.slice(resEnd), TAIL_SLOTS);
  const result = resultTemplate(html.slice(resStart, resEnd));
  return {
    template: {
      pageHead,
      pageTail,
      resultHead: result.resultHead,
      row: result.row,
      resultTail: result.resultTail,
    },
    participants: participantsOf(result.body),
    summary: {
      issued: numberOf(result.issuedText),
      nonConsentingShares: numberOf(result.summaryValues[6] ?? '0'),
      nonConsentingCount: numberOf(result.summaryValues[7] ?? '0'),
    },
  };
}

/**
 * The result area split around its table body: the head (summary values → {{S0}}…{{S11}}, issued
 * shares → {{ISSUED}}), the first detail row as the row template, and the tail; with the sample's
 * own summary texts and detail rows.
 */
function resultTemplate(result: string): Pick<CcassTemplate, 'resultHead' | 'row' | 'resultTail'> & {
  /** The sample's detail rows (the table body). */
  body: string;
  /** The 12 summary texts: 4 rows × (shareholding, participants, %). */
  summaryValues: string[];
  issuedText: string;
} {
  const tbodyOpen = result.indexOf('<tbody>');
  const tbodyClose = result.lastIndexOf('</tbody>');
  if (tbodyOpen < 0 || tbodyClose < 0) throw layoutError('no <tbody>');
  const body = result.slice(tbodyOpen + '<tbody>'.length, tbodyClose);
  const firstTr = body.indexOf('<tr>');
  const firstTrEnd = body.indexOf('</tr>') + '</tr>'.length;
  const lastTrEnd = body.lastIndexOf('</tr>') + '</tr>'.length;

  const summaryValues: string[] = [];
  let resultHead = result
    .slice(0, tbodyOpen + '<tbody>'.length)
    .replace(/(<div class="value">)([^<]*)(<\/div>)/g, (_m, a: string, v: string, b: string) => {
      summaryValues.push(v);
      return `${a}{{S${summaryValues.length - 1}}}${b}`;
    });
  if (summaryValues.length !== 12)
    throw layoutError(`expected 12 summary values, found ${summaryValues.length}`);
  resultHead = replaceOne(
    resultHead,
    /(<div class="summary-value">)([^<]*)(<\/div>)/,
    '$1{{ISSUED}}$3',
    'issued shares',
  );

  const keys = ['ID', 'PNAME', 'ADDR', 'SH', 'PCT'];
  let k = 0;
  const row = (body.slice(0, firstTr) + body.slice(firstTr, firstTrEnd)).replace(
    BODY_RE,
    () => `<div class="mobile-list-body">{{${keys[k++] ?? 'X'}}}</div>`,
  );
  if (k !== 5) throw layoutError(`expected 5 values per row, found ${k}`);
  return {
    resultHead,
    row,
    resultTail: body.slice(lastTrEnd) + result.slice(tbodyClose),
    body,
    summaryValues,
    issuedText: /<div class="summary-value">([^<]*)<\/div>/.exec(result)?.[1] ?? '',
  };
}

/** The detail rows of a result table body (rows without the 5 values are skipped). */
function participantsOf(body: string): SampleParticipant[] {
  const participants: SampleParticipant[] = [];
  for (const tr of body.split('</tr>')) {
    const vals = [...tr.matchAll(BODY_RE)].map((m) => m[1]!.trim());
    if (vals.length !== 5) continue;
    participants.push({ id: vals[0]!, name: vals[1]!, address: vals[2]!, shares: numberOf(vals[3]!) });
  }
  return participants;
}

/** The legacy HTML stock list: code (padded with whitespace) and name in `<a onclick="ssc(this)">`. */
export function parseStockListHtml(html: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<td style="text-align: center;">\s*(\d{5})\s*<\/td>\s*<td[^>]*>\s*<a[^>]*>\s*([^<]*?)\s*<\/a>/g;
  for (const m of html.matchAll(re)) out.set(m[1]!, m[2]!);
  return out;
}

const COLS = 'ABCDEFGHIJKLMNOPQRST'.split('');

/**
 * Reads the real workbook's single sheet with the scrapers' own streaming xlsx reader (the one that
 * reads the live file), so the fixture site and the parser agree on what the sample says. Row 3 is
 * the header (T3 is a shared rich string); data rows start at 4.
 */
export async function parseSecuritiesXlsx(
  bytes: Buffer,
): Promise<{ rows: Map<string, SecuritySample>; header: string[] }> {
  const rows = new Map<string, SecuritySample>();
  let header: string[] = [];
  for await (const row of readFirstSheetRows(bytes)) {
    const r = row.number;
    if (r < 3) continue;
    const cells: Record<string, string> = {};
    COLS.forEach((c, i) => {
      cells[c] = row.cells[i] ?? '';
    });
    if (r === 3) {
      header = COLS.map((c) => cells[c] ?? '');
      continue;
    }
    const code = (cells.A ?? '').trim();
    if (!/^\d{5}$/.test(code)) continue;
    const v = (c: string) => cells[c] ?? '';
    rows.set(code, {
      code,
      name: v('B'),
      category: v('C'),
      subCategory: v('D'),
      boardLot: v('E'),
      parValue: v('F'),
      isin: v('G'),
      expiry: v('H'),
      stampDuty: v('I'),
      shortsell: v('J'),
      cas: v('K'),
      vcm: v('L'),
      options: v('M'),
      futures: v('N'),
      ccass: v('O'),
      etfManager: v('P'),
      debtLot: v('Q'),
      debtInvestor: v('R'),
      pos: v('S'),
      spread: v('T'),
    });
  }
  return { rows, header };
}
