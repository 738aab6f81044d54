import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { README, withConfigTable } from '../ops/docs.ts';

describe('README', () => {
  it('documents every setting with its current default (run `npm run docs` after changing a schema)', async () => {
    const readme = await readFile(README, 'utf8');
    expect(readme).toBe(withConfigTable(readme));
  });

  it('gives the two commands that set up a fresh machine', async () => {
    const readme = await readFile(README, 'utf8');
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm test');
  });
});
