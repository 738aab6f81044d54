/**
 * `npm run docs`: regenerates the configuration table in README.md from the config schemas, so the
 * documentation cannot drift from the defaults (a test checks they agree).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, HarbourError } from '../contracts/index.ts';
import { harbourConfigSchema } from '../services/host.ts';
import { configTable } from '../services/runtime/index.ts';

export const README = join(import.meta.dirname, '..', 'README.md');
const START = '<!-- config:start -->';
const END = '<!-- config:end -->';

export function withConfigTable(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a)
    throw new HarbourError(ErrorCodes.Internal, `README.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${configTable(harbourConfigSchema())}\n${readme.slice(b)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFile(README, withConfigTable(await readFile(README, 'utf8')));
  console.log('README.md configuration table updated');
}
