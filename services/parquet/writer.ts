import { compress as snappyCompress } from 'snappyjs';
import { ErrorCodes, HarbourError } from '../../contracts/errors.ts';
import {
  type ColumnBuilder,
  createColumnBuilder,
  type EncodedColumnChunk,
  Encoding,
} from './column-builder.ts';
import type { ParquetColumn } from './columns.ts';
import { CompactWriter } from './thrift-compact.ts';

export type ParquetRow = Record<string, unknown>;

/**
 * Receives the file's bytes in order, one chunk per flushed row group (the first chunk also carries the
 * `PAR1` magic) and a last chunk with the footer. Chunks are fresh copies the sink may keep. The writer
 * never calls the sink again before the promise it returned settles.
 */
export type ParquetSink = (chunk: Uint8Array) => Promise<void> | void;

export type ParquetCodec = 'SNAPPY' | 'UNCOMPRESSED';

export interface ParquetWriterOptions {
  /** Rows per row group (default 100 000). Memory holds at most one row group of column values plus its encoding. */
  rowGroupRows?: number;
  /** Page compression (default SNAPPY). */
  codec?: ParquetCodec;
  /** Footer key/value metadata (e.g. dataset, schema version, compactor run). */
  kvMetadata?: Record<string, string>;
  /** Write a valid zero-row file on `finish()` when nothing was appended (default false: `finish()` rejects). */
  allowEmpty?: boolean;
  /** Column min/max/null-count statistics, used by readers for pruning (default true). */
  statistics?: boolean;
  /** Target uncompressed data page size in bytes (default 1 MiB). */
  pageSize?: number;
  /**
   * Largest dictionary page of a string column per row group, in bytes (default 1 MiB); a column whose
   * distinct values exceed it is written PLAIN in that row group.
   */
  dictionaryPageSize?: number;
  /** Footer `created_by` (default `harbour`). */
  createdBy?: string;
}

export interface ParquetFinishResult {
  rows: number;
  bytes: number;
  rowGroups: number;
}

/**
 * Streaming Parquet writer with flat memory. Rows are converted into per-column buffers as they are
 * appended; when `rowGroupRows` rows are buffered, `append` returns true and the caller must
 * `await flush()`, which encodes that row group and hands its bytes to the sink. Appending to a full row
 * group throws, so memory never holds more than one row group. `appendBatch` does this loop for you.
 */
export interface ParquetFileWriter {
  readonly columns: readonly ParquetColumn[];
  /** Rows appended so far (flushed or buffered). */
  readonly rows: number;
  /** Rows buffered in the current, not yet encoded, row group. */
  readonly bufferedRows: number;
  /** Row groups encoded and handed to the sink. */
  readonly rowGroups: number;
  /** Bytes handed to the sink so far. */
  readonly bytesWritten: number;
  /**
   * Converts and buffers one row (keys not in `columns` are ignored, missing keys are null).
   * Returns true when the row group is now full: `await flush()` before the next `append`.
   * Throws a `HARBOUR_ERR_SCHEMA_INVALID` HarbourError on a value that does not fit its column; the row
   * is then not appended. Columns named in `shared` take their value from it instead of from `row`:
   * the values every row of a batch has in common (the compactor's envelope metadata), without
   * copying them into each row.
   */
  append(row: ParquetRow, shared?: ParquetRow): boolean;
  /** Appends rows (each completed by `shared`, as in `append`), flushing each row group as it fills. */
  appendBatch(rows: Iterable<ParquetRow>, shared?: ParquetRow): Promise<void>;
  /** Encodes and emits the buffered row group if it is full; otherwise waits for any in-flight sink write. */
  flush(): Promise<void>;
  /** Emits the last (partial) row group and the footer. Rejects on 0 rows unless `allowEmpty`. */
  finish(): Promise<ParquetFinishResult>;
}

export const DEFAULT_ROW_GROUP_ROWS = 100_000;

export function createParquetWriter(
  columns: readonly ParquetColumn[],
  sink: ParquetSink,
  opts: ParquetWriterOptions = {},
): ParquetFileWriter {
  return new StreamingParquetWriter(columns, sink, opts);
}

type State = 'open' | 'finishing' | 'finished' | 'failed';

const MAGIC = Buffer.from('PAR1', 'ascii');
const NOT_SHARED: unique symbol = Symbol('not shared');
enum Codec {
  Uncompressed = 0,
  Snappy = 1,
}
enum PageType {
  Data = 0,
  Dictionary = 2,
}
/** Thrift `FieldRepetitionType`, `ConvertedType`. */
const REQUIRED = 0;
const OPTIONAL = 1;
const CONVERTED_UTF8 = 0;
const CONVERTED_DATE = 6;
const CONVERTED_TIMESTAMP_MILLIS = 9;

/** Where a flushed column chunk landed in the file: what the footer's ColumnMetaData needs. */
interface WrittenColumnChunk {
  /** The chunk's description without its pages, which must not outlive their write. */
  chunk: Omit<EncodedColumnChunk, 'pages'>;
  dataPageOffset: number;
  dictionaryPageOffset: number | undefined;
  uncompressedBytes: number;
  compressedBytes: number;
}

interface WrittenRowGroup {
  rows: number;
  fileOffset: number;
  columns: WrittenColumnChunk[];
}

/**
 * Harbour's own Parquet encoder (see `test/bench/RESULTS.md` for why): typed-array column buffers,
 * dictionary-encoded strings (PLAIN past a cardinality limit), PLAIN numbers, DATA_PAGE v1 pages of
 * about `pageSize` bytes, SNAPPY by `snappyjs` (pure JS: the native binding kept ~100 MiB of freed
 * output buffers resident).
 */
class StreamingParquetWriter implements ParquetFileWriter {
  readonly columns: readonly ParquetColumn[];
  private readonly names: string[];
  private readonly builders: ColumnBuilder[];
  private readonly rowGroupRows: number;
  private readonly allowEmpty: boolean;
  private readonly statistics: boolean;
  private readonly codec: Codec;
  private readonly pageBytes: number;
  private readonly kvMetadata: [string, string][];
  private readonly createdBy: string;
  private readonly written: WrittenRowGroup[] = [];
  private buffered = 0;
  private appended = 0;
  /** File offset of the next byte handed to the sink (the leading PAR1 included). */
  private offset = 0;
  private state: State = 'open';
  private failure: unknown;
  /** The sink write of the last encoded row group, if still pending. */
  private inflight: Promise<void> | undefined;

  constructor(
    columns: readonly ParquetColumn[],
    private readonly sink: ParquetSink,
    opts: ParquetWriterOptions,
  ) {
    if (columns.length === 0) throw new TypeError('parquet: at least one column is required');
    const seen = new Set<string>();
    for (const col of columns) {
      if (seen.has(col.name)) throw new TypeError(`parquet: duplicate column ${col.name}`);
      seen.add(col.name);
    }
    this.rowGroupRows = opts.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    if (!Number.isSafeInteger(this.rowGroupRows) || this.rowGroupRows < 1) {
      throw new RangeError(`parquet: rowGroupRows must be a positive integer, got ${opts.rowGroupRows}`);
    }
    this.columns = columns.map((c) => ({ ...c }));
    this.names = columns.map((c) => c.name);
    const dictionaryPageBytes = opts.dictionaryPageSize ?? 1 << 20;
    this.builders = this.columns.map((c) => createColumnBuilder(c, this.rowGroupRows, dictionaryPageBytes));
    this.allowEmpty = opts.allowEmpty ?? false;
    this.statistics = opts.statistics ?? true;
    this.codec = (opts.codec ?? 'SNAPPY') === 'SNAPPY' ? Codec.Snappy : Codec.Uncompressed;
    this.pageBytes = opts.pageSize ?? 1 << 20;
    this.kvMetadata = Object.entries(opts.kvMetadata ?? {});
    this.createdBy = opts.createdBy ?? 'harbour';
  }

  get rows(): number {
    return this.appended;
  }

  get bufferedRows(): number {
    return this.buffered;
  }

  get rowGroups(): number {
    return this.written.length;
  }

  get bytesWritten(): number {
    return this.offset;
  }

  append(row: ParquetRow, shared?: ParquetRow): boolean {
    return this.appendFrom(row, shared ? this.sources(shared) : undefined);
  }

  async appendBatch(rows: Iterable<ParquetRow>, shared?: ParquetRow): Promise<void> {
    const sources = shared ? this.sources(shared) : undefined;
    for (const row of rows) {
      if (this.appendFrom(row, sources)) await this.flush();
    }
  }

  /** Per column, the shared value to use, or NOT_SHARED to read the row. */
  private sources(shared: ParquetRow): unknown[] {
    return this.names.map((name) => (name in shared ? shared[name] : NOT_SHARED));
  }

  private appendFrom(row: ParquetRow, sources: unknown[] | undefined): boolean {
    this.assertOpen();
    if (this.buffered >= this.rowGroupRows) {
      throw new HarbourError(
        ErrorCodes.ParquetWriterState,
        'parquet: row group is full, await flush() before appending more rows',
      );
    }
    const builders = this.builders;
    for (let c = 0; c < builders.length; c++) {
      const builder = builders[c]!;
      const value = sources === undefined || sources[c] === NOT_SHARED ? row[this.names[c]!] : sources[c];
      if (value === null || value === undefined) {
        if (builder.column.nullable) {
          builder.pushNull();
          continue;
        }
        this.undoRow(c);
        throw this.invalid(builder.column.name, value, 'is required');
      }
      if (!builder.push(value)) {
        this.undoRow(c);
        throw this.invalid(builder.column.name, value, `is not a valid ${builder.column.type}`);
      }
    }
    this.buffered++;
    this.appended++;
    return this.buffered >= this.rowGroupRows;
  }

  async flush(): Promise<void> {
    await this.settleInflight();
    if (this.buffered >= this.rowGroupRows) {
      this.assertOpen();
      this.encodeGroup();
      await this.settleInflight();
    }
  }

  async finish(): Promise<ParquetFinishResult> {
    this.assertOpen();
    await this.settleInflight();
    if (this.appended === 0 && !this.allowEmpty) {
      throw new HarbourError(
        ErrorCodes.ParquetWriterState,
        'parquet: refusing to finish a file with 0 rows (pass allowEmpty: true to write an empty file)',
      );
    }
    this.state = 'finishing';
    try {
      if (this.buffered > 0) {
        this.encodeGroup();
        await this.settleInflight();
      }
      const footer = this.footer();
      const tail = Buffer.allocUnsafe(8);
      tail.writeUInt32LE(footer.byteLength, 0);
      MAGIC.copy(tail, 4);
      await this.emit(this.offset === 0 ? [MAGIC, footer, tail] : [footer, tail]);
    } catch (err) {
      this.fail(err);
      throw err;
    }
    this.state = 'finished';
    return { rows: this.appended, bytes: this.offset, rowGroups: this.written.length };
  }

  private undoRow(columnsPushed: number): void {
    for (let c = 0; c < columnsPushed; c++) this.builders[c]!.undo();
  }

  /**
   * Encodes the buffered rows as one row group and resets the column buffers; the sink write becomes
   * `inflight`, so the caller may fill the next row group meanwhile.
   */
  private encodeGroup(): void {
    const rows = this.buffered;
    let chunks: EncodedColumnChunk[];
    try {
      chunks = this.builders.map((b) => b.encode(this.pageBytes, this.statistics));
    } catch (err) {
      this.fail(err);
      throw err;
    }
    for (const b of this.builders) b.reset();
    this.buffered = 0;
    this.inflight = this.writeGroup(rows, chunks);
  }

  private async writeGroup(rows: number, chunks: EncodedColumnChunk[]): Promise<void> {
    const parts: Uint8Array[] = [];
    let offset = this.offset;
    if (offset === 0) {
      parts.push(MAGIC);
      offset = MAGIC.byteLength;
    }
    const group: WrittenRowGroup = { rows, fileOffset: offset, columns: [] };
    for (const chunk of chunks) {
      const { pages, ...described } = chunk;
      const written: WrittenColumnChunk = {
        chunk: described,
        dataPageOffset: -1,
        dictionaryPageOffset: undefined,
        uncompressedBytes: 0,
        compressedBytes: 0,
      };
      for (const page of pages) {
        const body = this.codec === Codec.Snappy ? snappyCompress(page.body) : page.body;
        const header = pageHeader(
          page.dictionary,
          page.numValues,
          page.encoding,
          page.body.byteLength,
          body.byteLength,
        );
        if (page.dictionary) written.dictionaryPageOffset = offset;
        else if (written.dataPageOffset < 0) written.dataPageOffset = offset;
        parts.push(header, body);
        offset += header.byteLength + body.byteLength;
        written.uncompressedBytes += header.byteLength + page.body.byteLength;
        written.compressedBytes += header.byteLength + body.byteLength;
      }
      group.columns.push(written);
    }
    this.written.push(group);
    await this.emit(parts);
  }

  private async emit(parts: Uint8Array[]): Promise<void> {
    const chunk = Buffer.concat(parts);
    this.offset += chunk.byteLength;
    await this.sink(chunk);
  }

  private footer(): Uint8Array {
    const w = new CompactWriter();
    w.i32(1, 2);
    w.structList(2, [undefined, ...this.builders], (s, builder) => {
      if (!builder) {
        s.string(4, 'root').i32(5, this.columns.length);
        return;
      }
      const col = builder.column;
      s.i32(1, builder.physicalType)
        .i32(3, col.nullable ? OPTIONAL : REQUIRED)
        .string(4, col.name);
      switch (col.type) {
        case 'string':
          s.i32(6, CONVERTED_UTF8).begin(10).begin(1).end().end();
          break;
        case 'date':
          s.i32(6, CONVERTED_DATE).begin(10).begin(6).end().end();
          break;
        case 'timestamp':
          // TIMESTAMP(isAdjustedToUTC = true, unit = MILLIS)
          s.i32(6, CONVERTED_TIMESTAMP_MILLIS)
            .begin(10)
            .begin(8)
            .bool(1, true)
            .begin(2)
            .begin(1)
            .end()
            .end()
            .end()
            .end();
          break;
      }
    });
    w.i64(3, this.appended);
    w.structList(4, this.written, (g, group) => {
      g.structList(1, group.columns, (cc, col, c) => {
        const first = col.dictionaryPageOffset ?? col.dataPageOffset;
        cc.i64(2, first).begin(3);
        cc.i32(1, col.chunk.physicalType)
          .i32List(2, col.chunk.encodings)
          .stringList(3, [this.names[c]!])
          .i32(4, this.codec)
          .i64(5, col.chunk.rows)
          .i64(6, col.uncompressedBytes)
          .i64(7, col.compressedBytes)
          .i64(9, col.dataPageOffset);
        if (col.dictionaryPageOffset !== undefined) cc.i64(11, col.dictionaryPageOffset);
        if (this.statistics) {
          const { nullCount, min, max } = col.chunk.statistics;
          cc.begin(12).i64(3, nullCount);
          if (max && min) cc.binary(5, max).binary(6, min);
          cc.end();
        }
        cc.end();
      });
      const uncompressed = group.columns.reduce((n, c) => n + c.uncompressedBytes, 0);
      const compressed = group.columns.reduce((n, c) => n + c.compressedBytes, 0);
      g.i64(2, uncompressed).i64(3, group.rows).i64(5, group.fileOffset).i64(6, compressed);
    });
    if (this.kvMetadata.length > 0) {
      w.structList(5, this.kvMetadata, (kv, [key, value]) => void kv.string(1, key).string(2, value));
    }
    w.string(6, this.createdBy);
    w.end();
    return w.out.copy();
  }

  private async settleInflight(): Promise<void> {
    const pending = this.inflight;
    if (!pending) return;
    try {
      await pending;
    } catch (err) {
      this.fail(err);
      throw err;
    } finally {
      if (this.inflight === pending) this.inflight = undefined;
    }
  }

  private fail(err: unknown): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.failure = err;
    for (const b of this.builders) b.reset();
    this.buffered = 0;
  }

  private assertOpen(): void {
    if (this.state === 'open') return;
    if (this.state === 'failed') {
      throw new HarbourError(
        ErrorCodes.ParquetWriterState,
        'parquet: writer failed earlier and cannot be used',
        {
          cause: this.failure,
        },
      );
    }
    throw new HarbourError(ErrorCodes.ParquetWriterState, `parquet: writer is ${this.state}`);
  }

  private invalid(column: string, value: unknown, problem: string): HarbourError {
    const shown = typeof value === 'string' && value.length > 40 ? `${value.slice(0, 40)}…` : String(value);
    return new HarbourError(
      ErrorCodes.SchemaInvalid,
      `parquet row ${this.appended}: column ${column} ${problem} (got ${typeof value} ${shown})`,
      { detail: { column, row: this.appended } },
    );
  }
}

function pageHeader(
  dictionary: boolean,
  numValues: number,
  encoding: number,
  uncompressedBytes: number,
  compressedBytes: number,
): Uint8Array {
  const w = new CompactWriter();
  w.i32(1, dictionary ? PageType.Dictionary : PageType.Data)
    .i32(2, uncompressedBytes)
    .i32(3, compressedBytes);
  if (dictionary) w.begin(7).i32(1, numValues).i32(2, encoding).end();
  else w.begin(5).i32(1, numValues).i32(2, encoding).i32(3, Encoding.Rle).i32(4, Encoding.Rle).end();
  w.end();
  return w.out.copy();
}
