import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHarbourError } from '../../contracts/errors.ts';
import {
  collect,
  type ObjectInfo,
  type ObjectStore,
  openAsyncBuffer,
} from '../../services/object-store/object-store.ts';

/**
 * The behaviour every ObjectStore backend must show. Run it from a backend's test file:
 * `describeObjectStoreContract('fs', async () => ({ store, cleanup }))`. The factory is called once per suite;
 * each case works under its own key prefix.
 */

const MiB = 1024 * 1024;
const BIG = 12 * MiB + 12_345; // several multipart parts at the S3 store's 5-8 MiB part sizes

function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function listAll(store: ObjectStore, prefix: string, opts?: Parameters<ObjectStore['list']>[1]) {
  const out: ObjectInfo[] = [];
  for await (const info of store.list(prefix, opts)) out.push(info);
  return out;
}

/** Expects `p` to reject with a HarbourError of `code`. */
async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a rejection with ${code}`).toBeDefined();
  expect(isHarbourError(err) ? err.code : err).toBe(code);
}

/** A body that yields `chunks` pieces of `size` bytes, then hangs until the consumer gives up. */
function hangingBody(chunks: number, size: number, pulled: { n: number }): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < chunks; i++) {
        pulled.n++;
        yield Buffer.alloc(size, i);
      }
      pulled.n++;
      await new Promise(() => {}); // never resolves
    },
  };
}

/** A Readable yielding `data` in chunks of odd sizes. */
function chunkedStream(data: Buffer, chunk = 100_003): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= data.length) {
        this.push(null);
        return;
      }
      const end = Math.min(off + chunk, data.length);
      this.push(data.subarray(off, end));
      off = end;
    },
  });
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function describeObjectStoreContract(
  name: string,
  factory: () => Promise<{ store: ObjectStore; cleanup: () => Promise<void> }>,
): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    let cleanup: (() => Promise<void>) | undefined;
    const big = randomBytes(BIG);

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    }, 60_000);

    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    }, 60_000);

    it('round-trips bytes', async () => {
      const data = new TextEncoder().encode('hello, harbour ✓');
      expect(await store.put('rt/bytes.txt', data, { contentType: 'text/plain' })).toEqual({
        size: data.length,
      });
      expect(Buffer.from(await store.getBytes('rt/bytes.txt')).toString()).toBe('hello, harbour ✓');
      expect(Buffer.from(await collect(await store.get('rt/bytes.txt'))).toString()).toBe('hello, harbour ✓');
    });

    it('round-trips an empty object', async () => {
      expect(await store.put('rt/empty', new Uint8Array(0))).toEqual({ size: 0 });
      expect((await store.getBytes('rt/empty')).length).toBe(0);
      expect((await store.head('rt/empty'))?.size).toBe(0);
      expect((await store.getBytes('rt/empty', { range: { start: 0, end: 1 } })).length).toBe(0);
    });

    it('streams a multi-MB Readable in and out (multipart on S3)', { timeout: 120_000 }, async () => {
      const res = await store.put('rt/big.bin', chunkedStream(big), {
        contentType: 'application/octet-stream',
      });
      expect(res.size).toBe(BIG);
      expect((await store.head('rt/big.bin'))?.size).toBe(BIG);
      const back = await collect(await store.get('rt/big.bin'));
      expect(back.length).toBe(BIG);
      expect(sha(back)).toBe(sha(big));
      expect(sha(await store.getBytes('rt/big.bin'))).toBe(sha(big));
    });

    it('accepts an async iterable body', { timeout: 60_000 }, async () => {
      const parts = [big.subarray(0, 3 * MiB), big.subarray(3 * MiB, 9 * MiB + 1), big.subarray(9 * MiB + 1)];
      async function* gen() {
        for (const p of parts) yield p;
      }
      expect((await store.put('rt/iter.bin', gen())).size).toBe(BIG);
      expect(sha(await store.getBytes('rt/iter.bin'))).toBe(sha(big));
    });

    it('head gives size and mtime, null when absent', async () => {
      const before = Date.now();
      await store.put('head/one', Buffer.from('12345'));
      const info = await store.head('head/one');
      expect(info).not.toBeNull();
      expect(info!.key).toBe('head/one');
      expect(info!.size).toBe(5);
      expect(info!.lastModified).toBeInstanceOf(Date);
      // s3rver and some filesystems keep whole seconds
      expect(info!.lastModified.getTime()).toBeGreaterThan(before - 5_000);
      expect(info!.lastModified.getTime()).toBeLessThan(Date.now() + 5_000);
      expect(await store.head('head/missing')).toBeNull();
      expect(await store.head('head-missing/deeper/still')).toBeNull();
    });

    it('get and getBytes of a missing key throw ObjectNotFound', async () => {
      await expectCode(store.get('missing/nope'), ErrorCodes.ObjectNotFound);
      await expectCode(store.getBytes('missing/nope'), ErrorCodes.ObjectNotFound);
      await expectCode(
        store.getBytes('missing/nope', { range: { start: 0, end: 4 } }),
        ErrorCodes.ObjectNotFound,
      );
      await expectCode(store.get('missing/nope', { range: { start: 3, end: 3 } }), ErrorCodes.ObjectNotFound);
    });

    it('reads ranges (end exclusive, clamped to the size)', { timeout: 60_000 }, async () => {
      const data = Buffer.from('0123456789abcdefghij');
      await store.put('range/small', data);
      const r = async (start: number, end?: number) =>
        Buffer.from(await store.getBytes('range/small', { range: { start, end } })).toString();
      expect(await r(5, 10)).toBe('56789');
      expect(await r(0, 1)).toBe('0');
      expect(await r(19, 20)).toBe('j');
      expect(await r(17)).toBe('hij');
      expect(await r(15, 100)).toBe('fghij');
      expect(await r(20)).toBe('');
      expect(await r(25, 30)).toBe('');
      expect(await r(4, 4)).toBe('');
      const streamed = await collect(await store.get('range/small', { range: { start: 2, end: 6 } }));
      expect(Buffer.from(streamed).toString()).toBe('2345');
      await expect(store.getBytes('range/small', { range: { start: -1 } })).rejects.toThrow(RangeError);
      await expect(store.getBytes('range/small', { range: { start: 5, end: 2 } })).rejects.toThrow(
        RangeError,
      );

      // across a multipart part boundary of a big object
      await store.put('range/big', big);
      const at = 5 * MiB - 7;
      const slice = await store.getBytes('range/big', { range: { start: at, end: at + 4 * MiB } });
      expect(sha(slice)).toBe(sha(big.subarray(at, at + 4 * MiB)));
      const buf = await openAsyncBuffer(store, 'range/big');
      expect(buf.byteLength).toBe(BIG);
      const tail = new Uint8Array(await buf.slice(BIG - 8));
      expect(Buffer.from(tail).equals(big.subarray(BIG - 8))).toBe(true);
    });

    it('lists every key of a prefix in order across pages', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `page/k-${String(i).padStart(2, '0')}`);
      // written out of order
      for (const k of [...keys].reverse()) await store.put(k, Buffer.from(k));
      const all = await listAll(store, 'page/', { pageSize: 10 });
      expect(all.map((o) => o.key)).toEqual(keys);
      expect(all.every((o) => o.size === 9 && o.lastModified instanceof Date)).toBe(true);
      expect((await listAll(store, 'page/')).map((o) => o.key)).toEqual(keys);
      expect((await listAll(store, 'page/', { pageSize: 1 })).length).toBe(25);
    });

    it('filters by plain string prefix, excluding siblings', async () => {
      for (const k of ['pfx/a/b/c', 'pfx/a/b/d', 'pfx/a/b1', 'pfx/a/bb', 'pfx/a/c', 'pfx/ab', 'pfx2/a/b/c']) {
        await store.put(k, Buffer.from(k));
      }
      expect((await listAll(store, 'pfx/a/b/')).map((o) => o.key)).toEqual(['pfx/a/b/c', 'pfx/a/b/d']);
      expect((await listAll(store, 'pfx/a/b')).map((o) => o.key)).toEqual([
        'pfx/a/b/c',
        'pfx/a/b/d',
        'pfx/a/b1',
        'pfx/a/bb',
      ]);
      expect((await listAll(store, 'pfx/a')).map((o) => o.key)).toEqual([
        'pfx/a/b/c',
        'pfx/a/b/d',
        'pfx/a/b1',
        'pfx/a/bb',
        'pfx/a/c',
        'pfx/ab',
      ]);
      expect(await listAll(store, 'pfx/zzz/')).toEqual([]);
      expect(await listAll(store, 'no-such-prefix/')).toEqual([]);
    });

    it('orders keys by bytes, as S3 does (punctuation before "/")', async () => {
      const keys = ['ord/w', 'ord/x-1', 'ord/x.y', 'ord/x/z', 'ord/x0', 'ord/xé'];
      for (const k of [...keys].reverse()) await store.put(k, Buffer.from(k));
      expect((await listAll(store, 'ord/', { pageSize: 2 })).map((o) => o.key)).toEqual(keys);
    });

    it('starts after a given key', async () => {
      const keys = Array.from({ length: 12 }, (_, i) => `after/k-${String(i).padStart(2, '0')}`);
      for (const k of keys) await store.put(k, Buffer.from(k));
      await store.put('after/sub/z', Buffer.from('z'));
      const got = await listAll(store, 'after/', { startAfter: 'after/k-04', pageSize: 5 });
      expect(got.map((o) => o.key)).toEqual([...keys.slice(5), 'after/sub/z']);
      // a startAfter that is not itself a key
      expect((await listAll(store, 'after/', { startAfter: 'after/k-10x' })).map((o) => o.key)).toEqual([
        'after/k-11',
        'after/sub/z',
      ]);
      expect((await listAll(store, 'after/', { startAfter: 'after/s' })).map((o) => o.key)).toEqual([
        'after/sub/z',
      ]);
      expect(await listAll(store, 'after/', { startAfter: 'after/zzz' })).toEqual([]);
    });

    it('deletes idempotently', async () => {
      await store.put('del/one', Buffer.from('x'));
      await store.put('del/deep/two', Buffer.from('y'));
      await store.delete('del/one');
      expect(await store.head('del/one')).toBeNull();
      await store.delete('del/one');
      await store.delete('del/never/existed');
      await store.delete('del/deep/two');
      await expectCode(store.get('del/deep/two'), ErrorCodes.ObjectNotFound);
      expect(await listAll(store, 'del/')).toEqual([]);
    });

    it('overwrites replace the whole object', async () => {
      await store.put('ow/k', Buffer.from('a much longer first version'));
      await store.put('ow/k', Buffer.from('v2'));
      expect(Buffer.from(await store.getBytes('ow/k')).toString()).toBe('v2');
      expect((await store.head('ow/k'))?.size).toBe(2);
      expect((await listAll(store, 'ow/')).map((o) => [o.key, o.size])).toEqual([['ow/k', 2]]);
    });

    it('rejects invalid keys with ObjectKeyInvalid', async () => {
      const bad = [
        '',
        '/abs',
        'a//b',
        'a/../b',
        '..',
        '../x',
        './a',
        'a/./b',
        'a/',
        'a/b/',
        'x\u0000y',
        'x\ny',
      ];
      for (const key of bad) {
        await expectCode(store.put(key, Buffer.from('x')), ErrorCodes.ObjectKeyInvalid);
        await expectCode(store.get(key), ErrorCodes.ObjectKeyInvalid);
        await expectCode(store.getBytes(key), ErrorCodes.ObjectKeyInvalid);
        await expectCode(store.head(key), ErrorCodes.ObjectKeyInvalid);
        await expectCode(store.delete(key), ErrorCodes.ObjectKeyInvalid);
      }
      await expectCode(store.put('k'.repeat(1025), Buffer.from('x')), ErrorCodes.ObjectKeyInvalid);
      for (const prefix of ['/abs', '../', 'a//b', 'a/../']) {
        await expectCode(listAll(store, prefix), ErrorCodes.ObjectKeyInvalid);
      }
    });

    it('aborts a put whose body is still streaming, leaving nothing', { timeout: 60_000 }, async () => {
      const ac = new AbortController();
      const pulled = { n: 0 };
      const p = store.put('abort/slow', hangingBody(3, 64 * 1024, pulled), { signal: ac.signal });
      await waitFor(() => pulled.n > 3);
      ac.abort();
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error)?.name).toBe('AbortError');
      expect(await store.head('abort/slow')).toBeNull();
      expect(await listAll(store, 'abort/')).toEqual([]);
      // the key stays usable
      await store.put('abort/slow', Buffer.from('ok'));
      expect(Buffer.from(await store.getBytes('abort/slow')).toString()).toBe('ok');
    });

    it('aborts a put in the middle of a multipart upload', { timeout: 60_000 }, async () => {
      const ac = new AbortController();
      const pulled = { n: 0 };
      // 10 MiB then a hang: past the first part on S3
      const p = store.put('abort/multi', hangingBody(10, MiB, pulled), { signal: ac.signal });
      await waitFor(() => pulled.n > 10);
      await new Promise((r) => setTimeout(r, 200)); // let a part upload start
      ac.abort(new Error('custom reason'));
      await expect(p).rejects.toThrow('custom reason');
      expect(await store.head('abort/multi')).toBeNull();
    });

    it('rejects at once with an already-aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      await expect(store.put('abort/pre', Buffer.from('x'), { signal: ac.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
      await expect(store.getBytes('rt/bytes.txt', { signal: ac.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
      expect(await store.head('abort/pre')).toBeNull();
    });

    it('destroys a Readable body on abort', async () => {
      const ac = new AbortController();
      const body = new Readable({ read() {} }); // never ends
      body.push(Buffer.alloc(1000));
      const p = store.put('abort/readable', body, { signal: ac.signal });
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await expect(p).rejects.toMatchObject({ name: 'AbortError' });
      expect(body.destroyed).toBe(true);
      expect(await store.head('abort/readable')).toBeNull();
    });

    it('lists only objects (no temp or bookkeeping entries)', async () => {
      const all = await listAll(store, '');
      expect(all.length).toBeGreaterThan(0);
      for (const o of all) {
        expect(o.key.startsWith('.tmp')).toBe(false);
        expect(o.key).not.toMatch(/_S3rver_/);
        expect(await store.head(o.key)).not.toBeNull();
      }
      const keys = all.map((o) => o.key);
      expect([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(keys);
    });
  });
}
