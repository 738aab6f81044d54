import type { KeyValue } from 'hyparquet-writer';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { ErrorCodes, HarbourError } from '../../contracts/errors.ts';
import { type ParquetColumn, type ParquetColumnType, schemaElements } from './columns.ts';

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
  /** Footer `created_by` (default `harbour (hyparquet-writer)`). */
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
   * is then not appended.
   */
  append(row: ParquetRow): boolean;
  /** Appends rows, flushing each row group as it fills. */
  appendBatch(rows: Iterable<ParquetRow>): Promise<void>;
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

/** A ByteWriter that hands its buffered bytes to the sink each time hyparquet-writer ends a row group. */
class SinkByteWriter extends ByteWriter {
  flushedBytes = 0;

  constructor(private readonly sink: ParquetSink) {
    super(1 << 16);
  }

  flush(): Promise<void> | void {
    if (this.index === 0) return;
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    this.flushedBytes += chunk.byteLength;
    return this.sink(chunk);
  }

  override finish(): Promise<void> | void {
    return this.flush();
  }
}

type State = 'open' | 'finishing' | 'finished' | 'failed';
type Converter = (value: unknown) => unknown;

class StreamingParquetWriter implements ParquetFileWriter {
  readonly columns: readonly ParquetColumn[];
  private readonly names: string[];
  private readonly nullable: boolean[];
  private readonly converters: Converter[];
  private readonly rowGroupRows: number;
  private readonly allowEmpty: boolean;
  private readonly pageSize: number;
  private readonly byteWriter: SinkByteWriter;
  private readonly pq: ParquetWriter;
  private buffers: unknown[][];
  private buffered = 0;
  private appended = 0;
  private groups = 0;
  private state: State = 'open';
  private failure: unknown;
  /** The sink write of the last encoded row group, if still pending. */
  private inflight: Promise<void> | undefined;

  constructor(columns: readonly ParquetColumn[], sink: ParquetSink, opts: ParquetWriterOptions) {
    const schema = schemaElements(columns);
    this.columns = columns.map((c) => ({ ...c }));
    this.names = columns.map((c) => c.name);
    this.nullable = columns.map((c) => c.nullable);
    this.converters = columns.map((c) => converterFor(c.type));
    this.rowGroupRows = opts.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    if (!Number.isSafeInteger(this.rowGroupRows) || this.rowGroupRows < 1) {
      throw new RangeError(`parquet: rowGroupRows must be a positive integer, got ${opts.rowGroupRows}`);
    }
    this.allowEmpty = opts.allowEmpty ?? false;
    this.pageSize = opts.pageSize ?? 1 << 20;
    const kvMetadata: KeyValue[] | undefined = opts.kvMetadata
      ? Object.entries(opts.kvMetadata).map(([key, value]) => ({ key, value }))
      : undefined;
    this.byteWriter = new SinkByteWriter(sink);
    // The constructor writes the leading PAR1 into the buffer; it reaches the sink with the first row group.
    this.pq = new ParquetWriter({
      writer: this.byteWriter,
      schema,
      codec: opts.codec ?? 'SNAPPY',
      statistics: opts.statistics ?? true,
      kvMetadata,
      createdBy: opts.createdBy ?? 'harbour (hyparquet-writer)',
    });
    this.buffers = this.names.map(() => []);
  }

  get rows(): number {
    return this.appended;
  }

  get bufferedRows(): number {
    return this.buffered;
  }

  get rowGroups(): number {
    return this.groups;
  }

  get bytesWritten(): number {
    return this.byteWriter.flushedBytes;
  }

  append(row: ParquetRow): boolean {
    this.assertOpen();
    if (this.buffered >= this.rowGroupRows) {
      throw new Error('parquet: row group is full, await flush() before appending more rows');
    }
    const width = this.names.length;
    const at = this.buffered;
    // Convert the whole row first so a bad value leaves the buffers untouched.
    const converted = new Array<unknown>(width);
    for (let c = 0; c < width; c++) {
      const name = this.names[c]!;
      const value = row[name];
      if (value === null || value === undefined) {
        if (!this.nullable[c]) throw this.invalid(name, value, 'is required');
        converted[c] = null;
        continue;
      }
      const out = this.converters[c]!(value);
      if (out === INVALID) throw this.invalid(name, value, `is not a valid ${this.columns[c]!.type}`);
      converted[c] = out;
    }
    for (let c = 0; c < width; c++) this.buffers[c]![at] = converted[c];
    this.buffered = at + 1;
    this.appended++;
    return this.buffered >= this.rowGroupRows;
  }

  async appendBatch(rows: Iterable<ParquetRow>): Promise<void> {
    for (const row of rows) {
      if (this.append(row)) await this.flush();
    }
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
      throw new Error(
        'parquet: refusing to finish a file with 0 rows (pass allowEmpty: true to write an empty file)',
      );
    }
    this.state = 'finishing';
    try {
      if (this.buffered > 0) {
        this.encodeGroup();
        await this.settleInflight();
      }
      await this.pq.finish();
    } catch (err) {
      this.fail(err);
      throw err;
    }
    this.state = 'finished';
    return { rows: this.appended, bytes: this.byteWriter.flushedBytes, rowGroups: this.groups };
  }

  /** Encodes the buffered rows as one row group; the sink write it triggers becomes `inflight`. */
  private encodeGroup(): void {
    const size = this.buffered;
    const columnData = this.names.map((name, c) => {
      const data = this.buffers[c]!;
      if (data.length !== size) data.length = size;
      return { name, data };
    });
    // Release the buffers before encoding so the next group starts fresh.
    this.buffers = this.names.map(() => []);
    this.buffered = 0;
    this.groups++;
    try {
      const pending = this.pq.write({ columnData, rowGroupSize: size, pageSize: this.pageSize });
      if (pending) this.inflight = pending;
    } catch (err) {
      this.fail(err);
      throw err;
    }
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
    this.buffers = [];
    this.buffered = 0;
  }

  private assertOpen(): void {
    if (this.state === 'open') return;
    if (this.state === 'failed') {
      throw new Error('parquet: writer failed earlier and cannot be used', { cause: this.failure });
    }
    throw new Error(`parquet: writer is ${this.state}`);
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

const INVALID: unique symbol = Symbol('invalid');
const DAY_MS = 86_400_000;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function converterFor(type: ParquetColumnType): Converter {
  switch (type) {
    case 'string':
      return (v) => (typeof v === 'string' ? v : INVALID);
    case 'double':
      return (v) => (typeof v === 'number' ? v : INVALID);
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? v : INVALID);
    case 'int32':
      return (v) =>
        typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? v : INVALID;
    case 'int64':
      return (v) => {
        if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : INVALID;
        if (typeof v === 'bigint') return v >= INT64_MIN && v <= INT64_MAX ? v : INVALID;
        return INVALID;
      };
    case 'date':
      return cachedConverter(dateToDays);
    case 'timestamp':
      return cachedConverter(instantToMillis);
  }
}

/** Dates and instants repeat across a file (one holding date, one fetch time per envelope): memoise the last one. */
function cachedConverter(convert: Converter): Converter {
  let lastIn: unknown = INVALID;
  let lastOut: unknown = INVALID;
  return (v) => {
    if (typeof v === 'string' && v === lastIn) return lastOut;
    const out = convert(v);
    if (typeof v === 'string') {
      lastIn = v;
      lastOut = out;
    }
    return out;
  };
}

/** `yyyy-mm-dd` (a real calendar date), a Date at UTC midnight, or whole days since the epoch → days since epoch. */
function dateToDays(v: unknown): number | typeof INVALID {
  if (typeof v === 'string') {
    if (v.length !== 10 || v[4] !== '-' || v[7] !== '-') return INVALID;
    const y = Number(v.slice(0, 4));
    const m = Number(v.slice(5, 7));
    const d = Number(v.slice(8, 10));
    if (!Number.isInteger(y) || !Number.isInteger(m) || !Number.isInteger(d)) return INVALID;
    const ms = Date.UTC(y, m - 1, d);
    const check = new Date(ms);
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d)
      return INVALID;
    return ms / DAY_MS;
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    return Number.isFinite(ms) && ms % DAY_MS === 0 ? ms / DAY_MS : INVALID;
  }
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? v : INVALID;
  return INVALID;
}

/** ISO-8601 instant with zone, a Date, or epoch milliseconds → bigint epoch milliseconds. */
function instantToMillis(v: unknown): bigint | typeof INVALID {
  let ms: number;
  if (typeof v === 'string') {
    // Require an explicit zone: a zoneless string would be read in the process's local time.
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return INVALID;
    ms = Date.parse(v);
  } else if (v instanceof Date) {
    ms = v.getTime();
  } else if (typeof v === 'number') {
    ms = v;
  } else {
    return INVALID;
  }
  return Number.isSafeInteger(ms) ? BigInt(ms) : INVALID;
}
