/** The real CLI, spawned as a user runs it: its output is complete whatever stdout is. */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testDir } from '../../test/support/infra.ts';

const run = promisify(execFile);
const repoRoot = new URL('../../', import.meta.url).pathname;
const PAGE = 'test/fixtures/hkex/ccass/00700-2019-10-29.html';

describe('harbour output through a pipe', () => {
  it('parse ccass <00700 page> | wc -c equals the size written to a file (far beyond the 64 KiB pipe buffer)', {
    timeout: 90_000,
  }, async () => {
    const out = join(await testDir('cli-out'), 'parsed.json');
    const cmd = `npm run -s harbour -- parse ccass ${PAGE}`;
    await run('sh', ['-c', `${cmd} > '${out}'`], { cwd: repoRoot });
    const fileBytes = (await stat(out)).size;
    const { stdout } = await run('sh', ['-c', `${cmd} | wc -c`], { cwd: repoRoot });
    expect(fileBytes).toBeGreaterThan(150_000);
    expect(Number(stdout.trim())).toBe(fileBytes);
  });

  it('stops quietly when the reader closes the pipe early (| head)', { timeout: 60_000 }, async () => {
    const { stdout, stderr } = await run(
      'bash',
      ['-o', 'pipefail', '-c', `npm run -s harbour -- parse ccass ${PAGE} | head -c 20`],
      { cwd: repoRoot },
    );
    expect(stdout).toBe('{\n  "summary": {\n   ');
    expect(stderr).toBe('');
  });
});
