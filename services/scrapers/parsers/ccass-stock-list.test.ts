import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../contracts/index.ts';
import { harbourErrorOf, readFixture } from '../../../test/support/hkex-fixtures.ts';
import { parseCcassStockList } from './ccass-stock-list.ts';

describe('parseCcassStockList', () => {
  it('reads the old HTML form (4,755 stocks, whitespace-padded codes)', () => {
    const list = parseCcassStockList(readFixture('ccass-stocklist', 'stocklist-html-2019-10-27.html'));
    expect(list).toHaveLength(4755);
    expect(list[0]).toEqual({ code: '00001', name: 'CK HUTCHISON HOLDINGS LIMITED' });
    expect(list[1]).toEqual({ code: '00002', name: 'CLP HOLDINGS LIMITED' });
    expect(list.find((s) => s.code === '00700')).toEqual({ code: '00700', name: 'TENCENT HOLDINGS LIMITED' });
    expect(list.at(-1)).toEqual({ code: '93997', name: 'NINGBO JIFENG AUTO PARTS CO.,LTD (A #603997)' });
    expect(list.every((s) => /^\d{5}$/.test(s.code) && s.name !== '')).toBe(true);
    expect(new Set(list.map((s) => s.code)).size).toBe(4755);
  });

  it('reads the current JSON form and pads codes', () => {
    const body =
      '\uFEFF[{"c":"00001","n":"CKH HOLDINGS"},{"c":" 700 ","n":" TENCENT "},{"c":5,"n":"HSBC HOLDINGS"}]';
    expect(parseCcassStockList(body)).toEqual([
      { code: '00001', name: 'CKH HOLDINGS' },
      { code: '00700', name: 'TENCENT' },
      { code: '00005', name: 'HSBC HOLDINGS' },
    ]);
  });

  it('refuses empty lists, bad codes, maintenance and unknown pages', () => {
    expect(harbourErrorOf(() => parseCcassStockList('[]')).code).toBe(ErrorCodes.ParseNoData);
    expect(harbourErrorOf(() => parseCcassStockList('[{"c":"7A0","n":"X"}]')).code).toBe(
      ErrorCodes.ParseLayout,
    );
    expect(harbourErrorOf(() => parseCcassStockList('[{"n":"X"}]')).code).toBe(ErrorCodes.ParseLayout);
    expect(harbourErrorOf(() => parseCcassStockList('[{"c":"1",')).code).toBe(ErrorCodes.ParseLayout);
    expect(
      harbourErrorOf(() =>
        parseCcassStockList('<html><body><p>The system is under maintenance.</p></body></html>'),
      ).code,
    ).toBe(ErrorCodes.ParseMaintenance);
    expect(
      harbourErrorOf(() =>
        parseCcassStockList('<html><body><table class="table"><tbody></tbody></table></body></html>'),
      ).code,
    ).toBe(ErrorCodes.ParseNoData);
    expect(harbourErrorOf(() => parseCcassStockList('<html><body>Hello</body></html>')).code).toBe(
      ErrorCodes.ParseLayout,
    );
  });
});
