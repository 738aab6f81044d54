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
  monthHigh: number | null;
  monthLow: number | null;
}

export async function goldPrices(
  pool: pg.Pool,
  code: string,
  from: string,
  to: string,
): Promise<GoldPriceRow[]> {
  const { rows } = await pool.query<GoldPriceRow>(
    `select p.trade_date::text as date, p.status, p.open::float8 as open, p.high::float8 as high,
            p.low::float8 as low, p.close::float8 as close, p.change_pct::float8 as change,
            p.volume::float8 as volume, p.turnover::float8 as turnover, p.directed_volume::float8 as dv,
            r.dv_30d_trading::float8 as dv30, m.high::float8 as "monthHigh", m.low::float8 as "monthLow"
     from gold.daily_prices p
     left join gold.rolling_directed_volume r on r.code = p.code and r.trade_date = p.trade_date
     left join gold.monthly_high_low m on m.code = p.code and m.month = date_trunc('month', p.trade_date)::date
     where p.code = $1 and p.trade_date between $2 and $3 order by p.trade_date`,
    [code, from, to],
  );
  return rows;
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
