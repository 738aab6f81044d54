import { EventEmitter, once } from 'node:events';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { ErrorCodes, HarbourError, type SheetKind } from '../../contracts/index.ts';
import {
  ccassTop,
  dayBefore,
  type PriceRow,
  type PriceStats,
  priceRows,
  priceStats,
  type SummaryRow,
  summaryAsOf,
  summaryRows,
} from './queries.ts';

/** What one workbook holds. `codes` are 5-digit, unique, in the caller's order. */
export interface ExportParams {
  codes: string[];
  from: string;
  to: string;
  sheets: SheetKind[];
}

/**
 * The workbook ("the father's format", ARCHITECTURE.md → Exporter):
 *
 * - `Summary`, always first and always present (whatever `sheets` asks): title row stating the
 *   as-of date, frozen header, one row per asked code in the asked order: Code, Name, Last close,
 *   Change %, P/E, Dividend yield %, Month-to-date high, High date, Month-to-date low, Low date,
 *   30-day directed volume, CCASS top-10 %, Note. Every figure is as of the as-of date (the latest
 *   day of the range with a close for any asked code; see `summaryRows`). Unknown codes are listed
 *   with a note, and again in a Notes block under the table.
 * - one sheet per known stock named `<code> <short name>` (≤ 31 chars, no `\ / ? * [ ] :`, no `'`
 *   at the ends): title row, frozen header, Date (dd/mm/yyyy), Open (blank when no source gives
 *   it), High, Low, Close, Change %, Volume, Turnover (HKD), Directed volume, 30-day directed
 *   volume, Month-to-date high, High date, Month-to-date low, Low date (month-to-date: what was
 *   known on that row's day, never a later day of the month).
 * - optionally `CCASS <code>` right after the stock's sheet: the largest participants on the latest
 *   holding date on or before `to`, with their change against the previous holding date.
 *
 * Numbers carry thousands separators; negative directed volumes (and CCASS changes) are red (font
 * colour and the `[Red]` section of the number format). Column widths are computed before the
 * first row is written (a streamed sheet cannot widen later) from each column's largest value.
 *
 * Every text cell is an inline string (`t="inlineStr"`, `xml:space="preserve"`), never a formula
 * nor a formula's cached string result (`t="str"`, exceljs' default for plain strings, whose
 * leading spaces LibreOffice drops): a name such as ` =1+1` or `=HYPERLINK(…)` is shown exactly
 * as given and no reader evaluates it. `safeText` only drops XML-illegal control characters.
 *
 * Memory stays flat: the workbook is written with exceljs' streaming writer, rows are read in
 * keyset pages of `batchRows` (the next page read while one is written), each page's rows are
 * written at once (a price sheet's as their XML, `numberRowXml`), and after each page the writer
 * waits until the sheet's zip entry and the output stream have room (backpressure from the client).
 */
export interface WorkbookOptions {
  /** Rows per keyset page (default 1000). */
  batchRows?: number;
  /** Participants on a CCASS sheet (default 20). */
  ccassTop?: number;
  /** Server-side statement timeout for each query of the export (default 30 s). */
  statementTimeoutMs?: number;
  /** Stops the export (client gone, shutdown); the output stream is destroyed. */
  signal?: AbortSignal;
  generatedAt?: Date;
  /** Called after each page of rows written. */
  onRows?: (rows: number) => void;
}

export interface WorkbookStats {
  sheets: string[];
  rows: number;
  unknownCodes: string[];
}

/** A prepared export: summary read, widths known, one Postgres snapshot held until `write` or `release`. */
export interface WorkbookPlan {
  readonly params: ExportParams;
  /** The Summary's as-of date (latest day of the range with a close for any asked code), null when none. */
  readonly asOf: string | null;
  readonly summary: readonly SummaryRow[];
  /** Asked codes Harbour knows (has a name for), in the asked order. */
  readonly knownCodes: readonly string[];
  /** Asked codes Harbour does not know; listed on the Summary (row note and Notes block). */
  readonly unknownCodes: readonly string[];
  /** Sheet names in workbook order. */
  readonly sheetNames: readonly string[];
  /** A file name for Content-Disposition. */
  readonly filename: string;
  /** Streams the workbook into `out` and ends it; releases the snapshot. */
  write(out: Writable): Promise<WorkbookStats>;
  /** Gives the snapshot back without writing (idempotent). */
  release(): Promise<void>;
}

const PRICE_COLUMNS = [
  'Date',
  'Open',
  'High',
  'Low',
  'Close',
  'Change %',
  'Volume',
  'Turnover (HKD)',
  'Directed volume',
  '30-day directed volume',
  'Month-to-date high',
  'High date',
  'Month-to-date low',
  'Low date',
] as const;

const SUMMARY_COLUMNS = [
  'Code',
  'Name',
  'Last close',
  'Change %',
  'P/E',
  'Dividend yield %',
  'Month-to-date high',
  'High date',
  'Month-to-date low',
  'Low date',
  '30-day directed volume',
  'CCASS top-10 %',
  'Note',
] as const;

const CCASS_COLUMNS = [
  'Rank',
  'Participant ID',
  'Participant name',
  'Shareholding',
  '% of issued shares',
  'Change (shares)',
  'Change (% of issued)',
  'Change kind',
] as const;

export const SHEET_COLUMNS = {
  summary: SUMMARY_COLUMNS,
  prices: PRICE_COLUMNS,
  ccass: CCASS_COLUMNS,
} as const;

// Number formats: Excel and LibreOffice both honour the `[Red]` section.
const FMT = {
  date: 'dd/mm/yyyy',
  price: '#,##0.00#',
  pct: '#,##0.00;[Red]-#,##0.00',
  int: '#,##0',
  signedInt: '#,##0;[Red]-#,##0',
  ratio: '#,##0.00',
} as const;

const RED = { argb: 'FFC00000' };
type Style = Partial<ExcelJS.Style>;
const style = (numFmt: string, red = false): Style => (red ? { numFmt, font: { color: RED } } : { numFmt });
const S = {
  date: style(FMT.date),
  price: style(FMT.price),
  pct: style(FMT.pct),
  pctRed: style(FMT.pct, true),
  int: style(FMT.int),
  signed: style(FMT.signedInt),
  signedRed: style(FMT.signedInt, true),
  ratio: style(FMT.ratio),
  text: {} as Style,
  title: { font: { bold: true, size: 13 } } as Style,
  header: {
    font: { bold: true },
    fill: { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFD9E1F2' } },
    border: { bottom: { style: 'thin', color: { argb: 'FF8EA9DB' } } },
    alignment: { vertical: 'middle', wrapText: false },
  } as Style,
};
const FROZEN_HEADER: Partial<ExcelJS.WorksheetView>[] = [
  { state: 'frozen', xSplit: 0, ySplit: 2, topLeftCell: 'A3' },
];

/** Text of a cell: XML-illegal control characters dropped, everything else (leading spaces, `=`) kept. */
export function safeText(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping XML-illegal control characters on purpose
  return value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
}

/** A text cell's value: an inline string (see the module comment), shown exactly as given. */
function textCell(value: string): ExcelJS.CellRichTextValue {
  return { richText: [{ text: safeText(value) }] };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are not allowed in sheet names
const SHEET_NAME_FORBIDDEN = /[\\/?*[\]:\u0000-\u001F]/g;

/**
 * `<code> <short name>`: at most 31 characters, none of `\ / ? * [ ] :`, cut at a word boundary
 * when possible. Apostrophes stay inside (`00062 TRANSPORT INT'L`); Excel forbids them only at
 * the ends of a name, so a trailing one is dropped (the code keeps the start clean).
 */
export function stockSheetName(code: string, name: string | null): string {
  const cleaned = (name ?? '').replace(SHEET_NAME_FORBIDDEN, ' ').replace(/\s+/g, ' ').trim();
  let full = cleaned ? `${code} ${cleaned}` : code;
  if (full.length > 31) {
    const cut = full.slice(0, 31);
    const space = cut.lastIndexOf(' ');
    full = space > code.length + 6 ? cut.slice(0, space) : cut;
  }
  return full.replace(/[\s']+$/, '');
}

export const ccassSheetName = (code: string) => `CCASS ${code}`;

/**
 * `2026-10-30` → that day's Excel serial (days since 1899-12-30), the number exceljs writes for a
 * Date at UTC midnight: the cell is the same, without parsing a date string per cell.
 */
function excelDate(iso: string): number {
  return Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / 86_400_000 + 25_569;
}

/** `2026-10-30` → `30/10/2026`, the workbook's date style in text. */
export function dmy(iso: string): string {
  return `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
}

const numberText = (v: number, decimals: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });

/** Width (characters) a column needs for its header and its widest value. */
function width(header: string, widest: number, decimals: number, signed = false, min = 8): number {
  const text = numberText(widest, decimals);
  return Math.min(60, Math.max(min, header.length + 2, text.length + (signed ? 1 : 0) + 2));
}

function priceWidths(stats: PriceStats): number[] {
  return [
    12,
    width('Open', stats.price, 3),
    width('High', stats.price, 3),
    width('Low', stats.price, 3),
    width('Close', stats.price, 3),
    width('Change %', stats.changePct, 2, true),
    width('Volume', stats.volume, 0),
    width('Turnover (HKD)', stats.turnover, 0),
    width('Directed volume', stats.directedVolume, 0, true),
    width('30-day directed volume', stats.dv30, 0, true),
    width('Month-to-date high', stats.price, 3),
    12,
    width('Month-to-date low', stats.price, 3),
    12,
  ];
}

function maxAbs(values: (number | null)[]): number {
  let m = 0;
  for (const v of values) if (v !== null && Math.abs(v) > m) m = Math.abs(v);
  return m;
}

function textWidth(header: string, values: (string | null)[], min = 8, max = 60): number {
  let w = header.length + 2;
  for (const v of values) if (v) w = Math.max(w, v.length + 2);
  return Math.min(max, Math.max(min, w));
}

type Sheet = ExcelJS.Worksheet;

/**
 * Widths in characters plus Excel's own 0.43 padding; never exactly 9, which exceljs takes for its
 * default width and leaves out of the file.
 */
function setColumns(sheet: Sheet, widths: number[]): void {
  sheet.columns = widths.map((w) => ({ width: w + 0.43 }));
}

/** Row 1: one text cell (it overflows into the empty cells to its right). */
function addTitle(sheet: Sheet, title: string): void {
  const row = sheet.addRow([]);
  put(row, 1, title, S.title);
  row.height = 20;
  row.commit();
}

function addHeader(sheet: Sheet, labels: readonly string[]): void {
  const row = sheet.addRow([]);
  labels.forEach((label, i) => {
    put(row, i + 1, label, S.header);
  });
  row.commit();
}

/** Writes one cell; text becomes an inline string (`textCell`), null leaves the cell empty. */
function put(row: ExcelJS.Row, col: number, value: number | string | null, s: Style): void {
  if (value === null) return;
  const cell = row.getCell(col);
  cell.value = typeof value === 'string' ? textCell(value) : value;
  cell.style = s;
}

/*
 * exceljs' streaming writer has, at run time, members its types do not declare; they are read
 * here, never replaced: the workbook's `zip` (the archiver stream whose 'error' must fail the
 * export) and `styles` (style ids for the price rows Harbour renders), and a streamed sheet's
 * `stream` (price rows are written into it; its first pipe is the zip entry its bytes go into).
 * Each is checked at run time rather than cast, so an exceljs that renames one fails the export
 * (zip, styles, stream) or writes without waiting (the pipe) instead of reading an undefined member.
 */

/** A writable stream, as far as backpressure reads it (Node's streams and readable-stream 3 alike). */
interface DrainingStream extends EventEmitter {
  readonly writableNeedDrain?: boolean;
  readonly writableLength?: number;
  readonly writableHighWaterMark?: number;
}

function workbookZip(wb: ExcelJS.stream.xlsx.WorkbookWriter): EventEmitter {
  const zip = 'zip' in wb ? wb.zip : undefined;
  if (zip instanceof EventEmitter) return zip;
  throw new HarbourError(ErrorCodes.Unexpected, 'exceljs streaming workbook writer has no zip stream');
}

/** `owner[member]` when it is an object with a method `method`; otherwise the export fails. */
function memberWith(owner: object, member: string, method: string, what: string): object {
  const value: unknown = member in owner ? (owner as Record<string, unknown>)[member] : undefined;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[method] === 'function'
  )
    return value;
  throw new HarbourError(ErrorCodes.Unexpected, `exceljs ${what} has no ${member}`);
}

/** A streamed sheet's own stream: its committed rows' XML is written into it (`numberRowXml`). */
const sheetStream = (sheet: Sheet) =>
  memberWith(sheet, 'stream', 'write', 'streamed worksheet') as { write(xml: string): unknown };

/** The workbook's style ids (exceljs' `styles`; a style gets its id, and its XML, on first use). */
function styleIds(wb: ExcelJS.stream.xlsx.WorkbookWriter): (s: Style) => number {
  const styles = memberWith(wb, 'styles', 'addStyleModel', 'streaming workbook writer') as {
    addStyleModel(s: Style): number;
  };
  return (s) => styles.addStyleModel(s);
}

/** The stream a streamed sheet's bytes go through on their way into the zip, when there is one. */
function sheetPipe(sheet: Sheet): DrainingStream | undefined {
  const stream = 'stream' in sheet ? sheet.stream : undefined;
  if (typeof stream !== 'object' || stream === null || !('pipes' in stream) || !Array.isArray(stream.pipes))
    return undefined;
  const pipe: unknown = stream.pipes[0];
  return pipe instanceof EventEmitter ? pipe : undefined;
}

/**
 * True when the stream's buffer is full. The zip entry streams of archiver (readable-stream 3,
 * under exceljs 4.4) have no `writableNeedDrain`; their buffered length against the high-water
 * mark says the same (a write that filled it returned false, so 'drain' follows).
 */
function needsDrain(s: DrainingStream): boolean {
  return (
    s.writableNeedDrain ?? (s.writableLength ?? 0) >= (s.writableHighWaterMark ?? Number.POSITIVE_INFINITY)
  );
}

/**
 * Waits until the sheet's zip entry and the output have room: a client that reads slowly (or not at
 * all) holds the export at its own pace instead of the workbook piling up in memory.
 */
async function backpressure(sheet: Sheet, { out, signal }: Pace): Promise<void> {
  const pipe = sheetPipe(sheet);
  if (pipe && needsDrain(pipe)) await once(pipe, 'drain', { signal });
  if (needsDrain(out)) await once(out, 'drain', { signal });
  signal.throwIfAborted();
}

/** What a sheet writer paces itself by: the export's abort signal and the output it writes to. */
interface Pace {
  signal: AbortSignal;
  out: DrainingStream;
}

/** The download's file name: `harbour-<codes or N-stocks>-<from>-<to>.xlsx`. */
export function workbookFileName(params: ExportParams): string {
  const who = params.codes.length <= 3 ? params.codes.join('-') : `${params.codes.length}-stocks`;
  return `harbour-${who}-${params.from}-${params.to}.xlsx`;
}

/**
 * Reads what must be known before the first byte (the summary: names, unknown codes) inside one
 * read-only repeatable-read transaction, kept open so every sheet sees the same snapshot.
 */
export async function prepareWorkbook(
  pool: pg.Pool,
  params: ExportParams,
  opts: WorkbookOptions = {},
): Promise<WorkbookPlan> {
  const batchRows = opts.batchRows ?? 1000;
  const topN = opts.ccassTop ?? 20;
  const client = await pool.connect();
  let released = false;
  const release = async (commit = false) => {
    if (released) return;
    released = true;
    try {
      await client.query(commit ? 'commit' : 'rollback');
      client.release();
    } catch (err) {
      client.release(err as Error);
    }
  };
  try {
    await client.query('begin isolation level repeatable read read only');
    await client.query(
      `set local statement_timeout = ${Math.max(1, Math.floor(opts.statementTimeoutMs ?? 30_000))}`,
    );
    const asOf = await summaryAsOf(client, params.codes, params.from, params.to);
    const summary = await summaryRows(client, params.codes, params.from, asOf);
    const known = summary.filter((r) => r.name !== null);
    const unknownCodes = summary.filter((r) => r.name === null).map((r) => r.code);
    const want = (k: SheetKind) => params.sheets.includes(k);
    // The Summary is always written: it is where unknown codes and the as-of date are stated.
    const sheetNames: string[] = ['Summary'];
    for (const r of known) {
      if (want('prices')) sheetNames.push(stockSheetName(r.code, r.name));
      if (want('ccass')) sheetNames.push(ccassSheetName(r.code));
    }

    const write = async (out: Writable): Promise<WorkbookStats> => {
      const controller = new AbortController();
      const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
      const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
        stream: out,
        useStyles: true,
        useSharedStrings: false,
      });
      wb.creator = 'Harbour';
      wb.created = opts.generatedAt ?? new Date();
      const zip = workbookZip(wb);
      const fail = (err: unknown) => controller.abort(err);
      zip.on('error', fail);
      out.on('error', fail);
      out.on('close', () => {
        if (!out.writableFinished)
          controller.abort(
            new HarbourError(ErrorCodes.Unexpected, 'output closed before the workbook was complete'),
          );
      });
      let rows = 0;
      try {
        writeSummary(wb, params, asOf, summary, opts.generatedAt ?? new Date());
        for (const r of known) {
          signal.throwIfAborted();
          if (want('prices')) {
            rows += await writePriceSheet(wb, client, r, params, batchRows, { signal, out }, opts.onRows);
          }
          if (want('ccass')) rows += await writeCcassSheet(wb, client, r, params, topN, { signal, out });
        }
        await Promise.race([
          wb.commit(),
          new Promise<never>((_, reject) => {
            if (signal.aborted) reject(signal.reason);
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
        ]);
        await release(true);
        return { sheets: sheetNames, rows, unknownCodes };
      } catch (err) {
        out.destroy(err as Error);
        throw err;
      } finally {
        await release();
      }
    };
    return {
      params,
      asOf,
      summary,
      knownCodes: known.map((r) => r.code),
      unknownCodes,
      sheetNames,
      filename: workbookFileName(params),
      write,
      release: () => release(),
    };
  } catch (err) {
    await release();
    throw err;
  }
}

/** Prepares and writes in one go (the reporter's attachment, the CLI, the benchmark). */
export async function writeWorkbook(
  pool: pg.Pool,
  params: ExportParams,
  out: Writable,
  opts: WorkbookOptions = {},
): Promise<WorkbookStats> {
  const plan = await prepareWorkbook(pool, params, opts);
  return plan.write(out);
}

function writeSummary(
  wb: ExcelJS.stream.xlsx.WorkbookWriter,
  params: ExportParams,
  asOf: string | null,
  rows: readonly SummaryRow[],
  at: Date,
) {
  const sheet = wb.addWorksheet('Summary', { views: FROZEN_HEADER });
  const notes = rows.map((r) => {
    if (r.name === null) return 'unknown code: Harbour has no prices for it';
    if (!r.lastDate) return `no prices between ${dmy(params.from)} and ${dmy(params.to)}`;
    if (asOf && r.lastDate < asOf) return `last traded ${dmy(r.lastDate)}`;
    return '';
  });
  const unknown = rows.filter((r) => r.name === null).map((r) => r.code);
  const noteLines = [
    asOf
      ? `Every figure is as of ${dmy(asOf)}, the last day from ${dmy(params.from)} to ${dmy(params.to)} with prices; month-to-date high/low run from the 1st of the month to each stock's last traded day.`
      : `No prices between ${dmy(params.from)} and ${dmy(params.to)} for the asked codes, so no figures.`,
    unknown.length
      ? `Unknown codes (no prices for them in Harbour, no sheets): ${unknown.join(', ')}.`
      : 'Unknown codes: none.',
  ];
  setColumns(sheet, [
    8,
    textWidth(
      'Name',
      rows.map((r) => r.name),
    ),
    width('Last close', maxAbs(rows.map((r) => r.lastClose)), 3),
    width('Change %', maxAbs(rows.map((r) => r.changePct)), 2, true),
    width('P/E', maxAbs(rows.map((r) => r.pe)), 2),
    width('Dividend yield %', maxAbs(rows.map((r) => r.dividendYield)), 2),
    width('Month-to-date high', maxAbs(rows.map((r) => r.monthHigh)), 3),
    12,
    width('Month-to-date low', maxAbs(rows.map((r) => r.monthLow)), 3),
    12,
    width('30-day directed volume', maxAbs(rows.map((r) => r.dv30)), 0, true),
    width('CCASS top-10 %', maxAbs(rows.map((r) => r.ccassTop10Pct)), 2),
    textWidth('Note', notes),
  ]);
  const stamp = `${dmy(at.toISOString().slice(0, 10))} ${at.toISOString().slice(11, 16)} UTC`;
  addTitle(
    sheet,
    `Harbour export: ${rows.length} ${rows.length === 1 ? 'code' : 'codes'}, ${dmy(params.from)} to ${dmy(params.to)}; ` +
      `as of ${asOf ? dmy(asOf) : 'n/a (no prices in the range)'}; generated ${stamp}`,
  );
  addHeader(sheet, SUMMARY_COLUMNS);
  rows.forEach((r, i) => {
    const row = sheet.addRow([]);
    put(row, 1, r.code, S.text);
    put(row, 2, r.name, S.text);
    put(row, 3, r.lastClose, S.price);
    put(row, 4, r.changePct, r.changePct !== null && r.changePct < 0 ? S.pctRed : S.pct);
    put(row, 5, r.pe, S.ratio);
    put(row, 6, r.dividendYield, S.ratio);
    put(row, 7, r.monthHigh, S.price);
    put(row, 8, r.monthHighDate && excelDate(r.monthHighDate), S.date);
    put(row, 9, r.monthLow, S.price);
    put(row, 10, r.monthLowDate && excelDate(r.monthLowDate), S.date);
    put(row, 11, r.dv30, r.dv30 !== null && r.dv30 < 0 ? S.signedRed : S.signed);
    put(row, 12, r.ccassTop10Pct, S.ratio);
    if (notes[i]) put(row, 13, notes[i] as string, S.text);
    row.commit();
  });
  // The Notes block: a blank row, then `Notes` and one line per note in column A (overflowing right).
  sheet.addRow([]).commit();
  const head = sheet.addRow([]);
  put(head, 1, 'Notes', S.title);
  head.commit();
  for (const line of noteLines) {
    const row = sheet.addRow([]);
    put(row, 1, line, S.text);
    row.commit();
  }
  sheet.commit();
}

/** A price row's cells in column order: value (null: no cell) and style. */
function priceCells(r: PriceRow): [number | null, Style][] {
  return [
    [excelDate(r.date), S.date],
    [r.open, S.price],
    [r.high, S.price],
    [r.low, S.price],
    [r.close, S.price],
    [r.changePct, r.changePct !== null && r.changePct < 0 ? S.pctRed : S.pct],
    [r.volume, S.int],
    [r.turnover, S.int],
    [r.directedVolume, r.directedVolume !== null && r.directedVolume < 0 ? S.signedRed : S.signed],
    [r.dv30, r.dv30 !== null && r.dv30 < 0 ? S.signedRed : S.signed],
    [r.monthHigh, S.price],
    [r.monthHighDate === null ? null : excelDate(r.monthHighDate), S.date],
    [r.monthLow, S.price],
    [r.monthLowDate === null ? null : excelDate(r.monthLowDate), S.date],
  ];
}

const COLUMN_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Row `n` of numeric cells (at most 26 columns), as exceljs renders it for cells written by `put`
 * and committed (same elements, attributes and order, so the same file): a price sheet's rows are
 * rendered here because exceljs' per-cell objects and XML building were most of an export's CPU.
 * `styleId` must be called in cell order, as exceljs does, so styles get the same ids.
 */
function numberRowXml(n: number, cells: [number | null, Style][], styleId: (s: Style) => number): string {
  let xml = '';
  let min = 0;
  let max = 0;
  cells.forEach(([value, s], i) => {
    if (value === null) return;
    min ||= i + 1;
    max = i + 1;
    const id = styleId(s);
    xml += `<c r="${COLUMN_LETTERS[i]}${n}"${id ? ` s="${id}"` : ''}><v>${value}</v></c>`;
  });
  return `<row r="${n}" spans="${min}:${max}" x14ac:dyDescent="0.25">${xml}</row>`;
}

async function writePriceSheet(
  wb: ExcelJS.stream.xlsx.WorkbookWriter,
  db: pg.PoolClient,
  stock: SummaryRow,
  params: ExportParams,
  batchRows: number,
  pace: Pace,
  onRows?: (n: number) => void,
): Promise<number> {
  // Widths before the first row (a streamed sheet cannot widen later): from the widest values.
  const stats = await priceStats(db, stock.code, params.from, params.to);
  const sheet = wb.addWorksheet(stockSheetName(stock.code, stock.name), { views: FROZEN_HEADER });
  setColumns(sheet, priceWidths(stats));
  addTitle(sheet, `${stock.code} ${stock.name ?? ''}: daily prices ${dmy(params.from)} to ${dmy(params.to)}`);
  addHeader(sheet, PRICE_COLUMNS);
  // Title (row 1) and header (row 2) are committed, so written: price rows follow them from row 3.
  const stream = sheetStream(sheet);
  const styleId = styleIds(wb);
  let rowNumber = 2;
  const read = (after: string) => {
    const page = priceRows(db, stock.code, after, params.to, batchRows);
    page.catch(() => {}); // awaited below; an export stopped before reading it must not leave it unhandled
    return page;
  };
  let next = read(dayBefore(params.from));
  let total = 0;
  for (;;) {
    pace.signal.throwIfAborted();
    const page = await next;
    const more = page.length === batchRows;
    // The next page is queried before this one is written: Postgres reads while rows are rendered
    // (two pages in memory at most).
    if (more) next = read((page[page.length - 1] as PriceRow).date);
    stream.write(page.map((r) => numberRowXml(++rowNumber, priceCells(r), styleId)).join(''));
    total += page.length;
    if (page.length) onRows?.(page.length);
    await backpressure(sheet, pace);
    if (!more) break;
  }
  sheet.commit();
  return total;
}

async function writeCcassSheet(
  wb: ExcelJS.stream.xlsx.WorkbookWriter,
  db: pg.PoolClient,
  stock: SummaryRow,
  params: ExportParams,
  topN: number,
  pace: Pace,
): Promise<number> {
  const top = await ccassTop(db, stock.code, params.to, topN);
  const sheet = wb.addWorksheet(ccassSheetName(stock.code), { views: FROZEN_HEADER });
  const holders = top?.holders ?? [];
  setColumns(sheet, [
    6,
    textWidth(
      'Participant ID',
      holders.map((h) => h.participantId),
      10,
      16,
    ),
    textWidth(
      'Participant name',
      holders.map((h) => safeText(h.participantName)),
      16,
      60,
    ),
    width('Shareholding', maxAbs(holders.map((h) => h.shareholding)), 0),
    width('% of issued shares', maxAbs(holders.map((h) => h.pctIssued)), 2),
    width('Change (shares)', maxAbs(holders.map((h) => h.changeShares)), 0, true),
    width('Change (% of issued)', maxAbs(holders.map((h) => h.changePctIssued)), 2, true),
    12,
  ]);
  const title = top
    ? `CCASS ${stock.code} ${stock.name ?? ''}: holdings on ${dmy(top.holdingDate)}` +
      (top.prevHoldingDate ? `, change since ${dmy(top.prevHoldingDate)}` : '') +
      (top.top10Pct !== null ? `; top-10 hold ${numberText(top.top10Pct, 2)} % of issued shares` : '')
    : `CCASS ${stock.code} ${stock.name ?? ''}: no CCASS holdings on or before ${dmy(params.to)}`;
  addTitle(sheet, title);
  addHeader(sheet, CCASS_COLUMNS);
  for (const h of holders) {
    const row = sheet.addRow([]);
    put(row, 1, h.rank, S.int);
    put(row, 2, h.participantId, S.text);
    put(row, 3, h.participantName, S.text);
    put(row, 4, h.shareholding, S.int);
    put(row, 5, h.pctIssued, S.ratio);
    put(row, 6, h.changeShares, h.changeShares < 0 ? S.signedRed : S.signed);
    put(row, 7, h.changePctIssued, h.changePctIssued !== null && h.changePctIssued < 0 ? S.pctRed : S.pct);
    put(row, 8, h.kind, S.text);
    row.commit();
  }
  await backpressure(sheet, pace);
  sheet.commit();
  return holders.length;
}
