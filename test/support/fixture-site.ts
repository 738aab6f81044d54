/** Helpers for tests driving the fixture site over real HTTP (also usable by scraper tests). */
import { PATHS } from '../../ops/fixture-site/index.ts';

/** Hidden inputs of a CCASS page (`__VIEWSTATE`, `__EVENTVALIDATION`, `today`, `sortBy`, …). */
export function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(
    /<input type="hidden" name="([^"]+)" id="[^"]*"(?: value="([^"]*)")?\s*\/>/g,
  )) {
    out[m[1]!] = m[2] ?? '';
  }
  return out;
}

/** GET the CCASS search form and return its hidden fields. */
export async function ccassForm(baseUrl: string): Promise<Record<string, string>> {
  const res = await fetch(`${baseUrl}${PATHS.ccassSearch}`);
  if (!res.ok) throw new Error(`CCASS form: HTTP ${res.status}`);
  return hiddenFields(await res.text());
}

/** POST a CCASS search (`date` as yyyy-mm-dd or yyyy/mm/dd) with the given hidden fields. */
export async function ccassPost(
  baseUrl: string,
  fields: Record<string, string>,
  code: string,
  date: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; html: string }> {
  const body = new URLSearchParams({
    ...fields,
    __EVENTTARGET: 'btnSearch',
    __EVENTARGUMENT: '',
    txtShareholdingDate: date.replaceAll('-', '/'),
    txtStockCode: code,
    txtStockName: '',
    txtParticipantID: '',
    txtParticipantName: '',
    txtSelPartID: '',
    ...extra,
  });
  const res = await fetch(`${baseUrl}${PATHS.ccassSearch}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return { status: res.status, html: await res.text() };
}

/** GET form, then POST the search: the usual two-step flow. */
export async function ccassSearch(
  baseUrl: string,
  code: string,
  date: string,
): Promise<{ status: number; html: string }> {
  return ccassPost(baseUrl, await ccassForm(baseUrl), code, date);
}

/** `2026-10-02` → `/eng/stat/smstat/dayquot/d261002e.htm` (GEM: `…/dayquot/GEM/e_G261002.htm`). */
export function quotationsPath(date: string, board: 'main' | 'gem' = 'main'): string {
  const yymmdd = `${date.slice(2, 4)}${date.slice(5, 7)}${date.slice(8, 10)}`;
  return board === 'gem'
    ? `${PATHS.quotationsDir}GEM/e_G${yymmdd}.htm`
    : `${PATHS.quotationsDir}d${yymmdd}e.htm`;
}

/** CCASS result page figures read with plain regexes (independent of the scraper parsers). */
export function ccassFigures(html: string): {
  summary: { shares: number; count: number; pct: string }[];
  issued: number;
  rows: { id: string; name: string; shares: number; pct: string }[];
} {
  const num = (s: string) => Number(s.replace(/,/g, ''));
  const vals = [...html.matchAll(/<div class="value">([^<]*)<\/div>/g)].map((m) => m[1]!);
  const summary: { shares: number; count: number; pct: string }[] = [];
  for (let k = 0; k + 2 < vals.length; k += 3) {
    summary.push({ shares: num(vals[k]!), count: num(vals[k + 1]!), pct: vals[k + 2]! });
  }
  const issued = num(/<div class="summary-value">([^<]*)<\/div>/.exec(html)?.[1] ?? 'NaN');
  const rows: { id: string; name: string; shares: number; pct: string }[] = [];
  const tbody = html.slice(html.indexOf('<tbody>'));
  for (const tr of tbody.split('</tr>')) {
    const v = [...tr.matchAll(/<div class="mobile-list-body">([^<]*)<\/div>/g)].map((m) => m[1]!);
    if (v.length === 5) rows.push({ id: v[0]!, name: v[1]!, shares: num(v[3]!), pct: v[4]! });
  }
  return { summary, issued, rows };
}

export interface ReportLine {
  code: string;
  marker: string;
  suspended: boolean;
  prevClose: string;
  close: string;
}

/** The QUOTATIONS section of a report read by fixed columns (independent of the scraper parsers). */
export function reportLines(text: string): ReportLine[] {
  const start = text.indexOf('<a name = "quotations">');
  const end = text.indexOf('-'.repeat(79), start);
  // columns are fixed in the unescaped text (names may contain `&`, printed as `&amp;`)
  const section = text
    .slice(start, end)
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
  // CRLF line ends; chunk boundaries (`</font></pre>`, `<pre><font size='1'>`) are lines of tags only
  const lines = section.split(/\r?\n/).filter((l) => !/^\s*(?:<[^>]*>\s*)+$/.test(l));
  const out: ReportLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const m = /^([*# ])\s*(\d{1,5})([#* ])/.exec(l);
    if (!m) continue;
    const code = m[2]!.padStart(5, '0');
    const marker = `${m[1]!.trim()}${m[3]!.trim()}`;
    if (/TRADING (SUSPENDED|HALTED)/.test(l)) {
      out.push({ code, marker, suspended: true, prevClose: '', close: '' });
      continue;
    }
    const next = lines[++i] ?? '';
    out.push({
      code,
      marker,
      suspended: false,
      prevClose: l.slice(27, 35).trim(),
      close: next.slice(27, 35).trim(),
    });
  }
  return out;
}

/** The quote widget token an equities page carries (still URL-encoded, as the page prints it). */
export async function quoteToken(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}${PATHS.equitiesPage}?sc_lang=en`);
  if (!res.ok) throw new Error(`equities page: HTTP ${res.status}`);
  const m = /\/\/return "Base64-AES-Encrypted-Token";\s*return "([^"]+)"/.exec(await res.text());
  if (!m) throw new Error('equities page without a token');
  return m[1]!;
}
