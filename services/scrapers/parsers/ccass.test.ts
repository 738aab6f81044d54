import { load } from 'cheerio/slim';
import { describe, expect, it } from 'vitest';
import { type CcassRow, ErrorCodes, naturalKeys, rowValidators } from '../../../contracts/index.ts';
import { parseCcass } from './ccass.ts';
import { parseOutcome } from './shared.ts';
import { harbourErrorOf, readFixture } from './test-fixtures.ts';

const TENCENT = readFixture('ccass', '00700-2019-10-29.html');
const CKH_TRUNCATED = readFixture('ccass', '00001-2019-10-30.truncated-dom.html');

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
    const sum = (rs: CcassRow[]) => rs.reduce((a, r) => a + r.shareholding, 0);
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

describe('parseCcass refusals', () => {
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
      $('#pnlResultNormal tbody tr').last().find('.col-shareholding .mobile-list-body').text('-1,000');
    });
    const last = parseCcass(html)
      .rows.filter((r) => r.row_type === 'participant')
      .at(-1)!;
    expect(last.shareholding).toBe(-1000);
  });
});
