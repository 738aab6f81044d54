/** Test-only helpers: where the real HKEX samples live (`test/fixtures/hkex` in the repository), and error capture. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarbourError } from '../../contracts/index.ts';

/** The repository root, derived from this file's location (test/support/). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** `<repo>/test/fixtures/hkex`: the repository carries every real sample it uses. */
export const hkexFixtures = path.resolve(repoRoot, 'test/fixtures/hkex');

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
