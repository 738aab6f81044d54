import { readFile } from 'node:fs/promises';
import path from 'node:path';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ccassFigures,
  ccassForm,
  ccassPost,
  ccassSearch,
  hiddenFields,
  quotationsPath,
  quoteToken,
  reportLines,
} from '../../test/support/fixture-site.ts';
import { isTradingDay, tradingDaysBetween, useMarket } from './calendar.ts';
import { defaultSamplesDir, type FixtureSite, PATHS, startFixtureSite } from './index.ts';
import { loadSamples, SAMPLE_FILES } from './samples.ts';
import { SECURITIES_HEADER_2025 } from './securities.ts';

const samplesDir = defaultSamplesDir();
const TODAY = '2026-10-12';
let site: FixtureSite;

beforeAll(async () => {
  // The whole generated history (these tests read 2019 and 2025 pages); the default 12-month window is tested below.
  site = await startFixtureSite({ samplesDir, seed: 7, today: TODAY, ccassHistoryDays: null });
});
afterAll(async () => {
  await site?.close();
});

async function latin1(url: string): Promise<{ status: number; text: string; bytes: Buffer }> {
  const res = await fetch(url);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: bytes.toString('latin1'), bytes };
}

/** Result page without the per-response hidden tokens. */
function stable(html: string): string {
  return html.replace(/(id="__VIEWSTATE" value=")[^"]*/, '$1');
}

describe('calendar', () => {
  it('knows weekends and the Hong Kong holidays of any year (the project calendar)', () => {
    expect(isTradingDay('2026-10-02')).toBe(true);
    expect(isTradingDay('2026-10-03')).toBe(false); // Saturday
    expect(isTradingDay('2026-10-01')).toBe(false); // National Day
    expect(isTradingDay(new Date(Date.UTC(2019, 9, 29)))).toBe(true);
    expect(isTradingDay('2025-01-29')).toBe(false); // Lunar New Year
    expect(isTradingDay('2019-10-07')).toBe(false); // Chung Yeung Festival
    expect(isTradingDay('2027-02-08')).toBe(false); // third day of Lunar New Year
    expect(isTradingDay('2024-12-24')).toBe(true); // Christmas Eve: a half day, still trading
    expect(tradingDaysBetween('2027-03-25', '2027-03-30')).toEqual(['2027-03-25', '2027-03-30']);
  });

  it('follows the market setting when told (one market per process)', () => {
    try {
      useMarket({ holidaysAdd: ['2026-10-02'], holidaysRemove: ['2026-10-01'] });
      expect(isTradingDay('2026-10-02')).toBe(false);
      expect(isTradingDay('2026-10-01')).toBe(true);
      expect(tradingDaysBetween('2026-09-30', '2026-10-05')).toEqual([
        '2026-09-30',
        '2026-10-01',
        '2026-10-05',
      ]);
    } finally {
      useMarket({});
    }
    expect(isTradingDay('2026-10-02')).toBe(true);
  });
});

describe('CCASS search form flow', () => {
  it('GET issues fresh hidden fields and POST with them returns the result page', async () => {
    const a = await ccassForm(site.url);
    const b = await ccassForm(site.url);
    for (const k of [
      '__VIEWSTATE',
      '__VIEWSTATEGENERATOR',
      'today',
      'sortBy',
      'sortDirection',
      'originalShareholdingDate',
    ]) {
      expect(a[k], k).toBeTruthy();
    }
    // the 2026 form (09868 captures) has no __EVENTVALIDATION, and a POST without one works
    expect(a).not.toHaveProperty('__EVENTVALIDATION');
    expect(a).toHaveProperty('alertMsg');
    expect(a.today).toBe('20261012');
    expect(a.sortBy).toBe('shareholding');
    expect(a.sortDirection).toBe('desc');
    expect(a.__VIEWSTATE).not.toBe(b.__VIEWSTATE);

    const { status, html } = await ccassPost(site.url, a, '00005', '2026-10-02');
    expect(status).toBe(200);
    expect(html).toContain('<div id="pnlResultSummary">');
    expect(html).toContain('value="2026/10/02" id="txtShareholdingDate"');
    expect(html).toContain('value="HSBC HOLDINGS PLC"');
    const f = ccassFigures(html);
    expect(f.summary).toHaveLength(4);
    expect(f.rows.length).toBeGreaterThan(100);
    // the result page carries fresh tokens that work for the next search
    const again = await ccassPost(site.url, hiddenFields(html), '00001', '2026/10/02');
    expect(again.status).toBe(200);
    expect(again.html).toContain('CK HUTCHISON HOLDINGS LIMITED');
  });

  it('refuses a POST whose view state was not issued here', async () => {
    const forged = {
      __VIEWSTATE: '/wEPDwULLTIwNTMyMzMwMThkZLiCLeQCG/lBVJcNezUV/J0rsyMr',
      __VIEWSTATEGENERATOR: 'A7B2BBE2',
    };
    const r1 = await ccassPost(site.url, forged, '00700', '2026-10-02');
    expect(r1.status).toBe(500);
    expect(r1.html).toContain('Validation of viewstate MAC failed');
    const real = await ccassForm(site.url);
    const { __VIEWSTATE: _dropped, ...noViewState } = real;
    const r3 = await ccassPost(site.url, noViewState, '00700', '2026-10-02');
    expect(r3.status).toBe(500);
  });

  it('serves the real sample bytes for 00700 on 2019-10-29', async () => {
    const fields = await ccassForm(site.url);
    const res = await fetch(`${site.url}${PATHS.ccassSearch}`, {
      method: 'POST',
      body: new URLSearchParams({
        ...fields,
        __EVENTTARGET: 'btnSearch',
        txtShareholdingDate: '2019/10/29',
        txtStockCode: '00700',
      }),
    });
    const served = Buffer.from(await res.arrayBuffer());
    const real = await readFile(path.join(samplesDir, SAMPLE_FILES.ccass00700));
    expect(res.status).toBe(200);
    expect(served.equals(real)).toBe(true);
  });

  it('answers the real outcomes for unknown stocks, non-trading days and bad dates', async () => {
    const unknown = await ccassSearch(site.url, '99999', '2026-10-02');
    expect(unknown.status).toBe(200);
    expect(hiddenFields(unknown.html).alertMsg).toMatch(/stock code entered is not valid/);
    expect(unknown.html).not.toContain('pnlResultSummary');

    for (const d of ['2026-10-03', '2026-10-01', TODAY, '2026-12-01']) {
      const none = await ccassSearch(site.url, '00001', d);
      expect(none.html, d).toContain('No match record found.');
      expect(none.html, d).not.toContain('ccass-search-datarow');
    }
    const bad = await ccassSearch(site.url, '00001', '2026-02-30');
    expect(hiddenFields(bad.html).alertMsg).toMatch(/date entered is not valid/);
  });

  it('enforces the one-year window by default, as the real site does', async () => {
    const strict = await startFixtureSite({ samplesDir, seed: 7, today: TODAY });
    try {
      const old = await ccassSearch(strict.url, '00700', '2019-10-29');
      expect(hiddenFields(old.html).alertMsg).toMatch(/out of range/);
      const recent = await ccassSearch(strict.url, '00700', '2026-10-02');
      expect(recent.html).toContain('ccass-search-datarow');
    } finally {
      await strict.close();
    }
  });

  it('generates pages whose summary agrees with the detail rows', async () => {
    for (const [code, date] of [
      ['00001', '2026-10-02'],
      ['00700', '2025-06-03'],
      [site.universe()[7]!.code, '2026-09-30'],
    ] as const) {
      const { html } = await ccassSearch(site.url, code, date);
      const f = ccassFigures(html);
      const [mi, ci, nc, total] = f.summary;
      const withId = f.rows.filter((r) => r.id !== '');
      const consenting = f.rows.filter((r) => r.id === '');
      expect(withId.length).toBe(mi!.count);
      expect(consenting.length).toBe(ci!.count);
      expect(consenting.every((r) => r.name.endsWith(' *'))).toBe(true);
      expect(withId.reduce((a, r) => a + r.shares, 0)).toBe(mi!.shares);
      expect(consenting.reduce((a, r) => a + r.shares, 0)).toBe(ci!.shares);
      expect(total!.shares).toBe(mi!.shares + ci!.shares + nc!.shares);
      expect(total!.count).toBe(mi!.count + ci!.count + nc!.count);
      expect(total!.shares).toBeLessThan(f.issued);
      const pct = (s: string) => Math.round(Number(s.replace('%', '')) * 100);
      expect(pct(total!.pct)).toBe(pct(mi!.pct) + pct(ci!.pct) + pct(nc!.pct));
      for (const r of f.rows.slice(0, 20)) {
        expect(pct(r.pct)).toBe(Math.floor((r.shares * 10000) / f.issued));
      }
      const sorted = f.rows.map((r) => r.shares);
      expect(sorted).toEqual([...sorted].sort((a, b) => b - a));
    }
  });

  it('evolves holdings plausibly from day to day', () => {
    const days = tradingDaysBetween('2026-08-03', '2026-09-30');
    let entries = 0;
    let exits = 0;
    for (const code of ['00001', site.universe()[10]!.code]) {
      for (let k = 1; k < days.length; k++) {
        const prev = site.model.ccass(code, days[k - 1]!)!;
        const cur = site.model.ccass(code, days[k]!)!;
        const key = (r: { id: string | null; name: string }) => r.id ?? r.name;
        const before = new Map(prev.rows.map((r) => [key(r), r.shares]));
        const after = new Map(cur.rows.map((r) => [key(r), r.shares]));
        const common = [...after.keys()].filter((id) => before.has(id));
        expect(common.length / Math.max(before.size, after.size)).toBeGreaterThan(0.9);
        const changed = common.filter((id) => before.get(id) !== after.get(id)).length;
        expect(changed).toBeGreaterThan(0);
        expect(changed).toBeLessThan(common.length);
        // the big custodians move a little every day (small brokers may jump when their clients trade);
        // the bound is symmetric in log terms: at most a quarter down, a third up
        for (const r of prev.rows.slice(0, 15)) {
          const ratio = (after.get(key(r)) ?? 0) / r.shares;
          expect(ratio).toBeGreaterThan(0.75);
          expect(ratio).toBeLessThan(1 / 0.75);
        }
        entries += after.size - common.length;
        exits += before.size - common.length;
      }
    }
    expect(entries).toBeGreaterThan(0);
    expect(exits).toBeGreaterThan(0);
  });
});

describe('determinism', () => {
  it('same seed → same pages; different seed → different pages', async () => {
    const twin = await startFixtureSite({ samplesDir, seed: 7, today: TODAY });
    const other = await startFixtureSite({ samplesDir, seed: 8, today: TODAY });
    try {
      const a1 = await ccassSearch(site.url, '00700', '2026-10-02');
      const a2 = await ccassSearch(site.url, '00700', '2026-10-02');
      const b = await ccassSearch(twin.url, '00700', '2026-10-02');
      const c = await ccassSearch(other.url, '00700', '2026-10-02');
      expect(stable(a1.html)).toBe(stable(a2.html));
      expect(stable(a1.html)).toBe(stable(b.html));
      expect(stable(a1.html)).not.toBe(stable(c.html));

      const q = quotationsPath('2026-10-02');
      const qa = await latin1(site.url + q);
      const qb = await latin1(twin.url + q);
      const qc = await latin1(other.url + q);
      expect(qa.bytes.equals(qb.bytes)).toBe(true);
      expect(qa.bytes.equals(qc.bytes)).toBe(false);
      expect(twin.universe()).toEqual(site.universe());
      expect(other.universe()).not.toEqual(site.universe());
    } finally {
      await twin.close();
      await other.close();
    }
  });
});

describe('daily quotations', () => {
  it('is a latin-1 <pre> report with the documented layout', async () => {
    const { status, text, bytes } = await latin1(site.url + quotationsPath('2026-10-02'));
    expect(status).toBe(200);
    expect(bytes.includes(0xa9)).toBe(true); // © as a single latin-1 byte
    // several <pre><font size='1'> chunks with CRLF line ends, as the real reports
    expect(text.split("<pre><font size='1'>").length - 1).toBeGreaterThan(2);
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    expect(text).toContain('DATE: 02 OCT 2026 (FRIDAY)');
    expect(text).toContain('<a name = "quotations">QUOTATIONS</a>');
    expect(text).toContain(' CODE  NAME OF STOCK    CUR PRV.CLO./    ASK/    HIGH/      SHARES TRADED/');
    const lines = reportLines(text);
    const gemCodes = site
      .universe()
      .filter((u) => u.code.startsWith('08'))
      .map((u) => u.code);
    expect(gemCodes.length).toBeGreaterThan(0);
    expect(lines.map((l) => l.code)).toEqual(
      site
        .universe()
        .map((u) => u.code)
        .filter((c) => !gemCodes.includes(c)),
    );
    expect(text).toMatch(/^\*\s+700 TENCENT {10}HKD /m);
    expect(text).toMatch(/\d{1,3}(,\d{3})+\r\n/);
  });

  it('serves the GEM report (08xxx codes) for the same day in the same format', async () => {
    const { status, text } = await latin1(site.url + quotationsPath('2026-10-02', 'gem'));
    expect(status).toBe(200);
    expect(text).toContain('DATE: 02 OCT 2026 (FRIDAY)');
    const codes = reportLines(text).map((l) => l.code);
    expect(codes).toEqual(
      site
        .universe()
        .map((u) => u.code)
        .filter((c) => c.startsWith('08')),
    );
    const holiday = await fetch(site.url + quotationsPath('2026-10-01', 'gem'));
    expect(holiday.status).toBe(404);
    await holiday.arrayBuffer();
  });

  it('pads reports to a realistic size on request', async () => {
    const big = await startFixtureSite({ samplesDir, seed: 7, today: TODAY, quotationsMinBytes: 2_000_000 });
    try {
      const { status, text, bytes } = await latin1(big.url + quotationsPath('2026-10-02'));
      expect(status).toBe(200);
      expect(bytes.length).toBeGreaterThanOrEqual(2_000_000);
      expect(reportLines(text).map((l) => l.code)).toEqual(
        reportLines((await latin1(site.url + quotationsPath('2026-10-02'))).text).map((l) => l.code),
      );
    } finally {
      await big.close();
    }
  });

  it('404s on weekends, holidays and future days like the real site', async () => {
    for (const d of ['2026-10-03', '2026-10-04', '2026-10-01', '2026-10-13', '2017-06-01']) {
      const res = await fetch(site.url + quotationsPath(d));
      expect(res.status, d).toBe(404);
      await res.arrayBuffer();
    }
  });

  it("keeps day N's previous close equal to day N-1's close, across holidays and suspensions", async () => {
    const days = tradingDaysBetween('2026-09-14', '2026-10-09');
    const lastClose = new Map<string, string>();
    let suspended = 0;
    let noTrade = 0;
    let markers = 0;
    for (const d of days) {
      const main = await latin1(site.url + quotationsPath(d));
      const gem = await latin1(site.url + quotationsPath(d, 'gem'));
      expect([main.status, gem.status]).toEqual([200, 200]);
      for (const l of [...reportLines(main.text), ...reportLines(gem.text)]) {
        if (l.marker) markers++;
        if (l.suspended) {
          suspended++;
          continue;
        }
        const before = lastClose.get(l.code);
        if (before !== undefined) expect(`${d} ${l.code} ${l.prevClose}`).toBe(`${d} ${l.code} ${before}`);
        lastClose.set(l.code, l.close);
      }
      noTrade += (site.model.quoteRows(d) ?? []).filter((r) => r.status === 'no_trade').length;
    }
    expect(suspended).toBeGreaterThan(0);
    expect(noTrade).toBeGreaterThan(0);
    expect(markers).toBeGreaterThan(0);
  });
});

describe('other endpoints', () => {
  it('serves the CCASS stock list as JSON', async () => {
    const res = await fetch(`${site.url}${PATHS.ccassStockList}?sortby=stockcode&shareholdingdate=20261002`);
    const all = (await res.json()) as { c: string; n: string }[];
    // the real list carries temporary counters (parallel trading) that come and go with the date
    const temporary = all.filter((x) => /-\s*TEMPORARY COUNTER$/.test(x.n));
    expect(temporary.map((x) => x.c)).toEqual(['02954']);
    const later = (await (
      await fetch(`${site.url}${PATHS.ccassStockList}?sortby=stockcode&shareholdingdate=20261013`)
    ).json()) as { c: string; n: string }[];
    expect(later.filter((x) => /TEMPORARY COUNTER$/.test(x.n)).map((x) => x.c)).not.toEqual(['02954']);
    const list = all.filter((x) => !temporary.includes(x));
    expect(list).toHaveLength(40);
    expect(list).toContainEqual({ c: '00700', n: 'TENCENT' });
    expect(list).toContainEqual({ c: '00001', n: 'CKH HOLDINGS' });
    expect(list).toContainEqual({ c: '00005', n: 'HSBC HOLDINGS' });
    expect(list).toContainEqual({ c: '00388', n: 'HKEX' });
    expect(list).toContainEqual({ c: '02800', n: 'TRACKER FUND' });
    expect(list.map((x) => x.c)).toEqual(site.universe().map((u) => u.code));
  });

  it("serves the List of Securities in the real workbook's layout", async () => {
    const res = await fetch(`${site.url}${PATHS.securities}?date=2026-10-12`);
    expect(res.status).toBe(200);
    const zip = await JSZip.loadAsync(Buffer.from(await res.arrayBuffer()));
    expect(Object.keys(zip.files).filter((f) => f.startsWith('xl/worksheets/sheet'))).toEqual([
      'xl/worksheets/sheet1.xml',
    ]);
    const sheet = (await zip.file('xl/worksheets/sheet1.xml')!.async('string')) as string;
    expect(sheet).toContain('<x:c r="A2" s="2" t="str"><x:v>Updated as at 12/10/2026</x:v></x:c>');
    const headerOf = (xml: string) =>
      [...xml.matchAll(/<x:c r="([A-T])3"[^>]*t="str"><x:v>([^<]*)<\/x:v>/g)].map((m) => m[2]);
    // the current 18-column layout (ListOfSecurities-2025-12-31.xlsx) by default: 17 plain headers
    // and the rich Spread Table header (a shared string) in P3
    expect(headerOf(sheet)).toEqual([...SECURITIES_HEADER_2025, 'Trading Currency', 'RMB Counter']);
    expect(sheet).toMatch(/<x:c r="P3"[^>]* t="s">/);
    expect(sheet).toContain('<x:c r="A4" s="5" t="str"><x:v>00001</x:v></x:c>');
    const wbXml = await zip.file('xl/workbook.xml')!.async('string');
    expect(wbXml).toContain('name="ListOfSecurities"');

    // the older layout on request
    const old = await fetch(`${site.url}${PATHS.securities}?date=2026-10-12&layout=2021`);
    const oldSheet = (await (
      await JSZip.loadAsync(Buffer.from(await old.arrayBuffer()))
    )
      .file('xl/worksheets/sheet1.xml')!
      .async('string')) as string;
    const samples = await loadSamples(samplesDir);
    expect(headerOf(oldSheet)).toEqual(samples.securitiesHeader.slice(0, 19));
  });

  it('answers the quote widget (JSONP) with the latest quote, ignoring a date', async () => {
    const token = await quoteToken(site.url);
    const res = await fetch(
      `${site.url}${PATHS.quoteWidget}?sym=700&token=${token}&lang=eng&qid=1&callback=cb&_=2&date=2026-10-02`,
    );
    const body = await res.text();
    expect(body.startsWith('cb({')).toBe(true);
    const doc = JSON.parse(body.slice(3, -1)) as { data: { quote: Record<string, unknown> } };
    const q = doc.data.quote;
    const day = site.model.quote('00700', TODAY)!;
    expect(q.ls).toBe((day.close / 1000).toFixed(3));
    expect(q.hc).toBe((day.prevClose / 1000).toFixed(3));
    expect(q.amt_os).toBe('9,553,315,311');
    expect(q.vo_u).toMatch(/^[MB]$/);
    expect(q.updatetime).toBe('12 Oct 2026 16:08');
    for (const k of [
      'ls',
      'hc',
      'op',
      'hi',
      'lo',
      'vo',
      'vo_u',
      'am',
      'am_u',
      'eps',
      'eps_ccy',
      'pe',
      'div_yield',
    ]) {
      expect(q, k).toHaveProperty(k);
    }
    expect(q).toHaveProperty('mkt_cap');
    expect(q).toHaveProperty('mkt_cap_u');
    // Chinese dates with lang=chi
    const latest = await fetch(`${site.url}/hkexwidget/data/getequityquote?sym=5&lang=chi&token=${token}`);
    const l = JSON.parse(await latest.text()) as { data: { quote: Record<string, unknown> } };
    expect(l.data.quote.updatetime).toBe('2026年10月12日16:08');
  });
});

describe('quote widget token', () => {
  it('serves the token in the real page script form and refuses requests without a current token', async () => {
    const pageRes = await fetch(`${site.url}${PATHS.equitiesQuotePage}?sym=700&sc_lang=en`);
    const page = await pageRes.text();
    expect(page).toMatch(
      /function getToken\(\) \{\n\s*\/\/return "Base64-AES-Encrypted-Token";\n\s*return "[^"]+";\n\s*\}/,
    );
    const token = await quoteToken(site.url);
    expect(decodeURIComponent(token)).toMatch(/^[A-Za-z0-9+/]{64}$/);
    const widget = (t?: string) =>
      fetch(
        `${site.url}${PATHS.quoteWidget}?sym=700&lang=eng&callback=cb${t === undefined ? '' : `&token=${t}`}`,
      );
    const before = site.quoteTokens.refused;
    expect((await widget(token)).status).toBe(200);
    expect((await widget()).status).toBe(403);
    // sent without encoding, base64 `+` arrives as a space: refused like the real API
    const raw = decodeURIComponent(token);
    if (raw.includes('+')) expect((await widget(raw)).status).toBe(403);
    else expect((await widget(`${token}x`)).status).toBe(403);
    site.quoteTokens.expire();
    expect((await widget(token)).status).toBe(403);
    expect(site.quoteTokens.refused - before).toBe(3);
    const fresh = await quoteToken(site.url);
    expect(fresh).not.toBe(token);
    expect((await widget(fresh)).status).toBe(200);
  });

  it('rotates the token after quoteTokenTtlMs, and serveStale hands out a token that is replaced at once', async () => {
    const short = await startFixtureSite({ samplesDir, seed: 7, today: TODAY, quoteTokenTtlMs: 1000 });
    try {
      const widget = (t: string) => fetch(`${short.url}${PATHS.quoteWidget}?sym=5&lang=eng&token=${t}`);
      const first = await quoteToken(short.url);
      expect((await widget(first)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await widget(first)).status).toBe(403);
      const second = await quoteToken(short.url);
      expect(second).not.toBe(first);
      expect((await widget(second)).status).toBe(200);
      const ctl = await fetch(`${short.url}${PATHS.quoteToken}`, { method: 'POST', body: '{"staleNext":1}' });
      expect(ctl.status).toBe(200);
      const stale = await quoteToken(short.url);
      expect((await widget(stale)).status).toBe(403);
      expect((await widget(await quoteToken(short.url))).status).toBe(200);
      expect(short.quoteTokens.toJSON()).toEqual({ pages: 4, refused: 2 });
    } finally {
      await short.close();
    }
  });
});

describe('fault switches', () => {
  it('fails the next N requests with a 5xx, only on the given path prefix', async () => {
    site.faults.reset();
    site.faults.set({ status5xx: { count: 2, status: 503, pathPrefix: '/eng/' } });
    const url = site.url + quotationsPath('2026-10-02');
    const other = await fetch(`${site.url}${PATHS.ccassStockList}`);
    expect(other.status).toBe(200);
    await other.arrayBuffer();
    const statuses: number[] = [];
    for (let k = 0; k < 3; k++) {
      const r = await fetch(url);
      statuses.push(r.status);
      await r.arrayBuffer();
    }
    expect(statuses).toEqual([503, 503, 200]);
    expect(site.faults.fired.status5xx).toBe(2);
  });

  it('delays answers', async () => {
    site.faults.reset();
    site.faults.set({ slowMs: 300, count: 1 });
    const t0 = Date.now();
    const r1 = await fetch(`${site.url}${PATHS.ccassStockList}`);
    await r1.arrayBuffer();
    const slow = Date.now() - t0;
    const t1 = Date.now();
    const r2 = await fetch(`${site.url}${PATHS.ccassStockList}`);
    await r2.arrayBuffer();
    expect(slow).toBeGreaterThanOrEqual(280);
    expect(Date.now() - t1).toBeLessThan(280);
  });

  it('resets connections', async () => {
    site.faults.reset();
    await fetch(`${site.url}/__stats`, { method: 'DELETE' }).then((r) => r.arrayBuffer());
    site.faults.set({ reset: 1 });
    await expect(fetch(`${site.url}${PATHS.ccassStockList}`)).rejects.toThrow();
    const ok = await fetch(`${site.url}${PATHS.ccassStockList}`);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    expect(site.stats().of(PATHS.ccassStockList)).toBe(2);
  });

  it('switches CCASS to maintenance via POST /__faults', async () => {
    site.faults.reset();
    const set = await fetch(`${site.url}/__faults`, {
      method: 'POST',
      body: JSON.stringify({ maintenance: true }),
    });
    expect(set.status).toBe(200);
    await set.arrayBuffer();
    const page = await (await fetch(`${site.url}${PATHS.ccassSearch}`)).text();
    expect(page).toContain('class="ccass-search-maintenance"');
    const cleared = await fetch(`${site.url}/__faults`, { method: 'DELETE' });
    await cleared.arrayBuffer();
    const form = await (await fetch(`${site.url}${PATHS.ccassSearch}`)).text();
    expect(form).not.toContain('ccass-search-maintenance');
    expect(form).toContain('__VIEWSTATE');
  });

  it('truncates CCASS result pages so detail rows fall short of the summary', async () => {
    site.faults.reset();
    site.faults.set({ truncate: 1 });
    const cut = ccassFigures((await ccassSearch(site.url, '00001', '2026-10-02')).html);
    const full = ccassFigures((await ccassSearch(site.url, '00001', '2026-10-02')).html);
    const promised = (f: typeof cut) => f.summary[0]!.count + f.summary[1]!.count;
    expect(cut.rows.length).toBeLessThan(promised(cut));
    expect(cut.rows.length).toBeGreaterThan(0);
    expect(full.rows.length).toBe(promised(full));
    // the real sample too
    site.faults.set({ truncate: { count: 1, keep: 0.5 } });
    const sample = ccassFigures((await ccassSearch(site.url, '00700', '2019-10-29')).html);
    expect(sample.rows.length).toBe(272);
  });

  it('counts requests per path (GET /__stats)', async () => {
    site.faults.reset();
    await fetch(`${site.url}/__stats`, { method: 'DELETE' }).then((r) => r.arrayBuffer());
    await ccassSearch(site.url, '00001', '2026-10-02');
    const stats = (await (await fetch(`${site.url}/__stats`)).json()) as {
      total: number;
      paths: Record<string, number>;
      requests: Record<string, number>;
    };
    expect(stats.paths[PATHS.ccassSearch]).toBe(2);
    expect(stats.requests[`GET ${PATHS.ccassSearch}`]).toBe(1);
    expect(stats.requests[`POST ${PATHS.ccassSearch}`]).toBe(1);
    expect(stats.total).toBe(2);
  });
});
