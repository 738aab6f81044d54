import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, errorCodeOf, HarbourError, HttpErrorCodes } from '../contracts/index.ts';

const ROOT = join(import.meta.dirname, '..');

/** Tests beside the code they test; every other test helper lives under test/. */
const TEST_SUPPORT = /\.test\.ts$/;

/**
 * Files that may still create a plain `Error`, and why. Everything else Harbour throws carries a
 * catalogue code (contracts/errors.ts).
 */
const PLAIN_ERROR_ALLOWED: Record<string, string> = {
  // Browser script served by the exporter page: its errors are shown to the user, never thrown in Node.
  'services/exporter/page.ts': 'browser code',
  // Builds Node's own AbortError shape (name AbortError, code ABORT_ERR), which callers match by name.
  'services/scrapers/http/abort.ts': 'AbortError like Node',
  // Abort reasons of one attempt / of close(): classified by the client and wrapped into
  // HARBOUR_ERR_HTTP_FAILED or an AbortError; a HarbourError reason would be rethrown as is (not retried).
  'services/scrapers/http/client.ts': 'abort reasons',
};

function productionFiles(): string[] {
  const out = execFileSync('git', ['ls-files', 'services', 'contracts', 'streams', 'ops'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return out.split('\n').filter((f) => f.endsWith('.ts') && !TEST_SUPPORT.test(f));
}

describe('error catalogue', () => {
  it('codes are unique HARBOUR_ERR_ names; every HTTP error name maps to one of them', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^HARBOUR_ERR_[A-Z_]+$/);
    for (const c of Object.values(HttpErrorCodes)) expect(codes).toContain(c);
    expect(ErrorCodes.Unexpected).toBe('HARBOUR_ERR_UNEXPECTED');
  });

  it('errorCodeOf: its own code for a HarbourError, HARBOUR_ERR_UNEXPECTED for anything else', () => {
    expect(errorCodeOf(new HarbourError(ErrorCodes.Busy, 'x'))).toBe('HARBOUR_ERR_BUSY');
    expect(errorCodeOf(new TypeError('x'))).toBe('HARBOUR_ERR_UNEXPECTED');
    expect(errorCodeOf('a string')).toBe('HARBOUR_ERR_UNEXPECTED');
  });

  it('production code throws no plain Error and declares no Error class beside HarbourError', () => {
    const files = productionFiles();
    expect(files.length).toBeGreaterThan(100);
    const offences: string[] = [];
    for (const f of files) {
      const lines = readFileSync(join(ROOT, f), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/\bnew Error\(/.test(line) && !(f in PLAIN_ERROR_ALLOWED))
          offences.push(`${f}:${i + 1}: ${line.trim()}`);
        const cls = /\bclass (\w+) extends Error\b/.exec(line);
        if (cls && cls[1] !== 'HarbourError') offences.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offences).toEqual([]);
  });
});
