import { load } from 'cheerio/slim';
import { ErrorCodes } from '../../../contracts/index.ts';
import { cleanText, excerpt, fail, MAINTENANCE_RE, NO_DATA_RE, normalizeStockCode } from './shared.ts';

export interface CcassStock {
  /** 5-digit stock code. */
  code: string;
  name: string;
}

function toStock(rawCode: unknown, rawName: unknown, where: string): CcassStock {
  const code = normalizeStockCode(typeof rawCode === 'number' ? String(rawCode) : String(rawCode ?? ''));
  if (code === null) {
    fail(ErrorCodes.ParseLayout, `CCASS stock list ${where} has an invalid stock code "${String(rawCode)}"`, {
      where,
      code: rawCode,
    });
  }
  return { code, name: cleanText(String(rawName ?? '')) };
}

function parseJsonList(body: string): CcassStock[] {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (cause) {
    fail(
      ErrorCodes.ParseLayout,
      'CCASS stock list looks like JSON but does not parse',
      {
        start: excerpt(body, 120),
      },
      cause,
    );
  }
  if (!Array.isArray(data)) {
    fail(ErrorCodes.ParseLayout, 'CCASS stock list JSON is not an array of {c, n} entries', {
      start: excerpt(body, 120),
    });
  }
  return data.map((item: unknown, i) => {
    if (item === null || typeof item !== 'object' || !('c' in item)) {
      fail(ErrorCodes.ParseLayout, `CCASS stock list entry ${i + 1} has no "c" (code) field`, { index: i });
    }
    const rec = item as { c: unknown; n?: unknown };
    return toStock(rec.c, rec.n, `entry ${i + 1}`);
  });
}

function parseHtmlList(body: string): CcassStock[] {
  const $ = load(body);
  const out: CcassStock[] = [];
  const links = $('a[onclick^="ssc"]');
  links.each((i, el) => {
    const a = $(el);
    const code = cleanText(a.closest('tr').children('td').first().text());
    out.push(toStock(code, a.text(), `row ${i + 1}`));
  });
  if (out.length > 0) return out;

  const text = cleanText($('body').text()) || cleanText(body);
  if (MAINTENANCE_RE.test(text)) {
    fail(ErrorCodes.ParseMaintenance, 'CCASS stock list answered with a maintenance page', {
      message: excerpt(text),
    });
  }
  if ($('table').length > 0 || NO_DATA_RE.test(text)) {
    fail(ErrorCodes.ParseNoData, 'CCASS stock list is empty for this date', { message: excerpt(text) });
  }
  fail(ErrorCodes.ParseLayout, 'page is not a CCASS stock list (no stock rows, no table)', {
    start: excerpt(text, 300),
  });
}

/**
 * Parses the CCASS stock list (`stocklist.aspx?sortby=stockcode&shareholdingdate=YYYYMMDD`) in either
 * form: the current JSON `[{"c":"00001","n":"CKH HOLDINGS"}, …]` or the older HTML page (code in the
 * first cell, name in `<a onclick="ssc(this)">`). Codes come back as 5 digits, names trimmed.
 * An empty list → ParseNoData; a maintenance page → ParseMaintenance; anything else → ParseLayout.
 */
export function parseCcassStockList(body: string): CcassStock[] {
  const text = body.replace(/^\uFEFF/, '').trim();
  const list = text.startsWith('[') || text.startsWith('{') ? parseJsonList(text) : parseHtmlList(text);
  if (list.length === 0) fail(ErrorCodes.ParseNoData, 'CCASS stock list is empty for this date');
  return list;
}
