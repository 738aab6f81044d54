/** Test-only helpers: where the real HKEX samples live (`test/fixtures/hkex` in the repository), and error capture. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarbourError } from '../../contracts/index.ts';

/** The repository root, derived from this file's location (test/support/). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** `<repo>/test/fixtures/hkex`: the repository carries every real sample it uses. */
export const hkexFixtures = path.resolve(repoRoot, 'test/fixtures/hkex');

/** HKEX's published 2024 full-day closures (weekdays), from its holiday circular. */
export const HKEX_2024_CLOSURES: readonly string[] = [
  '2024-01-01',
  '2024-02-12',
  '2024-02-13',
  '2024-03-29',
  '2024-04-01',
  '2024-04-04',
  '2024-05-01',
  '2024-05-15',
  '2024-06-10',
  '2024-07-01',
  '2024-09-18',
  '2024-10-01',
  '2024-10-11',
  '2024-12-25',
  '2024-12-26',
];

export function fixturePath(...parts: string[]): string {
  return path.join(hkexFixtures, ...parts);
}
export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
export function readFixtureBytes(...parts: string[]): Uint8Array {
  return readFileSync(fixturePath(...parts));
}

/** Runs `fn` and returns the HarbourError it throws (fails the test if it returns or throws something else). */
export function harbourErrorOf(fn: () => unknown): HarbourError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HarbourError) return err;
    throw err;
  }
  throw new Error('expected a HarbourError, but the call returned normally');
}

export async function harbourErrorOfAsync(fn: () => Promise<unknown>): Promise<HarbourError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof HarbourError) return err;
    throw err;
  }
  throw new Error('expected a HarbourError, but the call resolved normally');
}
