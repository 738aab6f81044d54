import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHarbourError } from '../../contracts/errors.ts';
import { type S3ServerHandle, startS3Server } from '../../ops/launcher/s3-server.ts';
import { describeObjectStoreContract } from '../../test/support/object-store-contract.ts';
import { FS_TEMP_DIR, FsObjectStore } from './fs-store.ts';
import {
  createObjectStore,
  parseObjectStoreConfig,
  S3ObjectStore,
  type S3ObjectStoreConfig,
} from './index.ts';

const run = promisify(execFile);

async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `harbour-os-${tag}-`));
}

function s3Config(s3: S3ServerHandle, extra: Partial<S3ObjectStoreConfig> = {}): S3ObjectStoreConfig {
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    ...extra,
  };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isHarbourError(e) ? e.code : String(e)),
  );
}

// ---------------------------------------------------------------------------------------------------------
// The contract, on both backends.

describeObjectStoreContract('fs', async () => {
  const dir = await tempDir('fs');
  return {
    store: new FsObjectStore({ root: join(dir, 'lake') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeObjectStoreContract('s3 (s3rver)', async () => {
  const dir = await tempDir('s3');
  const s3 = await startS3Server({ dataDir: dir, bucket: 'contract' });
  // 5 MiB parts: a 12 MiB body is 3 parts
  const store = new S3ObjectStore(s3Config(s3, { partSize: 5 * 1024 * 1024 }));
  return {
    store,
    cleanup: async () => {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeObjectStoreContract('s3 (s3rver) under a key prefix', async () => {
  const dir = await tempDir('s3p');
  const s3 = await startS3Server({ dataDir: dir, bucket: 'contract' });
  const other = new S3ObjectStore(s3Config(s3));
  // a neighbour outside the prefix must never show up
  await other.put('lake-other/x', Buffer.from('x'));
  await other.put('lakf', Buffer.from('x'));
  await other.close();
  const store = createObjectStore({ backend: 's3', ...s3Config(s3), prefix: 'lake' });
  return {
    store,
    cleanup: async () => {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// ---------------------------------------------------------------------------------------------------------
// fs specifics

describe('FsObjectStore', () => {
  let dir: string;
  let store: FsObjectStore;
  beforeAll(async () => {
    dir = await tempDir('fsx');
    store = new FsObjectStore({ root: join(dir, 'lake') });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('stores keys as files under the root and leaves no temp files', async () => {
    await store.put('a/b/c.txt', Buffer.from('hi'));
    expect((await stat(join(dir, 'lake', 'a', 'b', 'c.txt'))).size).toBe(2);
    expect(await readdir(join(dir, 'lake', FS_TEMP_DIR))).toEqual([]);
  });

  it('cleans its temp file when a put is aborted', async () => {
    const ac = new AbortController();
    const p = store.put(
      'slow',
      (async function* () {
        yield Buffer.alloc(10);
        await new Promise(() => {});
      })(),
      { signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 50));
    expect((await readdir(join(dir, 'lake', FS_TEMP_DIR))).length).toBe(1);
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(await readdir(join(dir, 'lake', FS_TEMP_DIR))).toEqual([]);
  });

  it('reserves the temp folder and never lists it', async () => {
    expect(await codeOf(store.put('.tmp/x', Buffer.from('x')))).toBe(ErrorCodes.ObjectKeyInvalid);
    await writeFile(join(dir, 'lake', FS_TEMP_DIR, 'stray.part'), 'junk');
    const keys: string[] = [];
    for await (const o of store.list('')) keys.push(o.key);
    expect(keys.some((k) => k.includes('.tmp'))).toBe(false);
    // an old stray temp file is swept
    const old = new Date(Date.now() - 2 * 3_600_000);
    await utimes(join(dir, 'lake', FS_TEMP_DIR, 'stray.part'), old, old);
    expect(await store.sweepTemp()).toBe(1);
  });

  it('refuses a key that is also a folder, and prunes emptied folders on delete', async () => {
    await store.put('clash/x/y', Buffer.from('1'));
    expect(await codeOf(store.put('clash/x', Buffer.from('2')))).toBe(ErrorCodes.ObjectStoreRejected);
    expect(await codeOf(store.put('clash/x/y/z', Buffer.from('3')))).toBe(ErrorCodes.ObjectStoreRejected);
    await store.delete('clash/x/y');
    await expect(stat(join(dir, 'lake', 'clash'))).rejects.toMatchObject({ code: 'ENOENT' });
    // now the name is free as a key
    await store.put('clash/x', Buffer.from('2'));
    expect(Buffer.from(await store.getBytes('clash/x')).toString()).toBe('2');
  });

  it('reads an old version while it is being replaced', async () => {
    await store.put('snap', Buffer.alloc(1024 * 1024, 1));
    const reader = await store.get('snap');
    await store.put('snap', Buffer.alloc(10, 2));
    const chunks: Buffer[] = [];
    for await (const c of reader) chunks.push(c as Buffer);
    const old = Buffer.concat(chunks);
    expect(old.length).toBe(1024 * 1024);
    expect(old.every((b) => b === 1)).toBe(true);
  });

  it('surfaces an unwritable root as ObjectStoreUnavailable', async () => {
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const bad = new FsObjectStore({ root: file });
    expect(await codeOf(bad.put('k', Buffer.from('x')))).toBe(ErrorCodes.ObjectStoreUnavailable);
  });
});

// ---------------------------------------------------------------------------------------------------------
// config

describe('object store config', () => {
  it('defaults to the fs backend at .harbour/lake', () => {
    expect(parseObjectStoreConfig(undefined)).toEqual({ backend: 'fs', root: '.harbour/lake' });
    expect(parseObjectStoreConfig({ backend: 'fs' })).toEqual({ backend: 'fs', root: '.harbour/lake' });
    expect(createObjectStore({}).kind).toBe('fs');
  });

  it('fills s3 defaults and builds an S3 store', async () => {
    const cfg = parseObjectStoreConfig({ backend: 's3', endpoint: 'http://127.0.0.1:1', bucket: 'b' });
    expect(cfg).toEqual({
      backend: 's3',
      endpoint: 'http://127.0.0.1:1',
      bucket: 'b',
      region: 'us-east-1',
      prefix: '',
      forcePathStyle: true,
    });
    const store = createObjectStore(cfg);
    expect(store.kind).toBe('s3');
    await store.close();
  });

  it('names the bad field', () => {
    let err: unknown;
    try {
      parseObjectStoreConfig({ backend: 's3', endpoint: 'http://x' });
    } catch (e) {
      err = e;
    }
    expect(isHarbourError(err, ErrorCodes.Config)).toBe(true);
    expect((err as Error).message).toContain('/bucket');
    expect(() => parseObjectStoreConfig({ backend: 'gcs' })).toThrow(/object store config is invalid/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// S3 specifics: outages, refusals, other clients

describe('S3ObjectStore against s3rver', () => {
  let dir: string;
  let s3: S3ServerHandle;
  let store: S3ObjectStore;
  beforeAll(async () => {
    dir = await tempDir('s3x');
    s3 = await startS3Server({ dataDir: dir, bucket: 'lake' });
    store = new S3ObjectStore(s3Config(s3, { maxAttempts: 2 }));
  });
  afterAll(async () => {
    await store?.close();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports ObjectStoreUnavailable while the server is down and recovers after a restart', {
    timeout: 60_000,
  }, async () => {
    await store.put('outage/k', Buffer.from('before'));
    await s3.stop();
    expect(s3.running).toBe(false);
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    const calls: [string, Promise<unknown>][] = [
      ['head', settle(store.head('outage/k'))],
      ['get', settle(store.getBytes('outage/k'))],
      ['put', settle(store.put('outage/k2', Buffer.from('x')))],
      ['delete', settle(store.delete('outage/k'))],
      [
        'list',
        settle(
          (async () => {
            for await (const _ of store.list('outage/')) {
              // drain
            }
          })(),
        ),
      ],
    ];
    for (const [op, p] of calls) {
      const err = await p;
      expect(isHarbourError(err, ErrorCodes.ObjectStoreUnavailable), `${op}: ${String(err)}`).toBe(true);
      expect((err as Error).cause, op).toBeDefined();
      expect(String((err as Error).message)).toMatch(/ECONNREFUSED/);
    }
    await s3.start();
    expect(s3.running).toBe(true);
    expect(Buffer.from(await store.getBytes('outage/k')).toString()).toBe('before');
    await store.put('outage/k2', Buffer.from('after'));
    expect(Buffer.from(await store.getBytes('outage/k2')).toString()).toBe('after');
  });

  it('reports a missing bucket as ObjectStoreRejected, and ensureBucket creates it', async () => {
    const other = new S3ObjectStore(s3Config(s3, { bucket: 'not-yet' }));
    try {
      expect(await codeOf(other.put('k', Buffer.from('x')))).toBe(ErrorCodes.ObjectStoreRejected);
      await other.ensureBucket();
      await other.ensureBucket(); // idempotent
      await other.put('k', Buffer.from('x'));
      expect((await other.head('k'))?.size).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('refuses unknown credentials as ObjectStoreRejected', async () => {
    const other = new S3ObjectStore(s3Config(s3, { accessKeyId: 'NOPE', secretAccessKey: 'NOPE' }));
    try {
      expect(await codeOf(other.head('k'))).toBe(ErrorCodes.ObjectStoreRejected);
    } finally {
      await other.close();
    }
  });

  it('is seen by the aws CLI (skipped without one)', { timeout: 60_000 }, async (ctx) => {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_DEFAULT_REGION: s3.region,
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
      AWS_PAGER: '',
    };
    try {
      await run('aws', ['--version'], { env, timeout: 30_000 });
    } catch (err) {
      const reason = `aws CLI not usable here (${(err as Error).message.split('\n')[0]}); install it with apt-get install awscli`;
      console.warn(`skipping aws CLI check: ${reason}`);
      ctx.skip(reason);
      return;
    }
    const keys = Array.from(
      { length: 12 },
      (_, i) => `cli/date=2024-01-${String(i + 1).padStart(2, '0')}/part-0.parquet`,
    );
    for (const k of keys) await store.put(k, Buffer.from(k));
    await store.put('cli/date=2024-01-01.done', Buffer.from('marker'));
    // --page-size 5: the CLI follows our continuation tokens
    const { stdout } = await run(
      'aws',
      [
        '--endpoint-url',
        s3.endpoint,
        's3',
        'ls',
        `s3://${s3.bucket}/cli/`,
        '--recursive',
        '--page-size',
        '5',
      ],
      { env, timeout: 60_000 },
    );
    const listed = stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).slice(3).join(' '));
    expect(listed).toEqual([...keys, 'cli/date=2024-01-01.done'].sort());
    expect(listed).toContain('cli/date=2024-01-01.done');
    const folders = await run('aws', ['--endpoint-url', s3.endpoint, 's3', 'ls', `s3://${s3.bucket}/cli/`], {
      env,
      timeout: 60_000,
    });
    expect(folders.stdout).toContain('PRE date=2024-01-12/');
    expect(folders.stdout).toContain('date=2024-01-01.done');
  });
});
