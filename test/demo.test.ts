/**
 * The demo, run from a plain clone: the default suite clones the repository's committed HEAD into a
 * temporary folder that holds nothing else (no reference shelf of the team beside it, as in a
 * user's clone), and runs this same file there (HARBOUR_DEMO_IN_CLONE=1), which runs the demo. So
 * the demo, the fixture site and their samples are proven to come from the repository alone.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../ops/demo.ts';
import { testDir } from './support/infra.ts';

const git = promisify(execFile);
const repoRoot = new URL('../', import.meta.url).pathname;
const inClone = process.env.HARBOUR_DEMO_IN_CLONE === '1';

describe.skipIf(inClone)('a plain clone of the repository', () => {
  it('runs the demo (this file) with nothing beside it', { timeout: 420_000 }, async () => {
    const head = (await git('git', ['rev-parse', 'HEAD'], { cwd: repoRoot })).stdout.trim();
    const parent = await mkdtemp(join(tmpdir(), 'harbour-clone-'));
    const clone = join(parent, 'harbour');
    try {
      await git('git', ['clone', '-q', '--no-checkout', repoRoot, clone]);
      await git('git', ['checkout', '-q', '--detach', head], { cwd: clone });
      // The packages, not the project: node_modules is lent to the clone instead of `npm ci`.
      await symlink(join(repoRoot, 'node_modules'), join(clone, 'node_modules'), 'dir');
      expect(await readdir(parent)).toEqual(['harbour']);
      expect(existsSync(join(clone, '..', 'shared'))).toBe(false);
      const { code, output } = await new Promise<{ code: number | null; output: string }>((done, fail) => {
        const child = spawn(join(clone, 'node_modules', '.bin', 'vitest'), ['run', 'test/demo.test.ts'], {
          cwd: clone,
          env: { ...process.env, HARBOUR_DEMO_IN_CLONE: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (b: Buffer) => (output += b.toString()));
        child.stderr.on('data', (b: Buffer) => (output += b.toString()));
        child.on('error', fail);
        child.on('close', (c) => done({ code: c, output }));
      });
      const plain = stripVTControlCharacters(output);
      expect(plain).toMatch(/Tests\s+1 passed/);
      expect(code, plain.slice(-4000)).toBe(0);
    } finally {
      // The link first, so that removing the clone can never reach the lent node_modules.
      await unlink(join(clone, 'node_modules')).catch(() => {});
      await rm(parent, { recursive: true, force: true });
    }
  });
});

describe.runIf(inClone)('npm run demo', () => {
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
