import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import type { Dataset, Envelope } from '../../contracts/index.ts';
import {
  createParquetWriter,
  datasetColumns,
  type ParquetFileWriter,
  type ParquetRow,
} from '../parquet/index.ts';
import { claimSpoolPath, releaseSpoolPath } from './spool.ts';

export interface FinishedFile {
  spoolPath: string;
  dataset: Dataset;
  partitionDate: string;
  rows: number;
  bytes: number;
  checksum: string;
  firstSeq: number;
  lastSeq: number;
  /** Every RAW sequence whose rows are in this file. */
  seqs: number[];
}

/**
 * One Parquet file being written for one partition (dataset × as-of date). Row groups go to a
 * local spool file as they fill (memory holds one row group), so a failed upload can be retried
 * from disk without keeping the batch in memory.
 */
export class PartitionFile {
  readonly seqs: number[] = [];
  private readonly hash = createHash('sha256');
  private writer!: ParquetFileWriter;
  private fh!: FileHandle;

  private constructor(
    readonly dataset: Dataset,
    readonly partitionDate: string,
    readonly spoolPath: string,
  ) {}

  static async open(opts: {
    spoolDir: string;
    dataset: Dataset;
    partitionDate: string;
    rowGroupRows: number;
    writerId: string;
  }): Promise<PartitionFile> {
    await mkdir(opts.spoolDir, { recursive: true });
    const path = claimSpoolPath(opts.spoolDir, `${opts.dataset}-${opts.partitionDate}`);
    const file = new PartitionFile(opts.dataset, opts.partitionDate, path);
    file.fh = await open(path, 'w');
    file.writer = createParquetWriter(
      datasetColumns(opts.dataset),
      async (chunk) => {
        file.hash.update(chunk);
        await file.fh.write(chunk);
      },
      { rowGroupRows: opts.rowGroupRows, kvMetadata: { dataset: opts.dataset, writer: opts.writerId } },
    );
    return file;
  }

  get rows(): number {
    return this.writer.rows;
  }

  /** Encoded bytes so far plus an estimate for the buffered row group. */
  get estimatedBytes(): number {
    const flushed = this.writer.bytesWritten;
    const perRow =
      this.writer.rows > this.writer.bufferedRows && flushed > 0
        ? flushed / (this.writer.rows - this.writer.bufferedRows)
        : 64;
    return flushed + this.writer.bufferedRows * perRow;
  }

  async append(seq: number, env: Envelope): Promise<void> {
    const meta = {
      _seq: seq,
      _key: env.key,
      _as_of: env.as_of,
      _fetched_at: env.fetched_at,
      _run_id: env.run_id,
      _source_url: env.source_url,
    };
    // Shared by every row of the envelope: handed to the writer once, not copied into each row.
    await this.writer.appendBatch(env.rows as ParquetRow[], meta);
    this.seqs.push(seq);
  }

  /** A row that already carries its metadata columns (merging lake files). */
  async appendRow(row: ParquetRow): Promise<void> {
    if (this.writer.append(row)) await this.writer.flush();
  }

  async finish(): Promise<FinishedFile> {
    const { rows, bytes } = await this.writer.finish();
    await this.fh.sync();
    await this.fh.close();
    const sorted = [...this.seqs].sort((a, b) => a - b);
    return {
      spoolPath: this.spoolPath,
      dataset: this.dataset,
      partitionDate: this.partitionDate,
      rows,
      bytes,
      checksum: this.hash.digest('hex'),
      firstSeq: sorted[0] ?? 0,
      lastSeq: sorted.at(-1) ?? 0,
      seqs: sorted,
    };
  }

  /** Drops the spool file (after commit, or when abandoning a batch). */
  async discard(): Promise<void> {
    await this.fh?.close().catch(() => {});
    await rm(this.spoolPath, { force: true });
    releaseSpoolPath(this.spoolPath);
  }
}
