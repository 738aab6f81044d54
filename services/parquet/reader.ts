import {
  type AsyncBuffer,
  asyncBufferFromFile,
  type FileMetaData,
  type ParquetParsers,
  parquetMetadataAsync,
  parquetReadObjects,
  type SchemaElement,
} from 'hyparquet';
import type { ParquetColumn, ParquetColumnType } from './columns.ts';
import type { ParquetRow } from './writer.ts';

/** Whole file bytes, or an AsyncBuffer (random access: a local file, an object-store ranged reader). */
export type ParquetSource = Uint8Array | ArrayBuffer | AsyncBuffer;

export interface ReadParquetOptions {
  /** Only these columns (default all). */
  columns?: string[];
  /**
   * Plain INT64 columns as `number` (default; a value beyond ±2^53 throws a RangeError) or as `bigint`.
   * DATE and TIMESTAMP columns are unaffected.
   */
  int64?: 'number' | 'bigint';
  /** Parsed footer, when the caller already has it (saves a read). */
  metadata?: FileMetaData;
}

export interface ParquetFileInfo {
  rows: number;
  /** Row count of each row group, in file order. */
  rowGroups: number[];
  columns: ParquetColumn[];
  kvMetadata: Record<string, string>;
  createdBy: string | undefined;
  metadata: FileMetaData;
}

/**
 * Values come back in the writer's input forms: DATE → `yyyy-mm-dd`, TIMESTAMP → ISO-8601 `…Z` with
 * milliseconds, strings, numbers, booleans, null for nulls.
 */
const PARSERS: Partial<ParquetParsers> = {
  dateFromDays: (days: number) => new Date(days * 86_400_000).toISOString().slice(0, 10),
  timestampFromMilliseconds: (ms: bigint) => new Date(Number(ms)).toISOString(),
  timestampFromMicroseconds: (us: bigint) => new Date(Number(us / 1000n)).toISOString(),
  timestampFromNanoseconds: (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString(),
};

/** An AsyncBuffer over a local file (reads only the ranges asked for). */
export function openParquetFile(path: string): Promise<AsyncBuffer> {
  return asyncBufferFromFile(path);
}

export function toAsyncBuffer(source: ParquetSource): AsyncBuffer {
  if (source instanceof ArrayBuffer) return source;
  if (source instanceof Uint8Array) {
    const { buffer, byteOffset, byteLength } = source;
    return {
      byteLength,
      slice: (start: number, end?: number) =>
        buffer.slice(byteOffset + start, byteOffset + (end ?? byteLength)) as ArrayBuffer,
    };
  }
  return source;
}

export async function readParquetInfo(source: ParquetSource): Promise<ParquetFileInfo> {
  const metadata = await parquetMetadataAsync(toAsyncBuffer(source));
  return infoOf(metadata);
}

/** Reads every row (or the chosen columns) of a file into memory. For big files prefer {@link iterateParquetRowGroups}. */
export async function readParquetRows(
  source: ParquetSource,
  opts: ReadParquetOptions = {},
): Promise<ParquetRow[]> {
  const out: ParquetRow[] = [];
  for await (const rows of iterateParquetRowGroups(source, opts)) {
    for (const row of rows) out.push(row);
  }
  return out;
}

/** Yields the rows of one row group at a time, so memory holds one row group's values. */
export async function* iterateParquetRowGroups(
  source: ParquetSource,
  opts: ReadParquetOptions = {},
): AsyncGenerator<ParquetRow[]> {
  const file = toAsyncBuffer(source);
  const metadata = opts.metadata ?? (await parquetMetadataAsync(file));
  const int64Columns = opts.int64 === 'bigint' ? [] : plainInt64Columns(metadata, opts.columns);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    if (rowEnd > rowStart) {
      const rows = (await parquetReadObjects({
        file,
        metadata,
        rowStart,
        rowEnd,
        parsers: PARSERS,
        ...(opts.columns ? { columns: opts.columns } : {}),
      })) as ParquetRow[];
      if (int64Columns.length) int64ToNumber(rows, int64Columns);
      yield rows;
    }
    rowStart = rowEnd;
  }
}

function plainInt64Columns(metadata: FileMetaData, only: string[] | undefined): string[] {
  return metadata.schema
    .slice(1)
    .filter((e) => isSignedInt(e, 64))
    .map((e) => e.name)
    .filter((name) => !only || only.includes(name));
}

/** A plain signed integer column: no annotation, or the INT_32/INT_64 one other writers (DuckDB) add. */
function isSignedInt(e: SchemaElement, bits: 32 | 64): boolean {
  if (e.type !== (bits === 32 ? 'INT32' : 'INT64')) return false;
  if (e.converted_type && e.converted_type !== `INT_${bits}`) return false;
  const lt = e.logical_type;
  return !lt || (lt.type === 'INTEGER' && lt.bitWidth === bits && lt.isSigned);
}

function int64ToNumber(rows: ParquetRow[], columns: string[]): void {
  for (const row of rows) {
    for (const name of columns) {
      const v = row[name];
      if (typeof v !== 'bigint') continue;
      const n = Number(v);
      if (!Number.isSafeInteger(n)) {
        throw new RangeError(
          `parquet: ${name} value ${v} does not fit a JS number; read with int64: 'bigint'`,
        );
      }
      row[name] = n;
    }
  }
}

function infoOf(metadata: FileMetaData): ParquetFileInfo {
  const kvMetadata: Record<string, string> = {};
  for (const { key, value } of metadata.key_value_metadata ?? []) kvMetadata[key] = value ?? '';
  return {
    rows: Number(metadata.num_rows),
    rowGroups: metadata.row_groups.map((g) => Number(g.num_rows)),
    columns: columnsOfSchema(metadata),
    kvMetadata,
    createdBy: metadata.created_by,
    metadata,
  };
}

/** Maps a flat file's leaf columns back to {@link ParquetColumn}s; throws on types Harbour does not write. */
export function columnsOfSchema(metadata: FileMetaData): ParquetColumn[] {
  return metadata.schema.slice(1).map((e) => {
    if (e.num_children) throw new TypeError(`parquet: nested column ${e.name} is not supported`);
    const nullable = e.repetition_type !== 'REQUIRED';
    const ctype = e.converted_type;
    const ltype = e.logical_type?.type;
    let type: ParquetColumnType;
    if (e.type === 'BYTE_ARRAY' && (ctype === 'UTF8' || ltype === 'STRING')) type = 'string';
    else if (e.type === 'DOUBLE') type = 'double';
    else if (e.type === 'BOOLEAN') type = 'boolean';
    else if (e.type === 'INT32' && (ctype === 'DATE' || ltype === 'DATE')) type = 'date';
    else if (isSignedInt(e, 32)) type = 'int32';
    else if (e.type === 'INT64' && (ctype === 'TIMESTAMP_MILLIS' || ltype === 'TIMESTAMP'))
      type = 'timestamp';
    else if (isSignedInt(e, 64)) type = 'int64';
    else
      throw new TypeError(
        `parquet: column ${e.name} has unsupported type ${e.type}/${ctype ?? ltype ?? '-'}`,
      );
    return { name: e.name, type, nullable };
  });
}
