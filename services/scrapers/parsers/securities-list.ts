import { ErrorCodes, type SecurityRow } from '../../../contracts/index.ts';
import {
  cleanText,
  excerpt,
  fail,
  isoDate,
  isoFromDmy,
  MAINTENANCE_RE,
  MONTHS,
  NO_DATA_RE,
  normalizeStockCode,
  parseDecimal,
} from './shared.ts';
import { collectBytes, looksLikeZip, readFirstSheetRows } from './xlsx-stream.ts';

type Field = 'code' | 'name' | 'category' | 'sub_category' | 'board_lot' | 'isin' | 'currency';

/** Header cell text (lower-cased, whitespace collapsed) → field. */
const HEADER_FIELDS: Record<string, Field> = {
  'stock code': 'code',
  'name of securities': 'name',
  category: 'category',
  'sub-category': 'sub_category',
  'sub category': 'sub_category',
  'board lot': 'board_lot',
  isin: 'isin',
};
const REQUIRED: readonly Field[] = ['code', 'name', 'category', 'sub_category', 'board_lot'];
/** Rows searched for the title, the "Updated as at" line and the header before giving up. */
const MAX_PREAMBLE_ROWS = 20;

function headerField(text: string): Field | null {
  const t = cleanText(text).toLowerCase();
  return HEADER_FIELDS[t] ?? (/\bcurrency\b/.test(t) ? 'currency' : null);
}

/** `Updated as at 11/10/2021` (dd/mm/yyyy) or `Updated as at 11 Oct 2021` → ISO. */
function updatedAsAt(text: string): string | null {
  const m = /updated\s+as\s+at\s+(.+)$/i.exec(cleanText(text));
  if (!m) return null;
  const dmy = isoFromDmy(m[1]!);
  if (dmy) return dmy;
  const en = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{4})/.exec(m[1]!);
  const month = en ? MONTHS[en[2]!.toUpperCase()] : undefined;
  return en && month ? isoDate(Number(en[3]), month, Number(en[1])) : null;
}

function refuseNonWorkbook(bytes: Uint8Array): never {
  const text = cleanText(
    new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 64 * 1024)).replace(/<[^>]*>/g, ' '),
  );
  if (MAINTENANCE_RE.test(text)) {
    fail(ErrorCodes.ParseMaintenance, 'List of Securities answered with a maintenance page', {
      message: excerpt(text),
    });
  }
  if (NO_DATA_RE.test(text)) {
    fail(ErrorCodes.ParseNoData, `List of Securities is not available: ${excerpt(text, 120)}`, {
      message: excerpt(text),
    });
  }
  fail(ErrorCodes.ParseLayout, 'List of Securities is not an .xlsx workbook', {
    bytes: bytes.length,
    start: excerpt(text, 200),
  });
}

/**
 * Parses HKEX's List of Securities workbook (`ListOfSecurities.xlsx`): A1 title, a line
 * "Updated as at dd/mm/yyyy" (→ `asOf`), a header row (Stock Code, Name of Securities, Category,
 * Sub-Category, Board Lot, … ISIN …), then one row per security. Columns are found by header name;
 * ISIN and a currency column (any header containing "Currency") are optional (null when absent).
 * Empty strings become null; board lots lose their commas. The sheet XML is read streaming.
 *
 * Refuses: not a workbook → ParseMaintenance / ParseNoData when the page says so, else ParseLayout;
 * no "Updated as at" date, header columns missing, a bad code/board lot, a duplicate code → ParseLayout;
 * no securities at all → ParseNoData.
 */
export async function parseSecuritiesList(
  input: Uint8Array | NodeJS.ReadableStream,
): Promise<{ asOf: string; rows: SecurityRow[] }> {
  const bytes = await collectBytes(input);
  if (!looksLikeZip(bytes)) refuseNonWorkbook(bytes);

  let asOf: string | null = null;
  let columns: Partial<Record<Field, number>> | null = null;
  const rows: SecurityRow[] = [];
  const seen = new Map<string, number>();

  for await (const row of readFirstSheetRows(bytes)) {
    const cell = (i: number | undefined): string => (i === undefined ? '' : cleanText(row.cells[i]));
    if (columns === null) {
      for (const c of row.cells) asOf ??= c === undefined ? null : updatedAsAt(c);
      const found: Partial<Record<Field, number>> = {};
      row.cells.forEach((c, i) => {
        const f = c === undefined ? null : headerField(c);
        if (f !== null && found[f] === undefined) found[f] = i;
      });
      if (found.code !== undefined) {
        const missing = REQUIRED.filter((f) => found[f] === undefined);
        if (missing.length > 0) {
          fail(
            ErrorCodes.ParseLayout,
            `List of Securities header row ${row.number} lacks columns: ${missing.join(', ')}`,
            {
              row: row.number,
              header: row.cells.map((c) => cleanText(c)),
            },
          );
        }
        if (asOf === null) {
          fail(
            ErrorCodes.ParseLayout,
            'List of Securities has no readable "Updated as at dd/mm/yyyy" line above its header',
          );
        }
        columns = found;
      } else if (row.number >= MAX_PREAMBLE_ROWS) {
        fail(
          ErrorCodes.ParseLayout,
          `List of Securities has no header row (Stock Code, Name of Securities, …) in its first ${MAX_PREAMBLE_ROWS} rows`,
        );
      }
      continue;
    }

    const rawCode = cell(columns.code);
    const name = cell(columns.name);
    if (rawCode === '') {
      if (row.cells.some((c) => cleanText(c) !== '')) {
        fail(ErrorCodes.ParseLayout, `List of Securities row ${row.number} has data but no stock code`, {
          row: row.number,
          cells: row.cells.map((c) => cleanText(c)),
        });
      }
      continue; // trailing empty rows
    }
    const code = normalizeStockCode(rawCode);
    if (code === null) {
      // A note under the table (text in column A only) is not a security.
      if (name === '') continue;
      fail(
        ErrorCodes.ParseLayout,
        `List of Securities row ${row.number} has an invalid stock code "${rawCode}"`,
        {
          row: row.number,
          code: rawCode,
        },
      );
    }
    if (name === '') {
      fail(ErrorCodes.ParseLayout, `List of Securities row ${row.number} (stock ${code}) has no name`, {
        row: row.number,
      });
    }
    const lotText = cell(columns.board_lot);
    const lot = parseDecimal(lotText);
    if (lot === undefined || (lot !== null && (!Number.isInteger(lot) || lot < 0))) {
      fail(
        ErrorCodes.ParseLayout,
        `List of Securities row ${row.number} (stock ${code}) has board lot "${lotText}"`,
        {
          row: row.number,
          value: lotText,
        },
      );
    }
    const earlier = seen.get(code);
    if (earlier !== undefined) {
      fail(
        ErrorCodes.ParseLayout,
        `List of Securities lists stock ${code} twice (rows ${earlier} and ${row.number})`,
        {
          code,
          rows: [earlier, row.number],
        },
      );
    }
    seen.set(code, row.number);
    const orNull = (s: string): string | null => (s === '' ? null : s);
    rows.push({
      code,
      name,
      category: cell(columns.category),
      sub_category: orNull(cell(columns.sub_category)),
      board_lot: lot,
      isin: orNull(cell(columns.isin)),
      currency: orNull(cell(columns.currency)),
    });
  }

  if (columns === null || asOf === null) {
    fail(ErrorCodes.ParseLayout, 'List of Securities has no header row (Stock Code, Name of Securities, …)');
  }
  if (rows.length === 0) fail(ErrorCodes.ParseNoData, 'List of Securities lists no securities');
  return { asOf, rows };
}
