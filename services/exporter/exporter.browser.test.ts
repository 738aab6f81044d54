import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmy, goldPrices, readWorkbook, sheetRows } from '../../test/support/exporter.ts';
import { createGoldTables, seedGold } from '../../test/support/gold.ts';
import { freshDatabase } from '../../test/support/infra.ts';
import { createCalendar } from '../calendar/index.ts';
import { createHealthRegistry, createRegistry, silentLogger } from '../runtime/index.ts';
import { ExporterConfig, type ExporterService, startExporter } from './index.ts';

type Box = { x: number; y: number; width: number; height: number };

/** The Debian chromium package; CI installs it (apt-get install chromium). */
const CHROMIUM = process.env.HARBOUR_CHROMIUM ?? '/usr/bin/chromium';
const FROM = '2026-01-02';
const TO = '2026-10-30';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let exporter: ExporterService;
let browser: Browser | undefined;

beforeAll(async () => {
  db = await freshDatabase();
  db.pool.on('error', () => {});
  await createGoldTables(db.pool);
  await seedGold(db.pool, { from: '2025-10-01', to: TO });
  exporter = await startExporter(
    { ...(Value.Default(ExporterConfig, {}) as ExporterConfig), port: 0 },
    {
      pool: db.pool,
      logger: silentLogger(),
      registry: createRegistry({ defaultMetrics: false }),
      health: createHealthRegistry(),
    },
  );
  if (existsSync(CHROMIUM)) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        // A US browser: its own date format would be mm/dd/yyyy; the page must not follow it.
        '--lang=en-US',
      ],
    });
  } else {
    console.warn(`skipping the browser test: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  }
});
afterAll(async () => {
  await browser?.close();
  await exporter?.close();
  await db?.drop();
});

describe('the web page in Chromium', () => {
  it('looks up names, draws both charts, downloads the workbook', async (ctx) => {
    if (!browser) return ctx.skip();
    const context = await browser.newContext({
      acceptDownloads: true,
      locale: 'en-US',
      timezoneId: 'America/New_York',
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(exporter.url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) {
        external.push(r.url());
      }
    });
    try {
      await page.goto(`${exporter.url}/`);
      await expect(page.title()).resolves.toBe('Harbour: Excel export');
      await expect(
        page.evaluate(
          () => (globalThis as unknown as { navigator: { language: string } }).navigator.language,
        ),
      ).resolves.toBe('en-US');

      // Default dates: the last Hong Kong trading day (HK local date, not UTC, not New York), dd/mm/yyyy.
      const calendar = createCalendar();
      let hkDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Hong_Kong' }).format(new Date());
      if (!calendar.isTradingDay(hkDay)) hkDay = calendar.previousTradingDay(hkDay);
      await expect(page.inputValue('#to')).resolves.toBe(dmy(hkDay));
      await expect(page.getAttribute('#from', 'type')).resolves.not.toBe('date');
      await expect(page.inputValue('#from')).resolves.toMatch(/^\d{2}\/\d{2}\/\d{4}$/);

      // Name lookup: by name, then by code digits.
      await page.fill('#lookup', 'tenc');
      await page.click('#suggestions button[data-code="00700"]');
      await page.fill('#lookup', '5');
      await page.click('#suggestions button[data-code="00005"]');
      await expect(page.inputValue('#codes')).resolves.toBe('00700,00005');

      // A date the page cannot read gets a message naming the field; the next attempt replaces it.
      await page.fill('#from', '31/02/2026');
      await page.click('#show');
      await page.waitForSelector('#status.error');
      await expect(page.textContent('#status')).resolves.toMatch(
        /From: "31\/02\/2026" is not a date; type it as dd\/mm\/yyyy/,
      );

      // Typed as dd/mm/yyyy: 02/01/2026 is 2 January (a US reading would be 1 February).
      await page.fill('#from', dmy(FROM));
      await page.fill('#to', dmy(TO));
      await page.check('input[name=sheets][value=ccass]');
      await page.selectOption('#chart-code', '00700');
      await page.click('#show');

      // Price chart: one point per close, one bar per day with volume.
      await page.waitForSelector('#price-chart path.close-line');
      const gold = await goldPrices(db.pool, '00700', FROM, TO);
      const points = await page.getAttribute('#price-chart path.close-line', 'data-points');
      expect(Number(points)).toBe(gold.filter((g) => g.close !== null).length);
      const d = (await page.getAttribute('#price-chart path.close-line', 'd')) ?? '';
      expect(d.match(/[ML]/g)?.length).toBe(Number(points));
      await expect(page.locator('#price-chart rect.vol-bar').count()).resolves.toBe(
        gold.filter((g) => (g.volume ?? 0) > 0).length,
      );
      await expect(page.locator('#price-chart rect.vol-bar.down').count()).resolves.toBe(
        gold.filter((g) => (g.dv ?? 0) < 0).length,
      );
      // CCASS chart: the 13 holders, widest bar first.
      await page.waitForSelector('#ccass-chart rect.ccass-bar');
      const widths = await page.$$eval('#ccass-chart rect.ccass-bar', (rs) =>
        rs.map((r) => Number(r.getAttribute('width'))),
      );
      expect(widths).toHaveLength(13);
      expect(widths).toEqual([...widths].sort((a, b) => b - a));
      await expect(page.textContent('#ccass-chart text.title')).resolves.toContain(
        '00700 CCASS holders on 30/10/2026',
      );
      await expect(page.textContent('#status')).resolves.toMatch(/00700: \d+ trading days, 13 CCASS holders/);
      await expect(page.getAttribute('#status', 'class')).resolves.toBe('');
      // Readable labels: CCASS changes never read "+0.000 pp"; the volume label clears the price axis labels.
      const changes = await page.$$eval('#ccass-chart text.chg-up, #ccass-chart text.chg-down', (ts) =>
        ts.map((t) => t.textContent ?? ''),
      );
      expect(changes.length).toBeGreaterThan(0);
      for (const c of changes) expect(c).toMatch(/^[+-](?!0\.00 )[\d,]+(\.\d\d)? (pp|shares)$/);
      const overlaps = await page.$$eval('#price-chart text', (ts) => {
        const boxes = ts.map((t) => ({
          text: t.textContent,
          b: (t as unknown as { getBBox(): Box }).getBBox(),
        }));
        const hit = (a: Box, b: Box) =>
          a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
        const out: string[] = [];
        for (const [i, p] of boxes.entries()) {
          for (const q of boxes.slice(i + 1)) if (hit(p.b, q.b)) out.push(`${p.text} / ${q.text}`);
        }
        return out;
      });
      expect(overlaps).toEqual([]);
      // HARBOUR_SCREENSHOT=/path.png keeps a picture of the page for a human look.
      if (process.env.HARBOUR_SCREENSHOT)
        await page.screenshot({ path: process.env.HARBOUR_SCREENSHOT, fullPage: true });

      // Download: the workbook has the chosen sheets and the gold values.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      expect(download.suggestedFilename()).toBe(`harbour-00700-00005-${FROM}-${TO}.xlsx`);
      const wb = await readWorkbook(await readFile((await download.path()) as string));
      expect(wb.worksheets.map((w) => w.name)).toEqual([
        'Summary',
        '00700 TENCENT',
        'CCASS 00700',
        '00005 HSBC HOLDINGS',
        'CCASS 00005',
      ]);
      const rows = sheetRows(wb.getWorksheet('00700 TENCENT')!, 3);
      expect(rows.map((r) => [r[0], r[4]])).toEqual(gold.map((g) => [g.date, g.close]));

      expect(problems).toEqual([]); // no script error, no CSP violation

      // A bad request shows the server's message instead of downloading.
      await page.fill('#from', '01/11/2026');
      await page.click('#download');
      await page.waitForSelector('#status.error');
      await expect(page.textContent('#status')).resolves.toMatch(/from \(2026-11-01\) is after to/);
      expect(problems).toEqual([
        'console: Failed to load resource: the server responded with a status of 400 (Bad Request)',
      ]);
      // The next attempt clears the stale error.
      await page.fill('#from', dmy(FROM));
      const [again] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      expect(again.suggestedFilename()).toBe(`harbour-00700-00005-${FROM}-${TO}.xlsx`);
      await expect(page.getAttribute('#status', 'class')).resolves.toBe('');
      await expect(page.textContent('#status')).resolves.toMatch(/^downloaded harbour-00700-00005/);
      expect(external).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
