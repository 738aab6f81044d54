import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { README, withConfigTable } from '../ops/docs.ts';
import { harbourConfigSchema } from '../services/host.ts';
import { configLeaves } from '../services/runtime/index.ts';

describe('README', () => {
  it('documents every setting with its current default (run `npm run docs` after changing a schema)', async () => {
    const readme = await readFile(README, 'utf8');
    expect(readme).toBe(withConfigTable(readme));
  });

  it('says what every setting means', () => {
    const undocumented = configLeaves(harbourConfigSchema())
      .filter((leaf) => !leaf.schema.description)
      .map((leaf) => leaf.env);
    expect(undocumented).toEqual([]);
  });

  it('gives the two commands that set up a fresh machine', async () => {
    const readme = await readFile(README, 'utf8');
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm test');
  });
});
