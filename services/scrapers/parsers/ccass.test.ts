import { load } from 'cheerio/slim';
import { describe, expect, it } from 'vitest';
import { type CcassRow, ErrorCodes, naturalKeys, rowValidators } from '../../../contracts/index.ts';
import { harbourErrorOf, readFixture } from '../../../test/support/hkex-fixtures.ts';
import { parseCcass } from './ccass.ts';
import { parseOutcome } from './shared.ts';

const TENCENT = readFixture('ccass', '00700-2019-10-29.html');
const CKH_TRUNCATED = readFixture('ccass', '00001-2019-10-30.truncated-dom.html');
const XPENG_2026 = readFixture('ccass', '09868-2026-08-20.dom.html');
const XPENG_2025 = readFixture('ccass', '09868-2025-09-11.dom-onetrust.html');

const sum = (rs: CcassRow[]) => rs.reduce((a, r) => a + r.shareholding, 0);
const participantRows = (rows: CcassRow[]) => rows.filter((r) => r.row_type === 'participant');
/** Sets one summary line's figures on a page (`label` as printed, e.g. "Market Intermediaries"). */
function setSummary($: ReturnType<typeof load>, label: string, shareholding: string, participants: string) {
  const row = $('#pnlResultSummary .ccass-search-datarow').filter(
    (_, el) => $(el).find('.summary-category').text().trim() === label,
  );
  expect(row).toHaveLength(1);
  row.find('.shareholding .value').first().text(shareholding);
  row.find('.number-of-participants .value').first().text(participants);
}

/** Derives a page from the real 00700 page by editing its DOM. */
function derive(edit: (($: ReturnType<typeof load>) => void) | null = null): string {
  const $ = load(TENCENT);
  edit?.($);
  return $.html();
}

describe('parseCcass on the real 00700 page (2019-10-29)', () => {
  const { summary, rows } = parseCcass(TENCENT);
  const participants = rows.filter((r) => r.row_type === 'participant');

  it('reads the summary', () => {
    expect(summary).toEqual({
      code: '00700',
      name: 'TENCENT HOLDINGS LIMITED',
      holdingDate: '2019-10-29',
      issuedShares: 9_553_315_311,
      intermediaries: { shareholding: 6_584_687_539, participants: 540, pctIssued: 68.92 },
      consenting: { shareholding: 31_300, participants: 4, pctIssued: 0 },
      nonConsenting: { shareholding: 3_532_023, participants: 380, pctIssued: 0.03 },
      total: { shareholding: 6_588_250_862, participants: 924, pctIssued: 68.95 },
    });
  });

  it('gives 544 participant rows: 540 intermediaries + 4 consenting investors', () => {
    expect(participants).toHaveLength(544);
    expect(participants.filter((r) => r.participant_id !== null)).toHaveLength(540);
    expect(participants.filter((r) => r.participant_id === null)).toHaveLength(4);
    expect(rows).toHaveLength(544 + 5);
  });

  it('reads the first and last participant rows exactly', () => {
    expect(participants[0]).toEqual({
      code: '00700',
      holding_date: '2019-10-29',
      row_type: 'participant',
      participant_id: 'C00019',
      participant_name: 'THE HONGKONG AND SHANGHAI BANKING',
      address: 'HSBC WEALTH BUSINESS SERVICES 8/F TOWER 2 & 3 HSBC CENTRE 1 SHAM MONG ROAD KOWLOON',
      shareholding: 1_709_894_041,
      pct_issued: 17.89,
      participants: null,
    } satisfies CcassRow);
    expect(participants[1]).toMatchObject({
      participant_id: 'C00039',
      participant_name: 'STANDARD CHARTERED BANK (HONG KONG) LTD',
      shareholding: 1_200_314_188,
      pct_issued: 12.56,
    });
    expect(participants.at(-1)).toEqual({
      code: '00700',
      holding_date: '2019-10-29',
      row_type: 'participant',
      participant_id: 'B02162',
      participant_name: 'GAMMA SECURITIES LTD',
      address: 'FLAT 8 11/F CHINA MERCHANTS TOWER SHUN TAK CENTRE 168-200 CONNAUGHT ROAD CENTRAL HONG KONG',
      shareholding: 100,
      pct_issued: 0,
      participants: null,
    } satisfies CcassRow);
  });

  it('keeps consenting investors without ID, name without the " *" marker, with address', () => {
    const consenting = participants.filter((r) => r.participant_id === null);
    expect(consenting.map((r) => [r.participant_name, r.shareholding])).toEqual([
      ['HARMONY ENTERPRISES LIMITED', 29_500],
      ['KO TIN FOOK', 1_000],
      ['CHEUNG YUEN YU', 500],
      ['NG TANG KWAI', 300],
    ]);
    expect(consenting[1]!.address).toBe('FLAT C 19/F 4 BROADWAY STREET MEI FOO SUN CHUEN KOWLOON');
  });

  it('keeps addresses as printed (inner double spaces included)', () => {
    expect(
      participants.some(
        (r) => r.address === 'FLAT D  4/F  MONGKOK BUILDING 546-548 NATHAN ROAD MONGKOK KOWLOON',
      ),
    ).toBe(true);
  });

  it('emits the summary lines and issued shares as rows', () => {
    const summaryRows = rows.filter((r) => r.row_type !== 'participant');
    expect(summaryRows).toEqual(
      [
        { row_type: 'intermediaries', shareholding: 6_584_687_539, pct_issued: 68.92, participants: 540 },
        { row_type: 'consenting', shareholding: 31_300, pct_issued: 0, participants: 4 },
        { row_type: 'non_consenting', shareholding: 3_532_023, pct_issued: 0.03, participants: 380 },
        { row_type: 'total', shareholding: 6_588_250_862, pct_issued: 68.95, participants: 924 },
        { row_type: 'issued_shares', shareholding: 9_553_315_311, pct_issued: null, participants: null },
      ].map((r) => ({
        code: '00700',
        holding_date: '2019-10-29',
        participant_id: null,
        participant_name: null,
        address: null,
        ...r,
      })),
    );
  });

  it('detail rows add up to the summary shareholdings', () => {
    expect(sum(participants.filter((r) => r.participant_id !== null))).toBe(6_584_687_539);
    expect(sum(participants.filter((r) => r.participant_id === null))).toBe(31_300);
  });

  it('every row fits the contract and natural keys are unique', () => {
    for (const r of rows) expect(rowValidators.ccass.problems(r)).toEqual([]);
    const keys = new Set(rows.map((r) => naturalKeys.ccass.map((k) => String(r[k])).join('|')));
    expect(keys.size).toBe(rows.length);
  });

  it('parses the 1.1 MB page well under a second', () => {
    const t0 = performance.now();
    parseCcass(TENCENT);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1000);
  });
});

describe('parseCcass on the current markup (09868 XPENG, 2026-08-20)', () => {
  const { summary, rows } = parseCcass(XPENG_2026);
  const participants = participantRows(rows);

  it('reads the summary: no consenting-investor line at all', () => {
    expect(summary).toEqual({
      code: '09868',
      name: 'XPENG INC.',
      holdingDate: '2026-08-20',
      issuedShares: 1_916_140_339,
      intermediaries: { shareholding: 1_399_271_044, participants: 262, pctIssued: 73.02 },
      consenting: null,
      nonConsenting: { shareholding: 70_300, participants: 15, pctIssued: 0 },
      total: { shareholding: 1_399_341_344, participants: 277, pctIssued: 73.02 },
    });
  });

  it('gives 262 participant rows summing to 1,399,271,044, every one with an ID, no consenting row', () => {
    expect(participants).toHaveLength(262);
    expect(sum(participants)).toBe(1_399_271_044);
    expect(participants.every((r) => r.participant_id !== null)).toBe(true);
    expect(rows.filter((r) => r.row_type === 'consenting')).toEqual([]);
    expect(rows.map((r) => r.row_type).filter((t) => t !== 'participant')).toEqual([
      'intermediaries',
      'non_consenting',
      'total',
      'issued_shares',
    ]);
  });

  it('reads the first and last rows as printed', () => {
    expect(participants[0]).toEqual({
      code: '09868',
      holding_date: '2026-08-20',
      row_type: 'participant',
      participant_id: 'C00010',
      participant_name: 'CITIBANK N.A.',
      address: '9/F CITI TOWER ONE BAY EAST 83 HOI BUN ROAD KWUN TONG KOWLOON',
      shareholding: 550_624_235,
      pct_issued: 28.73,
      participants: null,
    } satisfies CcassRow);
    expect(participants.at(-1)).toMatchObject({
      participant_id: 'B02093',
      participant_name: 'UPMAX SECURITIES LTD',
      shareholding: 37,
      pct_issued: 0,
    });
  });

  it('every row fits the contract', () => {
    for (const r of rows) expect(rowValidators.ccass.problems(r)).toEqual([]);
  });
});

describe('parseCcass on the current markup with a cookie-consent block (09868, 2025-09-11)', () => {
  it('ignores the injected OneTrust markup and reads 240 rows summing to 1,304,184,311', () => {
    expect(XPENG_2025).toContain('onetrust');
    const { summary, rows } = parseCcass(XPENG_2025);
    const participants = participantRows(rows);
    expect(summary).toMatchObject({
      code: '09868',
      holdingDate: '2025-09-11',
      issuedShares: 1_906_502_969,
      intermediaries: { shareholding: 1_304_184_311, participants: 240, pctIssued: 68.4 },
      consenting: null,
      nonConsenting: { shareholding: 32_700, participants: 12, pctIssued: 0 },
      total: { shareholding: 1_304_217_011, participants: 252, pctIssued: 68.4 },
    });
    expect(participants).toHaveLength(240);
    expect(sum(participants)).toBe(1_304_184_311);
    expect(participants[0]).toMatchObject({
      participant_id: 'C00010',
      shareholding: 482_347_721,
      pct_issued: 25.3,
    });
    expect(participants.at(-1)).toMatchObject({ participant_id: 'B02093', shareholding: 5 });
  });
});

describe('parseCcass: market-intermediary rows without a participant ID', () => {
  /** The real 09868 page plus an HKSCC row with no ID, counted (as HKEX does) among the intermediaries. */
  const withHkscc = (() => {
    const $ = load(XPENG_2026);
    const first = $('#pnlResultNormal tbody tr').first();
    const row = first.clone();
    row.find('.col-participant-id .mobile-list-body').text('');
    row.find('.col-participant-name .mobile-list-body').text('HONG KONG SECURITIES CLEARING CO. LTD.');
    row
      .find('.col-address .mobile-list-body')
      .text('8/F TWO EXCHANGE SQUARE 8 CONNAUGHT PLACE CENTRAL HONG KONG');
    row.find('.col-shareholding .mobile-list-body').text('1,000,000');
    row.find('.col-shareholding-percent .mobile-list-body').text('0.05%');
    first.after(row);
    setSummary($, 'Market Intermediaries', '1,400,271,044', '263');
    setSummary($, 'Total', '1,400,341,344', '278');
    return $.html();
  })();

  it('parses: the ID-less row is an intermediary, kept with a null ID and its name', () => {
    const { summary, rows } = parseCcass(withHkscc);
    const participants = participantRows(rows);
    expect(summary.intermediaries).toEqual({
      shareholding: 1_400_271_044,
      participants: 263,
      pctIssued: 73.02,
    });
    expect(participants).toHaveLength(263);
    expect(participants[1]).toMatchObject({
      participant_id: null,
      participant_name: 'HONG KONG SECURITIES CLEARING CO. LTD.',
      shareholding: 1_000_000,
      pct_issued: 0.05,
    });
    expect(sum(participants)).toBe(1_400_271_044);
    expect(rows.filter((r) => r.row_type === 'consenting')).toEqual([]);
  });

  it('tells consenting investors by the " *" marker even on a page that also has ID-less intermediaries', () => {
    const $ = load(TENCENT);
    $('#pnlResultNormal tbody tr').first().find('.col-participant-id .mobile-list-body').text('');
    const { rows } = parseCcass($.html());
    const participants = participantRows(rows);
    expect(participants.filter((r) => r.participant_id === null)).toHaveLength(5);
    expect(participants[0]).toMatchObject({
      participant_id: null,
      participant_name: 'THE HONGKONG AND SHANGHAI BANKING',
      shareholding: 1_709_894_041,
    });
    expect(rows.find((r) => r.row_type === 'consenting')).toMatchObject({
      participants: 4,
      shareholding: 31_300,
    });
  });
});

describe('parseCcass refusals', () => {
  it('refuses a current-markup page cut off in its detail table with the truncation code', () => {
    const at = XPENG_2026.indexOf('B02093'); // the last row
    expect(at).toBeGreaterThan(0);
    const err = harbourErrorOf(() => parseCcass(XPENG_2026.slice(0, Math.floor(at / 2))));
    expect(err.code).toBe('HARBOUR_ERR_PARSE_TRUNCATED');
    expect(err.detail).toMatchObject({ expected: 262, expectedIntermediaries: 262 });
    expect((err.detail as { found: number }).found).toBeLessThan(262);
    expect(parseOutcome(err)).toBe('truncated');
  });

  it('refuses rows that do not add up to their summary section with ParseLayout', () => {
    const html = derive(($) => {
      $('#pnlResultNormal tbody tr')
        .first()
        .find('.col-shareholding .mobile-list-body')
        .text('1,709,894,042');
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseLayout);
    expect(err.message).toMatch(
      /540 market intermediaries rows holding 6584687540 but its summary says 540 holding 6584687539/,
    );
  });

  it('refuses more rows than a section counts with ParseLayout (not a truncation)', () => {
    const html = derive(($) => {
      setSummary($, 'Consenting Investor Participants', '31,300', '3');
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseLayout);
    expect(err.detail).toMatchObject({ section: 'consenting investor participants', foundConsenting: 4 });
  });

  it('refuses the truncated 00001 capture with ParseTruncated', () => {
    const err = harbourErrorOf(() => parseCcass(CKH_TRUNCATED));
    expect(err.code).toBe(ErrorCodes.ParseTruncated);
    expect(err.detail).toMatchObject({ expected: 454, found: 167 });
    expect(err.message).toMatch(/167 participant rows .* promises 454/);
    expect(parseOutcome(err)).toBe('truncated');
  });

  it('refuses a page with one detail row missing', () => {
    const html = derive(($) => {
      $('#pnlResultNormal tbody tr').eq(10).remove();
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseTruncated);
    expect(err.detail).toMatchObject({ expected: 544, found: 543 });
  });

  it('recognises the maintenance page', () => {
    const html = derive(($) => {
      $('.ccass-search-result').replaceWith(
        '<div class="ccass-search-maintenance">CCASS Shareholding Search is under system maintenance. Please try again later.</div>',
      );
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseMaintenance);
    expect(parseOutcome(err)).toBe('maintenance');
  });

  it('recognises an empty result panel with a no-data message', () => {
    const html = derive(($) => {
      $('#pnlResultSummary').empty();
      $('#pnlResultNormal').html('<div class="ccass-search-no-result">No match record found.</div>');
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseNoData);
    expect(err.detail).toMatchObject({ stockCode: '00700', holdingDate: '2019/10/29' });
  });

  it('treats an empty result panel without any message as no data', () => {
    const html = derive(($) => {
      $('#pnlResultSummary').empty();
      $('#pnlResultNormal').empty();
    });
    expect(harbourErrorOf(() => parseCcass(html)).code).toBe(ErrorCodes.ParseNoData);
  });

  it('treats a date outside the served year as no data', () => {
    const html = derive(($) => {
      $('.ccass-search-result').remove();
      $('#alertMsg').attr(
        'value',
        'The shareholding date is out of range. Please enter a date within the past 12 months.',
      );
    });
    expect(harbourErrorOf(() => parseCcass(html)).code).toBe(ErrorCodes.ParseNoData);
  });

  it('recognises an invalid stock code', () => {
    const html = derive(($) => {
      $('.ccass-search-result').remove();
      $('#txtStockCode').attr('value', '99999');
      $('#alertMsg').attr('value', 'The stock code entered is invalid.');
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseUnknownStock);
    expect(err.detail).toMatchObject({ stockCode: '99999' });
    expect(parseOutcome(err)).toBe('unknown_stock');
  });

  it('refuses the bare search form (no search performed) with ParseLayout', () => {
    const html = derive(($) => {
      $('.ccass-search-result').empty();
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseLayout);
    expect(err.message).toMatch(/bare search form/);
  });

  it('refuses an unrelated page with ParseLayout', () => {
    const err = harbourErrorOf(() =>
      parseCcass(readFixture('ccass-stocklist', 'stocklist-html-2019-10-27.html')),
    );
    expect(err.code).toBe(ErrorCodes.ParseLayout);
    expect(harbourErrorOf(() => parseCcass('')).code).toBe(ErrorCodes.ParseLayout);
  });

  it('refuses a summary line it does not know', () => {
    const html = derive(($) => {
      $('.ccass-search-datarow .summary-category').first().text('Something Else');
    });
    expect(harbourErrorOf(() => parseCcass(html)).code).toBe(ErrorCodes.ParseLayout);
  });

  it('refuses unreadable figures', () => {
    const html = derive(($) => {
      $('#pnlResultNormal tbody tr').first().find('.col-shareholding .mobile-list-body').text('1,70x,894');
    });
    const err = harbourErrorOf(() => parseCcass(html));
    expect(err.code).toBe(ErrorCodes.ParseLayout);
    expect(err.message).toMatch(/row 1/);
  });

  it('keeps a negative intermediary shareholding as printed (HKEX documents that it can happen)', () => {
    const html = derive(($) => {
      // The last row held 100; the summary adds up what the rows print, the negative one included.
      $('#pnlResultNormal tbody tr').last().find('.col-shareholding .mobile-list-body').text('-1,000');
      setSummary($, 'Market Intermediaries', '6,584,686,439', '540');
    });
    const last = parseCcass(html)
      .rows.filter((r) => r.row_type === 'participant')
      .at(-1)!;
    expect(last.shareholding).toBe(-1000);
  });
});
