/**
 * The List of Securities workbook for the universe, in the real file's layout: one sheet
 * `ListOfSecurities`, A1 title (merged A1:R1), A2 `Updated as at dd/mm/yyyy`, header row 3 with the
 * real header names, one row per security from row 4, a few empty trailing rows. Two layouts:
 * `2025` (default; 18 columns as in ListOfSecurities-2025-12-31.xlsx: Par Value, Admitted to Stock
 * Options/Futures and ETF / Fund Manager gone, Trading Currency and RMB Counter added) and `2021`
 * (the older one, ListOfSecurities-2021-10-11.xlsx). Built with exceljs, then (flavor `real`, the
 * default) rewritten like the real file: cell text stored inline as `t="str"` values (only A1 and
 * the rich Spread Table header stay shared strings) and elements prefixed `x:`.
 */
import ExcelJS from 'exceljs';
import JSZip from 'jszip';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { parts } from './format.ts';
import type { Stock } from './universe.ts';

export const SECURITIES_HEADER = [
  'Stock Code',
  'Name of Securities',
  'Category',
  'Sub-Category',
  'Board Lot',
  'Par Value',
  'ISIN',
  'Expiry Date',
  'Subject to Stamp Duty',
  'Shortsell Eligible',
  'CAS Eligible',
  'VCM Eligible',
  'Admitted to Stock Options',
  'Admitted to Stock Futures',
  'Admitted to CCASS',
  'ETF / Fund Manager',
  'Debt Securities Board Lot (Nominal)',
  'Debt Securities Investor Type',
  'POS Eligble',
];

/** Header of the current (2025) layout; the Spread Table header (rich text) stands between POS Eligible and Trading Currency. */
export const SECURITIES_HEADER_2025 = [
  'Stock Code',
  'Name of Securities',
  'Category',
  'Sub-Category',
  'Board Lot',
  'ISIN',
  'Expiry Date',
  'Subject to Stamp Duty',
  'Shortsell Eligible',
  'CAS Eligible',
  'VCM Eligible',
  'Admitted to CCASS',
  'Debt Securities Board Lot (Nominal)',
  'Debt Securities Investor Type',
  'POS Eligible',
];

export type WorkbookLayout = '2025' | '2021';

interface Layout {
  header: string[];
  spread: string[];
  after: string[];
  widths: number[];
  values(s: Stock): string[];
}

const LAYOUTS: Record<WorkbookLayout, Layout> = {
  '2021': {
    header: SECURITIES_HEADER,
    spread: ['Spread Table', '\r\n', '1, 4 = Part A\r\n3 = Part B\r\n5 = Part D'],
    after: [],
    widths: [
      18.4, 29.6, 17.3, 32.3, 14.4, 23.6, 27.6, 20.7, 18.1, 18.3, 17.3, 17.3, 17.3, 17.3, 17.3, 25.7, 17.3,
      17.3, 16.9, 17.7,
    ],
    values: (s) => {
      const x = s.security;
      return [
        s.code,
        s.name,
        x.category,
        x.subCategory,
        x.boardLot,
        x.parValue,
        x.isin,
        x.expiry,
        x.stampDuty,
        x.shortsell,
        x.cas,
        x.vcm,
        x.options,
        x.futures,
        x.ccass,
        x.etfManager,
        x.debtLot,
        x.debtInvestor,
        x.pos,
        x.spread,
      ];
    },
  },
  '2025': {
    header: SECURITIES_HEADER_2025,
    spread: ['Spread Table', '\r\n', '1 = Part A\r\n3 = Part B\r\n5 = Part D\r\n4 & 6 = Part E'],
    after: ['Trading Currency', 'RMB Counter'],
    widths: [
      18.4, 29.6, 17.3, 32.3, 18.1, 18.3, 17.3, 17.3, 17.3, 17.3, 17.3, 25.7, 17.3, 17.3, 16.9, 17.7, 16.9,
      20.7,
    ],
    // RMB Counter: empty here; which counters the real file links there is not known from the sample's first rows.
    values: (s) => {
      const x = s.security;
      return [
        s.code,
        s.name,
        x.category,
        x.subCategory,
        x.boardLot,
        x.isin,
        x.expiry,
        x.stampDuty,
        x.shortsell,
        x.cas,
        x.vcm,
        x.ccass,
        x.debtLot,
        x.debtInvestor,
        x.pos,
        x.spread,
        s.currency,
        '',
      ];
    },
  },
};

export type WorkbookFlavor = 'real' | 'exceljs';

/** `2021-10-11` → `11/10/2021`. */
export function dmy(iso: string): string {
  const { y, m, d } = parts(iso);
  return `${d}/${m}/${y}`;
}

/** The workbook bytes for the universe, "Updated as at" `asOf`. */
export async function securitiesWorkbook(
  universe: readonly Stock[],
  asOf: string,
  flavor: WorkbookFlavor = 'real',
  layoutName: WorkbookLayout = '2025',
): Promise<Buffer> {
  const layout = LAYOUTS[layoutName];
  const wb = new ExcelJS.Workbook();
  wb.creator = 'HKEX';
  wb.created = new Date(`${asOf}T00:00:00Z`);
  wb.modified = wb.created;
  const ws = wb.addWorksheet('ListOfSecurities', { views: [{ state: 'normal', showGridLines: true }] });
  ws.columns = layout.widths.map((width) => ({ width }));
  const bold = { name: 'Arial', size: 14, bold: true };
  const arial = { name: 'Arial', size: 11 };

  ws.getCell('A1').value = 'List of Securities';
  ws.getCell('A1').font = bold;
  ws.mergeCells('A1:R1');
  ws.getRow(1).height = 18;
  ws.getCell('A2').value = `Updated as at ${dmy(asOf)}`;
  ws.getCell('A2').font = { ...arial, bold: true };

  const header = ws.getRow(3);
  header.height = 78.75;
  const plainHeader = (h: string, k: number) => {
    const c = header.getCell(k);
    c.value = h;
    c.font = { ...arial, bold: true };
    c.alignment = { wrapText: true, vertical: 'middle', horizontal: 'center' };
    c.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFFFE699' } };
  };
  for (const [k, h] of layout.header.entries()) plainHeader(h, k + 1);
  const spreadCol = layout.header.length + 1;
  for (const [k, h] of layout.after.entries()) plainHeader(h, spreadCol + 1 + k);
  const t3 = header.getCell(spreadCol);
  t3.value = {
    richText: layout.spread.map((text, k) => ({
      text,
      font: { name: 'Arial', size: k === 2 ? 8 : 11, underline: true, bold: k === 0, color: { theme: 10 } },
    })),
  };
  t3.alignment = { wrapText: true, vertical: 'middle', horizontal: 'center' };

  let r = 4;
  for (const s of universe) {
    const values = layout.values(s);
    const row = ws.getRow(r++);
    row.height = 14.25;
    values.forEach((v, k) => {
      const c = row.getCell(k + 1);
      c.value = v;
      c.font = arial;
      if (k === 4) c.alignment = { horizontal: 'right' };
    });
  }
  for (let k = 0; k < 4; k++) {
    const c = ws.getRow(r++).getCell(1);
    c.value = '';
    c.font = arial;
  }
  const buf = Buffer.from(await wb.xlsx.writeBuffer());
  if (flavor === 'exceljs') return buf;
  return realify(buf, `${t3.address}`);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Prefixes unprefixed elements with `x:` and binds the main namespace to it (as the real file does). */
function prefixX(xml: string): string {
  return xml
    .replace(/<(\/?)([A-Za-z][\w.-]*)(?=[\s/>])/g, (m, slash: string, name: string) =>
      name.includes(':') ? m : `<${slash}x:${name}`,
    )
    .replace(
      /xmlns="http:\/\/schemas\.openxmlformats\.org\/spreadsheetml\/2006\/main"/,
      'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
    );
}

async function realify(xlsx: Buffer, spreadRef: string): Promise<Buffer> {
  const zip = await JSZip.loadAsync(xlsx);
  const sheetPath = 'xl/worksheets/sheet1.xml';
  const sheet = await zip.file(sheetPath)?.async('string');
  const sstXml = (await zip.file('xl/sharedStrings.xml')?.async('string')) ?? '';
  if (!sheet) throw new HarbourError(ErrorCodes.Internal, 'fixture site: exceljs wrote no sheet1.xml');
  const sis = [...sstXml.matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => m[1]!);
  const plain = sis.map((si) =>
    unescapeXml([...si.matchAll(/<t(?:\s[^>]*)?>([\s\S]*?)<\/t>/g)].map((t) => t[1]).join('')),
  );
  const keep: number[] = [];
  const newIndex = new Map<number, number>();
  let cells = sheet.replace(
    /<c r="([A-Z]+)(\d+)"([^>]*?) t="s"([^>]*)><v>(\d+)<\/v><\/c>/g,
    (_m, col: string, row: string, a: string, b: string, idx: string) => {
      const i = Number(idx);
      const ref = `${col}${row}`;
      if (ref === 'A1' || ref === spreadRef) {
        if (!newIndex.has(i)) {
          newIndex.set(i, keep.length);
          keep.push(i);
        }
        return `<c r="${ref}"${a} t="s"${b}><v>${newIndex.get(i)}</v></c>`;
      }
      return `<c r="${ref}"${a} t="str"${b}><v>${escapeXml(plain[i] ?? '')}</v></c>`;
    },
  );
  // exceljs leaves empty-string cells without a value; the real file writes t="str" with an empty <v>
  cells = cells.replace(/<c r="([A-Z]+)(\d+)"( s="\d+")?\/>/g, (m, col: string, row: string, s = '') =>
    Number(row) >= 4 && col !== 'A' ? `<c r="${col}${row}"${s} t="str"><v></v></c>` : m,
  );
  const sst = `<?xml version="1.0" encoding="utf-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${keep.length}" uniqueCount="${keep.length}">${keep.map((i) => `<si>${sis[i]}</si>`).join('')}</sst>`;
  zip.file(sheetPath, prefixX(cells));
  zip.file('xl/sharedStrings.xml', prefixX(sst));
  const wbXml = await zip.file('xl/workbook.xml')?.async('string');
  if (wbXml) zip.file('xl/workbook.xml', prefixX(wbXml));
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}
