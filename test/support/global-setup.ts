import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureProgram } from '../../ops/launcher/programs.ts';
import { type StackObjectStore, startStack } from '../../ops/launcher/stack.ts';

/**
 * Starts the shared, real infrastructure once per test run: Postgres (embedded, or HARBOUR_PG_URL)
 * and a local S3 server. nats-server is installed here if missing; each test file starts its own
 * nats-server (JetStream names are global, and tests kill and restart servers).
 */
export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(join(tmpdir(), 'harbour-test-'));
  // Embedded Postgres runs as the `postgres` user when we are root: it must be able to enter the dir.
  await chmod(dataDir, 0o755);
  const log = (m: string) => console.log(`[global-setup] ${m}`);
  await ensureProgram('nats-server', 'nats-server', log);
  const stack = await startStack({
    dataDir,
    objectStore: 's3',
    ...(process.env.HARBOUR_PG_URL ? { externalPgUrl: process.env.HARBOUR_PG_URL } : {}),
    log,
  });
  await stack.nats.stop();
  project.provide('pgUrl', stack.postgres.url);
  project.provide('s3', stack.objectStore.backend === 's3' ? stack.objectStore : null);
  project.provide('testDataDir', dataDir);
  return async () => {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    s3: Extract<StackObjectStore, { backend: 's3' }> | null;
    testDataDir: string;
  }
}
