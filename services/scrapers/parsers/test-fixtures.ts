/** Test-only helpers: where the shared HKEX samples live (the repo's sibling `../shared/`), and error capture. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarbourError } from '../../../contracts/index.ts';

/** The repository root, derived from this file's location (services/scrapers/parsers/). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** `<repo>/../shared/fixtures/hkex` — CI clones the repo beside `shared/`. */
export const hkexFixtures = path.resolve(repoRoot, '../shared/fixtures/hkex');

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
