import { type CheerioAPI, load } from 'cheerio/slim';
import { type CcassRow, ErrorCodes } from '../../../contracts/index.ts';
import {
  cleanText,
  DATE_RANGE_RE,
  excerpt,
  fail,
  isoFromDmy,
  isoFromYmd,
  MAINTENANCE_RE,
  NO_DATA_RE,
  normalizeStockCode,
  parseDecimal,
  parsePercent,
  UNKNOWN_STOCK_RE,
} from './shared.ts';

/** One line of the CCASS result summary. */
export interface CcassSummaryLine {
  shareholding: number;
  participants: number;
  /** Percent of issued shares as printed (`68.92` for "68.92%"); null when the page prints none. */
  pctIssued: number | null;
}

export interface CcassSummary {
  code: string;
  /** Stock name as the page prints it (`TENCENT HOLDINGS LIMITED`); empty if absent. */
  name: string;
  holdingDate: string;
  /** "Total number of Issued Shares/Warrants/Units (last updated figure)". */
  issuedShares: number;
  intermediaries: CcassSummaryLine;
  /** Consenting investor participants; null when the page has no such summary line. */
  consenting: CcassSummaryLine | null;
  /** Non-consenting investor participants (shown only as this aggregate); null when absent. */
  nonConsenting: CcassSummaryLine | null;
  total: CcassSummaryLine;
}

/** How the page marks a consenting investor participant: its name ends in ` *`. */
const CONSENTING_MARK_RE = /\s*\*$/;

type SummaryKey = 'intermediaries' | 'consenting' | 'non_consenting' | 'total';

function summaryKey(label: string): SummaryKey | null {
  const l = label.toLowerCase();
  if (l.startsWith('market intermediar')) return 'intermediaries';
  if (l.startsWith('non-consenting') || l.startsWith('non consenting')) return 'non_consenting';
  if (l.startsWith('consenting')) return 'consenting';
  if (l === 'total') return 'total';
  return null;
}

/**
 * A detail value as printed: trimmed, NBSP as space, line breaks (from a re-flowed DOM capture)
 * folded to one space, but inner spacing kept (real addresses have double spaces).
 */
function printedText(s: string): string {
  return s
    .replace(/\u00a0/g, ' ')
    .replace(/[ \t]*[\r\n]+[ \t]*/g, ' ')
    .trim();
}

/** Text of the page's messages: the hidden `alertMsg`, the result area, a maintenance block. */
function pageMessages($: CheerioAPI): string {
  const parts = [
    $('#alertMsg').attr('value') ?? '',
    $('.ccass-search-maintenance').text(),
    $('.ccass-search-result').text(),
    $('#pnlResultSummary').text(),
    $('#pnlResultNormal').text(),
  ];
  return cleanText(parts.join(' '));
}

function classifyNoResult($: CheerioAPI): never {
  const alertMsg = cleanText($('#alertMsg').attr('value'));
  const messages = pageMessages($);
  const title = cleanText($('title').text());
  const stockCode = cleanText($('#txtStockCode').attr('value'));
  const holdingDate = cleanText($('#txtShareholdingDate').attr('value'));
  if (
    $('.ccass-search-maintenance').length > 0 ||
    MAINTENANCE_RE.test(title) ||
    MAINTENANCE_RE.test(messages)
  ) {
    fail(ErrorCodes.ParseMaintenance, 'CCASS search answered with its maintenance page', {
      message: excerpt($('.ccass-search-maintenance').text() || messages || title),
    });
  }
  if (UNKNOWN_STOCK_RE.test(messages)) {
    fail(
      ErrorCodes.ParseUnknownStock,
      `CCASS search does not know stock "${stockCode}": ${excerpt(messages, 120)}`,
      {
        stockCode,
        message: excerpt(messages),
      },
    );
  }
  // Empty result panels, or a "no record" / date-out-of-range message: nothing for this stock and date.
  const emptyPanels = $('#pnlResultSummary').length + $('#pnlResultNormal').length > 0;
  if (emptyPanels || NO_DATA_RE.test(messages) || DATE_RANGE_RE.test(messages)) {
    fail(
      ErrorCodes.ParseNoData,
      `CCASS search has no shareholding data for stock "${stockCode}" on ${holdingDate || 'the asked date'}`,
      { stockCode, holdingDate, message: excerpt(messages) },
    );
  }
  if (alertMsg !== '') {
    fail(ErrorCodes.ParseLayout, `CCASS search answered with an unrecognised message: ${excerpt(alertMsg)}`, {
      message: alertMsg,
    });
  }
  if ($('#txtStockCode').length > 0) {
    fail(ErrorCodes.ParseLayout, 'CCASS search answered with the bare search form: no search was performed', {
      stockCode,
      holdingDate,
    });
  }
  fail(ErrorCodes.ParseLayout, 'page is not a CCASS shareholding search result (no result summary found)', {
    title,
    start: excerpt($('body').text(), 300),
  });
}

/**
 * Parses a CCASS shareholding search result page (`searchsdw.aspx`, English).
 *
 * Rows: one `participant` row per detail line (consenting investor participants, marked by the page
 * with a name ending in ` *`, have `participant_id` null and their name without the marker; a
 * market-intermediary row the page prints without an ID has `participant_id` null too), then one row per
 * summary line (`intermediaries`, `consenting`, `non_consenting`, `total`: shareholding,
 * participants count, pct_issued) and one `issued_shares` row (shareholding = issued shares).
 *
 * Refuses: maintenance page → ParseMaintenance; empty result / no-data or out-of-range-date
 * message → ParseNoData; invalid stock message → ParseUnknownStock; detail rows ≠
 * Completeness is checked per summary section (market intermediaries, consenting investors): fewer
 * rows than a section's count → ParseTruncated (the page stops short); more rows, or rows whose
 * shareholdings do not add up to the section's → ParseLayout; anything else unreadable → ParseLayout.
 */
export function parseCcass(html: string): { summary: CcassSummary; rows: CcassRow[] } {
  const $ = load(html);

  const datarows = $('#pnlResultSummary .ccass-search-datarow');
  if (datarows.length === 0) classifyNoResult($);
  const lines = new Map<SummaryKey, CcassSummaryLine>();
  datarows.each((_, el) => {
    const row = $(el);
    const label = cleanText(row.find('.summary-category').text());
    const [key, line] = readSummaryLine(label, (cls) => cleanText(row.find(`.${cls} .value`).first().text()));
    if (lines.has(key))
      fail(ErrorCodes.ParseLayout, `CCASS summary line "${label}" appears twice`, { label });
    lines.set(key, line);
  });
  const intermediaries = lines.get('intermediaries');
  const total = lines.get('total');
  if (!intermediaries || !total) {
    fail(ErrorCodes.ParseLayout, 'CCASS summary lacks its Market Intermediaries or Total line', {
      found: [...lines.keys()],
    });
  }
  const issuedShares = readIssuedShares($);
  const { code, holdingDate, name } = readIdentity($);

  const participants = readDetailRows($);
  const consenting = lines.get('consenting') ?? null;
  checkComplete({ code, holdingDate }, participants, intermediaries, consenting);

  const rows: CcassRow[] = participants.map((p) => ({
    code,
    holding_date: holdingDate,
    row_type: 'participant',
    participant_id: p.id,
    participant_name: p.name,
    address: p.address,
    // May be negative: HKEX notes individual intermediaries can show a negative shareholding.
    shareholding: p.shareholding,
    pct_issued: p.pctIssued,
    participants: null,
  }));
  const summaryRow = (
    rowType: CcassRow['row_type'],
    shareholding: number,
    line?: CcassSummaryLine,
  ): CcassRow => ({
    code,
    holding_date: holdingDate,
    row_type: rowType,
    participant_id: null,
    participant_name: null,
    address: null,
    shareholding,
    pct_issued: line ? line.pctIssued : null,
    participants: line ? line.participants : null,
  });
  const nonConsenting = lines.get('non_consenting') ?? null;
  rows.push(summaryRow('intermediaries', intermediaries.shareholding, intermediaries));
  if (consenting) rows.push(summaryRow('consenting', consenting.shareholding, consenting));
  if (nonConsenting) rows.push(summaryRow('non_consenting', nonConsenting.shareholding, nonConsenting));
  rows.push(summaryRow('total', total.shareholding, total));
  rows.push(summaryRow('issued_shares', issuedShares));

  return {
    summary: { code, name, holdingDate, issuedShares, intermediaries, consenting, nonConsenting, total },
    rows,
  };
}

/** One line of the result summary, labelled `label`: its key and figures (`read` gives a figure's text by its class). */
function readSummaryLine(label: string, read: (cls: string) => string): [SummaryKey, CcassSummaryLine] {
  const key = summaryKey(label);
  if (key === null) {
    fail(ErrorCodes.ParseLayout, `CCASS summary has an unknown line "${label}"`, { label });
  }
  const shareholding = parseDecimal(read('shareholding'));
  const participants = parseDecimal(read('number-of-participants'));
  const pct = parsePercent(read('percent-of-participants'));
  if (
    shareholding === null ||
    shareholding === undefined ||
    participants === null ||
    participants === undefined ||
    !Number.isInteger(participants) ||
    participants < 0 ||
    pct === undefined
  ) {
    fail(ErrorCodes.ParseLayout, `CCASS summary line "${label}" has unreadable figures`, {
      label,
      shareholding: read('shareholding'),
      participants: read('number-of-participants'),
      pct: read('percent-of-participants'),
    });
  }
  return [key, { shareholding, participants, pctIssued: pct }];
}

/** "Total number of Issued Shares/Warrants/Units" under the summary. */
function readIssuedShares($: CheerioAPI): number {
  const issuedText = cleanText($('#pnlResultSummary .ccass-search-remarks .summary-value').first().text());
  const issuedShares = parseDecimal(issuedText);
  if (issuedShares === null || issuedShares === undefined) {
    fail(ErrorCodes.ParseLayout, 'CCASS summary lacks a readable total number of issued shares', {
      value: issuedText,
    });
  }
  return issuedShares;
}

/** Which stock and date the page is for: the form's text boxes, else the mobile view's search bar. */
function readIdentity($: CheerioAPI): { code: string; holdingDate: string; name: string } {
  const codeText = cleanText($('#txtStockCode').attr('value'));
  const code =
    normalizeStockCode(codeText) ??
    normalizeStockCode(/^\s*(\d{1,5})\b/.exec($('.search-bar__selectedItem-filter.searchStock').text())?.[1]);
  if (code === null) {
    fail(ErrorCodes.ParseLayout, 'CCASS result page does not show which stock it is for', {
      value: codeText,
    });
  }
  const dateText = cleanText($('#txtShareholdingDate').attr('value'));
  const holdingDate =
    isoFromYmd(dateText) ?? isoFromDmy(cleanText($('.search-bar__selectedItem-filter.searchDate').text()));
  if (holdingDate === null) {
    fail(ErrorCodes.ParseLayout, 'CCASS result page does not show a readable shareholding date', {
      value: dateText,
    });
  }
  const name =
    cleanText($('#txtStockName').attr('value')) ||
    cleanText($('.search-bar__selectedItem-filter.searchStock b').first().text());
  return { code, holdingDate, name };
}

/** A detail row as read; `consenting` when the page marks it as a consenting investor participant. */
interface DetailRow {
  id: string | null;
  name: string | null;
  address: string | null;
  shareholding: number;
  pctIssued: number | null;
  consenting: boolean;
}

/**
 * The detail table's rows. A consenting investor participant is printed with its name ending in
 * ` *` and no ID (its name is kept without the mark). An empty ID alone says nothing: market-
 * intermediary rows may have none (HKSCC itself holds shares of some stocks), and the summary
 * counts them there.
 */
function readDetailRows($: CheerioAPI): DetailRow[] {
  const rows: DetailRow[] = [];
  $('#pnlResultNormal table tbody tr').each((i, el) => {
    const tds = $(el).children('td');
    if (tds.length === 0) return; // spacer / header rows
    // A cell's value sits inside `.mobile-list-body` (after a `.mobile-list-heading` label).
    const get = (cls: string): string | null => {
      const td = tds.filter(`.${cls}`).first();
      if (td.length === 0) return null;
      const body = td.find('.mobile-list-body');
      return printedText((body.length > 0 ? body.first() : td).text());
    };
    const id = get('col-participant-id');
    const rawName = get('col-participant-name');
    const address = get('col-address');
    const holdingText = get('col-shareholding');
    const pctText = get('col-shareholding-percent');
    if (id === null || rawName === null || holdingText === null) {
      fail(
        ErrorCodes.ParseLayout,
        `CCASS detail row ${i + 1} lacks participant ID, name or shareholding cells`,
        {
          row: i + 1,
        },
      );
    }
    const shareholding = parseDecimal(holdingText);
    const pct = pctText === null ? null : parsePercent(pctText);
    if (shareholding === null || shareholding === undefined || pct === undefined) {
      fail(ErrorCodes.ParseLayout, `CCASS detail row ${i + 1} has unreadable figures`, {
        row: i + 1,
        shareholding: holdingText,
        pct: pctText,
      });
    }
    const consenting = id === '' && CONSENTING_MARK_RE.test(rawName);
    const name = consenting ? rawName.replace(CONSENTING_MARK_RE, '') : rawName;
    rows.push({
      id: id === '' ? null : id,
      name: name === '' ? null : name,
      address: address === null || address === '' ? null : address,
      shareholding,
      pctIssued: pct,
      consenting,
    });
  });
  return rows;
}

/**
 * Completeness, section by section (market intermediaries, consenting investors): each summary
 * line against the rows the page marks as its own. Fewer rows than a line counts → ParseTruncated
 * (the page stops short); more, or shareholdings that do not add up → ParseLayout.
 */
function checkComplete(
  page: { code: string; holdingDate: string },
  rows: readonly DetailRow[],
  intermediaries: CcassSummaryLine,
  consenting: CcassSummaryLine | null,
): void {
  const tally = (which: boolean) => {
    const own = rows.filter((r) => r.consenting === which);
    return { rows: own.length, shareholding: own.reduce((a, r) => a + r.shareholding, 0) };
  };
  const sections = [
    { name: 'market intermediaries', line: intermediaries, found: tally(false) },
    {
      name: 'consenting investor participants',
      line: consenting ?? { shareholding: 0, participants: 0, pctIssued: null },
      found: tally(true),
    },
  ];
  const [mi, ci] = sections as [(typeof sections)[0], (typeof sections)[0]];
  const detail = {
    expected: intermediaries.participants + (consenting?.participants ?? 0),
    found: rows.length,
    expectedIntermediaries: intermediaries.participants,
    foundIntermediaries: mi.found.rows,
    expectedConsenting: consenting?.participants ?? 0,
    foundConsenting: ci.found.rows,
  };
  const { code, holdingDate } = page;
  const short = sections.filter((x) => x.found.rows < x.line.participants);
  if (short.length > 0) {
    fail(
      ErrorCodes.ParseTruncated,
      `CCASS page for ${code} on ${holdingDate} lists ${rows.length} participant rows but its summary promises ${detail.expected} (${short
        .map((x) => `${x.found.rows} of ${x.line.participants} ${x.name}`)
        .join(', ')}); the page is incomplete`,
      detail,
    );
  }
  for (const x of sections) {
    if (x.found.rows !== x.line.participants || x.found.shareholding !== x.line.shareholding) {
      fail(
        ErrorCodes.ParseLayout,
        `CCASS page for ${code} on ${holdingDate} has ${x.found.rows} ${x.name} rows holding ${x.found.shareholding} but its summary says ${x.line.participants} holding ${x.line.shareholding}`,
        {
          ...detail,
          section: x.name,
          foundShareholding: x.found.shareholding,
          expectedShareholding: x.line.shareholding,
        },
      );
    }
  }
}
