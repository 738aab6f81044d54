import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../test/support/infra.ts';
import {
  activeFiles,
  type CommittedFile,
  catalogFile,
  commitBatch,
  commitMerge,
  fileStatuses,
  lakeStats,
  listFiles,
  migrateCatalog,
  smallFilePartitions,
  unsentOutbox,
} from './index.ts';

type Db = Awaited<ReturnType<typeof freshDatabase>>;

const file = (
  key: string,
  date: string,
  firstSeq: number,
  lastSeq: number,
  bytes: number,
): CommittedFile => ({
  fileKey: `bronze/quotes/date=${date}/${key}.parquet`,
  dataset: 'quotes',
  partitionDate: date,
  firstSeq,
  lastSeq,
  rows: lastSeq - firstSeq + 1,
  bytes,
  checksum: `sum-${key}`,
  writer: 'w1',
});

describe('lake catalog (services/catalog) on Postgres', () => {
  let db: Db;
  const a = file('a', '2026-10-02', 1, 10, 100);
  const b = file('b', '2026-10-02', 11, 15, 50);
  const c = file('c', '2026-10-05', 16, 20, 5_000);

  beforeAll(async () => {
    db = await freshDatabase();
    await migrateCatalog(db.pool);
    await migrateCatalog(db.pool); // idempotent
    const seqs = (f: CommittedFile) => Array.from({ length: f.rows }, (_, i) => f.firstSeq + i);
    expect(
      await commitBatch(
        db.pool,
        'compactor-quotes',
        'quotes',
        [a, b, c].map((f) => ({ file: f, seqs: seqs(f) })),
      ),
    ).toBe('committed');
    // The same batch again (an ambiguous failure retried) changes nothing.
    expect(await commitBatch(db.pool, 'compactor-quotes', 'quotes', [{ file: a, seqs: seqs(a) }])).toBe(
      'already',
    );
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('lists committed files in one CatalogFile shape, numbers as numbers', async () => {
    const files = await listFiles(db.pool, { dataset: 'quotes' });
    expect(files.map((f) => f.fileKey)).toEqual([a.fileKey, b.fileKey, c.fileKey]);
    expect(files[0]).toMatchObject({ ...a, status: 'active', replacedBy: null, replacedAt: null });
    expect(files[0]!.committedAt).toBeInstanceOf(Date);
    expect(await catalogFile(db.pool, b.fileKey)).toEqual(files[1]);
    expect(await catalogFile(db.pool, 'bronze/quotes/none.parquet')).toBeNull();
    expect((await activeFiles(db.pool, { from: '2026-10-05' })).map((f) => f.fileKey)).toEqual([c.fileKey]);
    expect(await activeFiles(db.pool, { datasets: ['ccass'] })).toEqual([]);
    // One commit event per file in the outbox.
    expect((await unsentOutbox(db.pool)).map((o) => o.msgId)).toEqual(
      [a, b, c].map((f) => `commit:${f.fileKey}:${f.checksum}`),
    );
  });

  it('finds merge candidates, swaps a merge in, and reports statuses and stats after it', async () => {
    expect(await smallFilePartitions(db.pool, 'quotes', 1_000, 2)).toEqual(['2026-10-02']);
    const merged = file('m', '2026-10-02', 1, 15, 150);
    expect(await commitMerge(db.pool, [merged], [a.fileKey, b.fileKey])).toBe(true);
    // A second merge of the same inputs lost the race: nothing changes.
    expect(await commitMerge(db.pool, [file('m2', '2026-10-02', 1, 15, 150)], [a.fileKey, b.fileKey])).toBe(
      false,
    );
    expect((await listFiles(db.pool, { partitionDate: '2026-10-02' })).map((f) => f.fileKey)).toEqual([
      merged.fileKey,
    ]);
    const replaced = await listFiles(db.pool, { status: 'replaced' });
    expect(replaced.map((f) => [f.fileKey, f.replacedBy])).toEqual([
      [a.fileKey, merged.fileKey],
      [b.fileKey, merged.fileKey],
    ]);
    expect(replaced[0]!.replacedAt).toBeInstanceOf(Date);
    expect(await fileStatuses(db.pool, [a.fileKey, merged.fileKey, 'bronze/quotes/none.parquet'])).toEqual(
      new Map([
        [a.fileKey, { status: 'replaced', replacedBy: merged.fileKey }],
        [merged.fileKey, { status: 'active', replacedBy: null }],
      ]),
    );
    const [stats] = await lakeStats(db.pool);
    expect(stats).toMatchObject({
      dataset: 'quotes',
      files: 2,
      bytes: 5_150,
      rows: 20,
      partitions: 2,
      maxFilesPerPartition: 1,
    });
    expect(stats!.lastCommitAt).toBeGreaterThan(Date.now() / 1000 - 600);
  });
});
