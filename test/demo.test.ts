import { describe, expect, it } from 'vitest';
import { runDemo } from '../ops/demo.ts';
import { testDir } from './support/infra.ts';

describe('npm run demo', () => {
  it('runs the whole pipeline on embedded defaults against the fixture site and stops cleanly', { timeout: 240_000 }, async () => {
    const lines: string[] = [];
    const result = await runDemo({ dataDir: await testDir('demo'), days: 2, codes: ['00700', '00005'], print: (l) => lines.push(l) });
    expect(result.dates).toHaveLength(2);
    expect(result.scraped.quotes).toEqual({ done: 2 });
    expect(result.scraped.ccass).toEqual({ done: 4 });
    expect(result.scraped.fundamentals).toEqual({ done: 4 });
    expect(result.scraped.securities).toEqual({ done: 1 });
    expect(result.lake.files).toBeGreaterThanOrEqual(4);
    expect(result.lake.rows).toBeGreaterThan(100);
    expect(lines.at(-1)).toMatch(/stopped$/);
  });
});
