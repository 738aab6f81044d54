/**
 * The quote widget token flow against real HTTP servers this test starts: the fixture HKEX site
 * (token-guarded widget) and a recording server showing exactly what a request carries.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHarbourError } from '../../contracts/index.ts';
import {
  defaultSamplesDir,
  type FixtureSite,
  PATHS,
  startFixtureSite,
} from '../../ops/fixture-site/index.ts';
import { createCalendar } from '../calendar/index.ts';
import { createHttpClient, type HttpClient } from './http/index.ts';
import { refusePastSnapshot } from './planner.ts';
import { tokenFromPage } from './quote-widget.ts';
import { fetchFundamentals } from './sources.ts';

const TODAY = '2026-10-12';
let site: FixtureSite;
let http: HttpClient;
const sources = () => ({
  ccassBaseUrl: site.url,
  hkexBaseUrl: site.url,
  quoteBaseUrl: `${site.url}/hkexwidget`,
});

beforeAll(async () => {
  site = await startFixtureSite({ samplesDir: defaultSamplesDir(), seed: 3, today: TODAY });
  http = createHttpClient({ requestsPerSecond: 100, burst: 20, retryBaseDelayMs: 10, retryMaxDelayMs: 50 });
});
afterAll(async () => {
  await http?.close();
  await site?.close();
});

const REAL_SCRIPT = `function getToken() {
    //return "Base64-AES-Encrypted-Token";
    return "evLtsLsBNAUVTPxtGqVeG5XaFKW1pZVBK4BNrS2JM%2bbVP6g95%2fdLbtBjVdyRFkSs";
}`;

describe('quote widget token', () => {
  it('reads the live token of the real page script, URL-decoded', () => {
    expect(tokenFromPage(`<script>${REAL_SCRIPT}</script>`)).toBe(
      'evLtsLsBNAUVTPxtGqVeG5XaFKW1pZVBK4BNrS2JM+bVP6g95/dLbtBjVdyRFkSs',
    );
    expect(tokenFromPage('<script>function getToken() {\n  //return "x";\n}</script>')).toBeUndefined();
    expect(tokenFromPage('<html>maintenance</html>')).toBeUndefined();
  });

  it('sends the token encoded with sym without zeros, qid, callback, _ and the equities Referer; no date', async () => {
    const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      if (req.url?.startsWith('/Market-Data/')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(`<html><script>${REAL_SCRIPT}</script></html>`);
      }
      const cb = new URL(req.url ?? '/', 'http://x').searchParams.get('callback');
      const body = JSON.stringify({
        data: { responsecode: '000', responsemsg: '', quote: { sym: '5', updatetime: '26 Jan 2026 16:08' } },
        qid: '1',
      });
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(`${cb}(${body})`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = createHttpClient({ requestsPerSecond: 100, burst: 20 });
    try {
      const before = Date.now();
      const f = await fetchFundamentals(
        {
          http: client,
          sources: { ccassBaseUrl: base, hkexBaseUrl: base, quoteBaseUrl: `${base}/hkexwidget` },
        },
        '00005',
      );
      expect(f.asOf).toBe('2026-01-26');
      expect(f.sourceUrl).toBe(`${base}/hkexwidget/data/getequityquote?sym=5&lang=eng`);
      expect(seen.map((s) => s.url.split('?')[0])).toEqual([
        '/Market-Data/Securities-Prices/Equities',
        '/hkexwidget/data/getequityquote',
      ]);
      const widget = seen[1]!;
      expect(widget.url).toContain(
        'token=evLtsLsBNAUVTPxtGqVeG5XaFKW1pZVBK4BNrS2JM%2BbVP6g95%2FdLbtBjVdyRFkSs&',
      );
      const q = new URL(widget.url, base).searchParams;
      expect([...q.keys()]).toEqual(['sym', 'token', 'lang', 'qid', 'callback', '_']);
      expect(q.get('sym')).toBe('5');
      expect(q.get('date')).toBeNull();
      for (const k of ['qid', '_']) {
        expect(Number(q.get(k))).toBeGreaterThanOrEqual(before);
        expect(Number(q.get(k))).toBeLessThanOrEqual(Date.now() + 1);
      }
      expect(q.get('callback')).toMatch(/^jQuery\d+_\d{13}$/);
      expect(widget.headers.referer).toBe(
        `${base}/Market-Data/Securities-Prices/Equities/Equities-Quote?sym=5&sc_lang=en`,
      );
      // the token is kept: a second quote reads no page
      await fetchFundamentals(
        {
          http: client,
          sources: { ccassBaseUrl: base, hkexBaseUrl: base, quoteBaseUrl: `${base}/hkexwidget` },
        },
        '00005',
      );
      expect(seen.filter((s) => s.url.startsWith('/Market-Data/'))).toHaveLength(1);
    } finally {
      await client.close();
      await new Promise((r) => server.close(r));
    }
  });

  it('keeps the token across quotes, reads a new one once after a 403, and shares one page fetch', async () => {
    site.stats().reset();
    const ctx = { http, sources: sources() };
    const a = await fetchFundamentals(ctx, '00700');
    expect(a.rows[0]!.code).toBe('00700');
    expect(a.asOf).toBe(site.model.latestTradingDay());
    expect(a.rows[0]!.last).toBe(site.model.fundamental('00700')!.last);
    await fetchFundamentals(ctx, '00005');
    expect(site.stats().of(PATHS.equitiesPage)).toBe(1);
    const refusedBefore = site.quoteTokens.refused;
    site.quoteTokens.expire();
    // four quotes at once with the stale token: four 403s, ONE new page read, four answers
    const rows = await Promise.all(
      ['00700', '00005', '00001', '00388'].map((c) => fetchFundamentals(ctx, c)),
    );
    expect(rows.map((r) => r.key)).toEqual(['00700', '00005', '00001', '00388']);
    expect(site.stats().of(PATHS.equitiesPage)).toBe(2);
    expect(site.quoteTokens.refused - refusedBefore).toBe(4);
    expect(site.stats().of(PATHS.quoteWidgetAlt)).toBe(2 + 4 + 4);
  });

  it('gives up with HARBOUR_ERR_QUOTE_TOKEN when a freshly read token is refused too', async () => {
    const client = createHttpClient({ requestsPerSecond: 100, burst: 20 });
    site.stats().reset();
    site.quoteTokens.serveStale(2);
    try {
      const err = await fetchFundamentals({ http: client, sources: sources() }, '00700').catch(
        (e: unknown) => e,
      );
      expect(isHarbourError(err, ErrorCodes.QuoteToken)).toBe(true);
      expect(site.stats().of(PATHS.equitiesPage)).toBe(2);
      expect(site.stats().of(PATHS.quoteWidgetAlt)).toBe(2);
    } finally {
      await client.close();
    }
  });
});

describe('fundamentals are snapshots', () => {
  const calendar = createCalendar();
  const at = (iso: string) => new Date(iso);
  it('refuses a past date and accepts today (or the last trading day on a closed day)', () => {
    // Tuesday 2026-10-13 19:00 in Hong Kong
    const tue = at('2026-10-13T11:00:00Z');
    expect(() => refusePastSnapshot('fundamentals', '2026-10-13', calendar, tue)).not.toThrow();
    let err: unknown;
    try {
      refusePastSnapshot('fundamentals', '2026-10-12', calendar, tue);
    } catch (e) {
      err = e;
    }
    expect(isHarbourError(err, ErrorCodes.SnapshotOnly)).toBe(true);
    expect((err as Error).message).toMatch(
      /2026-10-12 is past, the earliest date that can be collected now is 2026-10-13/,
    );
    // Sunday 2026-10-11: Friday 2026-10-09 is the latest quote the widget has
    const sun = at('2026-10-11T04:00:00Z');
    expect(() => refusePastSnapshot('fundamentals', '2026-10-09', calendar, sun)).not.toThrow();
    expect(() => refusePastSnapshot('fundamentals', '2026-10-08', calendar, sun)).toThrow(/is past/);
    // other datasets have history
    expect(() => refusePastSnapshot('ccass', '2025-01-02', calendar, tue)).not.toThrow();
  });
});
