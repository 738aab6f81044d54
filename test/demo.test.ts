import { describe, expect, it } from 'vitest';
import { runDemo } from '../ops/demo.ts';
import { testDir } from './support/infra.ts';

describe('npm run demo', () => {
  it('runs the whole pipeline on embedded defaults against the fixture site and stops cleanly', {
    timeout: 240_000,
  }, async () => {
    const lines: string[] = [];
    const outDir = await testDir('out');
    const result = await runDemo({
      dataDir: await testDir('demo'),
      outDir,
      days: 2,
      codes: ['00700', '00005'],
      print: (l) => lines.push(l),
    });
    expect(result.dates).toHaveLength(2);
    expect(result.scraped.quotes).toEqual({ done: 2 });
    expect(result.scraped.ccass).toEqual({ done: 4 });
    // fundamentals: one snapshot (now) per watched stock; past dates cannot be collected
    expect(result.scraped.fundamentals).toEqual({ done: 2 });
    expect(result.scraped.securities).toEqual({ done: 1 });
    expect(result.lake.files).toBeGreaterThanOrEqual(4);
    expect(result.lake.rows).toBeGreaterThan(100);
    // Gold built from the lake: 40 stocks × 2 days of prices, CCASS for the watch list.
    expect(result.gold.daily_prices).toBe(80);
    expect(result.gold.ccass_concentration).toBe(4);
    expect(result.gold.stock_picker).toBeGreaterThanOrEqual(2);
    expect(result.gold.dq_freshness).toBe(4);
    // The workbook opens with exceljs and carries one price sheet per stock with both days.
    const ExcelJS = (await import('exceljs')).default;
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(result.workbook.path);
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      'Summary',
      '00700 TENCENT',
      'CCASS 00700',
      '00005 HSBC HOLDINGS',
      'CCASS 00005',
    ]);
    expect(result.workbook.path.startsWith(outDir)).toBe(true);
    expect(lines.some((l) => l.includes(`exporter: ${result.exporterUrl}`))).toBe(true);
    expect(lines.at(-1)).toMatch(/stopped$/);
  });
});
