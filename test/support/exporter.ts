import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { which } from '../../ops/launcher/programs.ts';

/**
 * Test helpers shared by the exporter and reporter tests: independent reads of the gold tables
 * (what a workbook must contain), reading a workbook back with exceljs, and LibreOffice headless
 * conversion of every sheet to CSV. Not used in production code.
 */
const exec = promisify(execFile);

export interface GoldPriceRow {
  date: string;
  status: string;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  change: number | null;
  volume: number | null;
  turnover: number | null;
  dv: number | null;
  dv30: number | null;
  /** Month-to-date, computed here from the raw rows of the month up to this row's date. */
  monthHigh: number | null;
  monthHighDate: string | null;
  monthLow: number | null;
  monthLowDate: string | null;
}

/**
 * A stock's gold rows in `from`…`to` with month-to-date high/low computed independently of the
 * exporter: over every row of the month (also those before `from`) up to and including the row's
 * day, the first day reaching the extreme.
 */
export async function goldPrices(
  pool: pg.Pool,
  code: string,
  from: string,
  to: string,
): Promise<GoldPriceRow[]> {
  const { rows } = await pool.query<
    Omit<GoldPriceRow, 'monthHigh' | 'monthHighDate' | 'monthLow' | 'monthLowDate'>
  >(
    `select p.trade_date::text as date, p.status, p.open::float8 as open, p.high::float8 as high,
            p.low::float8 as low, p.close::float8 as close, p.change_pct::float8 as change,
            p.volume::float8 as volume, p.turnover::float8 as turnover, p.directed_volume::float8 as dv,
            r.dv_30d_trading::float8 as dv30
     from gold.daily_prices p
     left join gold.rolling_directed_volume r on r.code = p.code and r.trade_date = p.trade_date
     where p.code = $1 and p.trade_date between $2 and $3 order by p.trade_date`,
    [code, `${from.slice(0, 8)}01`, to],
  );
  const out: GoldPriceRow[] = [];
  let month = '';
  let hi: { v: number; d: string } | null = null;
  let lo: { v: number; d: string } | null = null;
  for (const r of rows) {
    if (r.date.slice(0, 7) !== month) {
      month = r.date.slice(0, 7);
      hi = null;
      lo = null;
    }
    if (r.high !== null && (!hi || r.high > hi.v)) hi = { v: r.high, d: r.date };
    if (r.low !== null && (!lo || r.low < lo.v)) lo = { v: r.low, d: r.date };
    if (r.date < from) continue;
    out.push({
      ...r,
      monthHigh: hi?.v ?? null,
      monthHighDate: hi?.d ?? null,
      monthLow: lo?.v ?? null,
      monthLowDate: lo?.d ?? null,
    });
  }
  return out;
}

/** A cell's value as a plain number/string/ISO date/null. */
export function cellValue(cell: ExcelJS.Cell): number | string | null {
  const v = cell.value;
  if (v === null || v === undefined || v === '') return null;
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'object' && 'richText' in v) return v.richText.map((t) => t.text).join('');
  return JSON.stringify(v);
}

export async function readWorkbook(bytes: Uint8Array): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(Buffer.from(bytes) as unknown as ArrayBuffer);
  return wb;
}

export function sheetRows(ws: ExcelJS.Worksheet, first = 1): (number | string | null)[][] {
  const out: (number | string | null)[][] = [];
  for (let r = first; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    const cells: (number | string | null)[] = [];
    for (let c = 1; c <= ws.columnCount; c++) cells.push(cellValue(row.getCell(c)));
    out.push(cells);
  }
  return out;
}

/** Path of LibreOffice's `soffice`, or null when it is not installed. */
export function findSoffice(): Promise<string | null> {
  return which('soffice');
}

/**
 * Converts every sheet of `xlsx` to CSV with LibreOffice headless, values "as shown" (formatted:
 * dd/mm/yyyy, thousands separators). Returns sheet name → rows of cells.
 */
export async function libreOfficeCsv(
  soffice: string,
  bytes: Uint8Array,
  dir: string,
): Promise<Map<string, string[][]>> {
  const file = join(dir, 'book.xlsx');
  await writeFile(file, bytes);
  // Tokens: separator ",", quote '"', UTF-8, from line 1, default formats, language, quoted-as-text
  // off, detect numbers on, save as shown ON, formulas off, trim off, sheet -1 = every sheet to its own file.
  const filter = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,true,true,false,false,-1';
  await exec(
    soffice,
    [
      '--headless',
      '--norestore',
      `-env:UserInstallation=file://${join(dir, 'lo-profile')}`,
      '--convert-to',
      filter,
      '--outdir',
      dir,
      file,
    ],
    {
      timeout: 60_000,
    },
  );
  const out = new Map<string, string[][]>();
  for (const f of await readdir(dir)) {
    const m = /^book-(.+)\.csv$/.exec(f);
    if (m) out.set(m[1] as string, parseCsv(await readFile(join(dir, f), 'utf8')));
  }
  return out;
}

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** What LibreOffice shows for a number in the workbook's formats. */
export function shown(v: number | null, decimals: number, minDecimals = decimals): string {
  if (v === null) return '';
  return v.toLocaleString('en-US', { minimumFractionDigits: minDecimals, maximumFractionDigits: decimals });
}

export const dmy = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
