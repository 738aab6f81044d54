import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { crc32, deflateRawSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, rowValidators, type SecurityRow } from '../../../contracts/index.ts';
import { fixturePath, harbourErrorOfAsync, readFixtureBytes } from '../../../test/support/hkex-fixtures.ts';
import { parseSecuritiesList } from './securities-list.ts';

const XLSX = ['securities-list', 'ListOfSecurities-2021-10-11.xlsx'] as const;

/** Builds a zip (deflated or stored entries) — enough to make small test workbooks by hand. */
function zip(files: Record<string, string>, method: 0 | 8 = 8): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const raw = Buffer.from(text, 'utf8');
    const data = method === 8 ? deflateRawSync(raw) : raw;
    const nameBytes = Buffer.from(name, 'utf8');
    // The fields a local header and a central directory entry share, from `at` on (version needed to
    // extract, method, CRC-32, compressed and uncompressed size, name length; no flags, time or extra).
    const entryFields = (header: Buffer, at: number) => {
      header.writeUInt16LE(20, at);
      header.writeUInt16LE(method, at + 4);
      header.writeUInt32LE(crc32(raw), at + 10);
      header.writeUInt32LE(data.length, at + 14);
      header.writeUInt32LE(raw.length, at + 18);
      header.writeUInt16LE(nameBytes.length, at + 22);
      return header;
    };
    const local = entryFields(Buffer.alloc(30), 4);
    local.writeUInt32LE(0x04034b50, 0);
    const central = entryFields(Buffer.alloc(46), 6);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Object.keys(files).length, 8);
  eocd.writeUInt16LE(Object.keys(files).length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, eocd]));
}

/** A hand-written workbook: `x:`-prefixed elements, inline strings, rich text, numbers, a currency column. */
function inlineWorkbook(sheetRows: string, asOf = 'Updated as at 02/10/2026'): Uint8Array {
  const is = (ref: string, text: string) =>
    `<x:c r="${ref}" t="inlineStr"><x:is><x:t>${text}</x:t></x:is></x:c>`;
  const sheet = `<?xml version="1.0" encoding="utf-8"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>
<x:row r="1">${is('A1', 'List of Securities')}</x:row>
<x:row r="2">${is('A2', asOf)}</x:row>
<x:row r="3">${[
    'Stock Code',
    'Name of Securities',
    'Category',
    'Sub-Category',
    'Board Lot',
    'ISIN',
    'Trading Currency',
  ]
    .map((h, i) => is(`${'ABCDEFG'[i]}3`, h))
    .join('')}</x:row>
${sheetRows}
</x:sheetData></x:worksheet>`;
  return zip({
    '[Content_Types].xml': '<?xml version="1.0"?><Types/>',
    'xl/workbook.xml':
      '<?xml version="1.0"?><x:workbook xmlns:x="main" xmlns:r="rels"><x:sheets><x:sheet name="ListOfSecurities" sheetId="1" r:id="rId7"/></x:sheets></x:workbook>',
    'xl/_rels/workbook.xml.rels':
      '<?xml version="1.0"?><Relationships><Relationship Id="rId7" Type="worksheet" Target="worksheets/list.xml"/></Relationships>',
    'xl/worksheets/list.xml': sheet,
  });
}

describe('parseSecuritiesList on the real 2021-10-11 workbook', () => {
  let asOf = '';
  let rows: SecurityRow[] = [];
  let ms = 0;
  let byCode = new Map<string, SecurityRow>();
  beforeAll(async () => {
    const t0 = performance.now();
    ({ asOf, rows } = await parseSecuritiesList(readFixtureBytes(...XLSX)));
    ms = performance.now() - t0;
    byCode = new Map(rows.map((r) => [r.code, r]));
  });

  it('reads the date and all 18,494 securities', () => {
    expect(asOf).toBe('2021-10-11');
    expect(rows).toHaveLength(18_494);
    expect(byCode.size).toBe(18_494);
    expect(ms).toBeLessThan(10_000);
  });

  it('reads known rows exactly', () => {
    expect(rows[0]).toEqual({
      code: '00001',
      name: 'CKH HOLDINGS',
      category: 'Equity',
      sub_category: 'Equity Securities (Main Board)',
      board_lot: 500,
      isin: 'KYG217651051',
      currency: null,
    } satisfies SecurityRow);
    expect(byCode.get('00700')).toEqual({
      code: '00700',
      name: 'TENCENT',
      category: 'Equity',
      sub_category: 'Equity Securities (Main Board)',
      board_lot: 100,
      isin: 'KYG875721634',
      currency: null,
    } satisfies SecurityRow);
    expect(byCode.get('00003')).toMatchObject({
      name: 'HK & CHINA GAS',
      board_lot: 1000,
      isin: 'HK0003000038',
    });
    expect(byCode.get('00007')).toMatchObject({ name: 'WISDOM WEALTH', board_lot: 2000, isin: null });
    expect(byCode.get('02800')).toMatchObject({
      name: 'TRACKER FUND',
      category: 'Exchange Traded Products',
      sub_category: 'Exchange Traded Funds',
      board_lot: 500,
    });
    expect(byCode.get('86660')).toEqual({
      code: '86660',
      name: 'PRC B2609-R',
      category: 'Debt Securities',
      sub_category: null,
      board_lot: 5000,
      isin: 'HK0000777802',
      currency: null,
    } satisfies SecurityRow);
    expect(rows.at(-1)).toMatchObject({
      code: '87001',
      name: 'HUI XIAN REIT',
      category: 'Real Estate Investment Trusts',
    });
  });

  it('every row fits the contract', () => {
    const bad = rows.filter((r) => !rowValidators.securities.check(r));
    expect(bad).toEqual([]);
  });

  it('reads the same from a stream', async () => {
    const fromStream = await parseSecuritiesList(createReadStream(fixturePath(...XLSX)));
    expect(fromStream.asOf).toBe('2021-10-11');
    expect(fromStream.rows).toEqual(rows);
  });
});

describe('parseSecuritiesList on other workbooks', () => {
  it('reads a workbook written by exceljs (shared strings, no prefixes, currency column)', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('ListOfSecurities');
    ws.addRow(['List of Securities']);
    ws.addRow(['Updated as at 2 Oct 2026']);
    ws.addRow([
      'Stock Code',
      'Name of Securities',
      'Category',
      'Sub-Category',
      'Board Lot',
      'Par Value',
      'ISIN',
      'Trading Currency',
    ]);
    ws.addRow([
      '00005',
      'HSBC HOLDINGS',
      'Equity',
      'Equity Securities (Main Board)',
      '400',
      'USD 0.50',
      'GB0005405286',
      'HKD',
    ]);
    ws.addRow([9988, 'BABA-SW', 'Equity', 'Equity Securities (Main Board)', 100, '', 'KYG017191142', 'HKD']);
    ws.addRow(['80737', 'BAY AREA DEV-R', 'Equity', '', '500', '', '', 'RMB']);
    ws.addRow([]);
    ws.addRow(['Remarks: this list is for reference only']);
    const bytes = new Uint8Array(await wb.xlsx.writeBuffer());
    const { asOf, rows } = await parseSecuritiesList(bytes);
    expect(asOf).toBe('2026-10-02');
    expect(rows).toEqual([
      {
        code: '00005',
        name: 'HSBC HOLDINGS',
        category: 'Equity',
        sub_category: 'Equity Securities (Main Board)',
        board_lot: 400,
        isin: 'GB0005405286',
        currency: 'HKD',
      },
      {
        code: '09988',
        name: 'BABA-SW',
        category: 'Equity',
        sub_category: 'Equity Securities (Main Board)',
        board_lot: 100,
        isin: 'KYG017191142',
        currency: 'HKD',
      },
      {
        code: '80737',
        name: 'BAY AREA DEV-R',
        category: 'Equity',
        sub_category: null,
        board_lot: 500,
        isin: null,
        currency: 'RMB',
      },
    ]);
  });

  it('reads inline strings, rich text, entities and _xHHHH_ escapes from a prefixed workbook', async () => {
    const bytes = inlineWorkbook(`
<x:row r="4"><x:c r="A4" t="inlineStr"><x:is><x:t>00001</x:t></x:is></x:c><x:c r="B4" t="inlineStr"><x:is><x:r><x:t>CKH </x:t></x:r><x:r><x:t>HOLDINGS</x:t></x:r><x:rPh><x:t>ignored</x:t></x:rPh></x:is></x:c><x:c r="C4" t="inlineStr"><x:is><x:t>Equity</x:t></x:is></x:c><x:c r="E4"><x:v>500</x:v></x:c><x:c r="F4" t="inlineStr"><x:is><x:t>KYG217651051</x:t></x:is></x:c><x:c r="G4" t="inlineStr"><x:is><x:t>HKD</x:t></x:is></x:c></x:row>
<x:row r="5"><x:c r="A5" t="str"><x:v>3</x:v></x:c><x:c r="B5" t="str"><x:v>HK &amp; CHINA_x0020_GAS</x:v></x:c><x:c r="C5" t="str"><x:v>Equity</x:v></x:c><x:c r="D5" t="str"><x:v>Equity Securities (Main Board)</x:v></x:c><x:c r="E5" t="str"><x:v>1,000</x:v></x:c></x:row>`);
    const { asOf, rows } = await parseSecuritiesList(bytes);
    expect(asOf).toBe('2026-10-02');
    expect(rows).toEqual([
      {
        code: '00001',
        name: 'CKH HOLDINGS',
        category: 'Equity',
        sub_category: null,
        board_lot: 500,
        isin: 'KYG217651051',
        currency: 'HKD',
      },
      {
        code: '00003',
        name: 'HK & CHINA GAS',
        category: 'Equity',
        sub_category: 'Equity Securities (Main Board)',
        board_lot: 1000,
        isin: null,
        currency: null,
      },
    ]);
  });

  it('reads a workbook whose entries are stored, not deflated', async () => {
    const deflated = inlineWorkbook(
      '<x:row r="4"><x:c r="A4" t="str"><x:v>700</x:v></x:c><x:c r="B4" t="str"><x:v>TENCENT</x:v></x:c><x:c r="C4" t="str"><x:v>Equity</x:v></x:c></x:row>',
    );
    expect((await parseSecuritiesList(deflated)).rows).toHaveLength(1);
    const sheet =
      '<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Updated as at 11/10/2021</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Stock Code</t></is></c><c r="B2" t="inlineStr"><is><t>Name of Securities</t></is></c><c r="C2" t="inlineStr"><is><t>Category</t></is></c><c r="D2" t="inlineStr"><is><t>Sub-Category</t></is></c><c r="E2" t="inlineStr"><is><t>Board Lot</t></is></c></row><row r="3"><c r="A3"><v>5</v></c><c r="B3" t="inlineStr"><is><t>HSBC HOLDINGS</t></is></c><c r="C3" t="inlineStr"><is><t>Equity</t></is></c><c r="E3"><v>400</v></c></row></sheetData></worksheet>';
    const stored = zip({ 'xl/worksheets/sheet1.xml': sheet }, 0);
    expect(await parseSecuritiesList(Readable.from([Buffer.from(stored)]))).toEqual({
      asOf: '2021-10-11',
      rows: [
        {
          code: '00005',
          name: 'HSBC HOLDINGS',
          category: 'Equity',
          sub_category: null,
          board_lot: 400,
          isin: null,
          currency: null,
        },
      ],
    });
  });
});

describe('parseSecuritiesList refusals', () => {
  it('classifies non-workbook answers', async () => {
    const page = (html: string) => new TextEncoder().encode(html);
    expect(
      (
        await harbourErrorOfAsync(() =>
          parseSecuritiesList(page('<html><body>Site under maintenance</body></html>')),
        )
      ).code,
    ).toBe(ErrorCodes.ParseMaintenance);
    expect(
      (
        await harbourErrorOfAsync(() =>
          parseSecuritiesList(page('<html><body>File not available</body></html>')),
        )
      ).code,
    ).toBe(ErrorCodes.ParseNoData);
    expect((await harbourErrorOfAsync(() => parseSecuritiesList(page('hello')))).code).toBe(
      ErrorCodes.ParseLayout,
    );
  });

  it('refuses a workbook cut short', async () => {
    const full = readFixtureBytes(...XLSX);
    const err = await harbourErrorOfAsync(() => parseSecuritiesList(full.subarray(0, 700_000)));
    expect(err.code).toBe(ErrorCodes.ParseTruncated);
  });

  it('refuses missing header columns, missing date, bad codes and duplicates', async () => {
    const row = (n: number, code: string, name = 'X', lot = '100') =>
      `<x:row r="${n}"><x:c r="A${n}" t="str"><x:v>${code}</x:v></x:c><x:c r="B${n}" t="str"><x:v>${name}</x:v></x:c><x:c r="C${n}" t="str"><x:v>Equity</x:v></x:c><x:c r="E${n}" t="str"><x:v>${lot}</x:v></x:c></x:row>`;
    const codeOf = async (bytes: Uint8Array) =>
      (await harbourErrorOfAsync(() => parseSecuritiesList(bytes))).code;
    expect(await codeOf(inlineWorkbook(row(4, '1'), 'Updated sometime'))).toBe(ErrorCodes.ParseLayout);
    expect(await codeOf(inlineWorkbook(row(4, '12A45')))).toBe(ErrorCodes.ParseLayout);
    expect(await codeOf(inlineWorkbook(row(4, '1', '')))).toBe(ErrorCodes.ParseLayout);
    expect(await codeOf(inlineWorkbook(row(4, '1', 'X', '1.5')))).toBe(ErrorCodes.ParseLayout);
    expect(await codeOf(inlineWorkbook(row(4, '1') + row(5, '00001')))).toBe(ErrorCodes.ParseLayout);
    expect(await codeOf(inlineWorkbook(''))).toBe(ErrorCodes.ParseNoData);
    const noHeader = zip({
      'xl/worksheets/sheet1.xml':
        '<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Hello</t></is></c></row></sheetData></worksheet>',
    });
    expect(await codeOf(noHeader)).toBe(ErrorCodes.ParseLayout);
  });
});

describe('parseSecuritiesList on the current (18-column, 2025) layout', () => {
  it('reads the real 2025-12-31 workbook: every security, its as-of date and the trading currency', {
    timeout: 60_000,
  }, async () => {
    const { asOf, rows } = await parseSecuritiesList(
      readFixtureBytes('securities-list', 'ListOfSecurities-2025-12-31.xlsx'),
    );
    expect(asOf).toBe('2025-12-31');
    expect(rows).toHaveLength(17_157);
    expect(rows[0]).toEqual({
      code: '00001',
      name: 'CKH HOLDINGS',
      category: 'Equity',
      sub_category: 'Equity Securities (Main Board)',
      board_lot: 500,
      isin: 'KYG217651051',
      currency: 'HKD',
    });
    expect(rows.at(-1)).toMatchObject({ code: '89988', name: 'BABA-WR', board_lot: 100, currency: 'RMB' });
    expect(new Set(rows.map((r) => r.code)).size).toBe(17_157);
    for (const r of rows.slice(0, 200)) expect(rowValidators.securities.problems(r)).toEqual([]);
    expect(new Set(rows.map((r) => r.currency))).toEqual(
      new Set(['HKD', 'USD', 'EUR', 'JPY', 'AUD', 'SGD', 'RMB']),
    );
    expect(rows.filter((r) => r.sub_category === 'Equity Securities (GEM)').length).toBeGreaterThan(0);
  });
});
