import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './free-port.ts';
import { type S3ServerHandle, startS3Server } from './s3-server.ts';

function clientFor(s3: S3ServerHandle, maxAttempts = 3): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts,
  });
}

describe('startS3Server (s3rver, patched)', () => {
  let dir: string;
  let s3: S3ServerHandle;
  let c: S3Client;
  const Bucket = 'launcher';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'harbour-s3srv-'));
    s3 = await startS3Server({ dataDir: join(dir, 'data'), bucket: Bucket });
    c = clientFor(s3);
  });
  afterAll(async () => {
    c?.destroy();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const put = (Key: string, body = Key) =>
    c.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from(body) }));
  const text = async (Key: string, Range?: string) =>
    (await c.send(new GetObjectCommand({ Bucket, Key, Range }))).Body!.transformToString();

  it('serves the configured bucket with S3RVER credentials on 127.0.0.1', async () => {
    expect(s3.endpoint).toBe(`http://127.0.0.1:${s3.port}`);
    expect([s3.accessKeyId, s3.secretAccessKey, s3.region]).toEqual(['S3RVER', 'S3RVER', 'us-east-1']);
    expect(s3.running).toBe(true);
    await c.send(new HeadBucketCommand({ Bucket }));
  });

  it('pages ListObjectsV2 with continuation tokens, in byte order', async () => {
    const keys = ['l/a', 'l/a-1', 'l/a.b', 'l/a/b', 'l/a/c/d', 'l/a0', 'l/b c+d', 'l/z', 'l/é'];
    for (const k of [...keys].reverse()) await put(k);
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const r: ListObjectsV2CommandOutput = await c.send(
        new ListObjectsV2Command({ Bucket, Prefix: 'l/', MaxKeys: 2, ContinuationToken: token }),
      );
      pages.push((r.Contents ?? []).map((o) => o.Key!));
      expect(r.KeyCount).toBe(pages.at(-1)!.length);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    expect(pages.flat()).toEqual(keys);
    expect(pages.length).toBe(5);
    const after = await c.send(new ListObjectsV2Command({ Bucket, Prefix: 'l/', StartAfter: 'l/a/b' }));
    expect(after.Contents?.map((o) => o.Key)).toEqual(keys.slice(4));
    const first = after.Contents![0]!;
    expect(first.Size).toBe('l/a/c/d'.length);
    expect(first.LastModified).toBeInstanceOf(Date);
    expect(first.ETag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('groups by delimiter across pages', async () => {
    for (const k of ['d/x/1', 'd/x/2', 'd/x/3', 'd/y', 'd/z/1']) await put(k);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const r: ListObjectsV2CommandOutput = await c.send(
        new ListObjectsV2Command({
          Bucket,
          Prefix: 'd/',
          Delimiter: '/',
          MaxKeys: 1,
          ContinuationToken: token,
        }),
      );
      seen.push(
        ...(r.CommonPrefixes ?? []).map((p) => `P:${p.Prefix}`),
        ...(r.Contents ?? []).map((o) => o.Key!),
      );
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    expect(seen).toEqual(['P:d/x/', 'd/y', 'P:d/z/']);
  });

  it('answers a 1-byte range and refuses ranges of empty objects like S3', async () => {
    await put('r/obj', 'abcdef');
    expect(await text('r/obj', 'bytes=0-0')).toBe('a');
    expect(await text('r/obj', 'bytes=2-3')).toBe('cd');
    expect(await text('r/obj', 'bytes=4-')).toBe('ef');
    await put('r/empty', '');
    await expect(text('r/empty', 'bytes=0-0')).rejects.toMatchObject({ name: 'InvalidRange' });
    await expect(text('r/obj', 'bytes=10-20')).rejects.toMatchObject({ name: 'InvalidRange' });
  });

  it('supports multipart uploads', async () => {
    const Key = 'mp/obj';
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const a = Buffer.alloc(5 * 1024 * 1024, 'a');
    const b = Buffer.from('tail');
    const p1 = await c.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: a }));
    const p2 = await c.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: b }));
    await c.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    const tail = await text(Key, `bytes=${a.length - 2}-`);
    expect(tail).toBe('aatail');
    // in-progress upload parts are not listed as objects
    await c.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp/pending' }));
    const r = await c.send(new ListObjectsV2Command({ Bucket }));
    expect(r.Contents?.some((o) => o.Key?.includes('S3rver'))).toBe(false);
  });

  it('stops (dropping open connections), then starts again on the same port with the same data', async () => {
    await put('keep/me', 'kept');
    const port = s3.port;
    const t0 = Date.now();
    await s3.stop();
    await s3.stop(); // idempotent
    expect(Date.now() - t0).toBeLessThan(3_000); // keep-alive sockets did not hold it open
    expect(s3.running).toBe(false);
    const once = clientFor(s3, 1);
    await expect(once.send(new HeadBucketCommand({ Bucket }))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    once.destroy();
    await s3.start();
    await s3.start(); // idempotent
    expect(s3.port).toBe(port);
    expect(await text('keep/me')).toBe('kept');
    await s3.restart();
    expect(await text('keep/me')).toBe('kept');
  });

  it('waits for a busy port instead of crashing (s3rver.run() would throw an unhandled error event)', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    setTimeout(() => blocker.close(), 500);
    const other = await startS3Server({ dataDir: join(dir, 'busy'), bucket: 'busy', port });
    try {
      expect(other.port).toBe(port);
      const oc = clientFor(other);
      await oc.send(new HeadBucketCommand({ Bucket: 'busy' }));
      oc.destroy();
    } finally {
      await other.stop();
    }
  });
});
