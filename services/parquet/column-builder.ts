import { endianness } from 'node:os';
import { ErrorCodes, HarbourError } from '../../contracts/errors.ts';
import { ByteBuffer } from './byte-buffer.ts';
import type { ParquetColumn } from './columns.ts';

/** Parquet physical types (Thrift `Type`). */
export enum PhysicalType {
  Boolean = 0,
  Int32 = 1,
  Int64 = 2,
  Double = 5,
  ByteArray = 6,
}

/** Parquet encodings (Thrift `Encoding`). */
export enum Encoding {
  Plain = 0,
  Rle = 3,
  RleDictionary = 8,
}

/** One uncompressed page of a column chunk. */
export interface EncodedPage {
  dictionary: boolean;
  /** Values in a dictionary page; rows (levels) in a data page. */
  numValues: number;
  encoding: Encoding;
  body: Uint8Array;
}

export interface ColumnStatistics {
  nullCount: number;
  /** PLAIN-encoded min and max; absent when the chunk has no comparable value (all null, all NaN). */
  min?: Uint8Array;
  max?: Uint8Array;
}

export interface EncodedColumnChunk {
  physicalType: PhysicalType;
  /** The dictionary page (when dictionary-encoded) first, then the data pages. */
  pages: EncodedPage[];
  encodings: Encoding[];
  rows: number;
  statistics: ColumnStatistics;
}

/** A converter's answer for a value that does not fit its column. */
const INVALID: unique symbol = Symbol('invalid');
type Convert<T> = (value: unknown) => T | typeof INVALID;

const LITTLE_ENDIAN = endianness() === 'LE';
const INITIAL_ROWS = 1024;
/** Dictionary indices are bit-packed in at most 24 bits (see `bitPack`). */
const MAX_DICTIONARY_ENTRIES = 1 << 24;
/** Values after which a string column that is more than half distinct stops dictionary building. */
const CARDINALITY_PROBE_VALUES = 4096;

/**
 * Buffers one row group of one column as typed arrays (dense non-null values plus definition levels when
 * nullable) and encodes it into Parquet pages. Capacity grows by doubling up to `maxRows`, so a small file
 * never pays for a full row group. `undo()` takes back the last `push`/`pushNull`, which lets the writer
 * reject a whole row when one of its values does not fit.
 */
export abstract class ColumnBuilder {
  abstract readonly physicalType: PhysicalType;
  rows = 0;
  /** Non-null values buffered. */
  protected values = 0;
  private nulls = 0;
  private defs: Uint8Array | undefined;

  constructor(
    readonly column: ParquetColumn,
    protected readonly maxRows: number,
  ) {
    if (column.nullable) this.defs = new Uint8Array(Math.min(maxRows, INITIAL_ROWS));
  }

  /** Appends a non-null value; false (nothing appended) when it does not fit the column. */
  push(value: unknown): boolean {
    if (!this.add(value)) return false;
    const defs = this.defs;
    if (defs) {
      if (this.rows === defs.length) this.defs = grow(defs, this.maxRows);
      this.defs![this.rows] = 1;
    }
    this.rows++;
    this.values++;
    return true;
  }

  /** Appends a null; the column must be nullable. */
  pushNull(): void {
    const defs = this.defs;
    if (!defs)
      throw new HarbourError(
        ErrorCodes.ParquetWriterState,
        `parquet: column ${this.column.name} is not nullable`,
      );
    if (this.rows === defs.length) this.defs = grow(defs, this.maxRows);
    this.defs![this.rows++] = 0;
    this.nulls++;
  }

  undo(): void {
    this.rows--;
    if (this.defs && this.defs[this.rows] === 0) this.nulls--;
    else {
      this.values--;
      this.removeLast();
    }
  }

  reset(): void {
    this.rows = 0;
    this.values = 0;
    this.nulls = 0;
    this.clear();
  }

  encode(pageBytes: number, statistics: boolean): EncodedColumnChunk {
    const dict = this.dictionary();
    const pages: EncodedPage[] = [];
    if (dict)
      pages.push({ dictionary: true, numValues: dict.count, encoding: Encoding.Plain, body: dict.body });
    const defs = this.defs;
    const bytesPerRow = (dict ? dict.bitWidth / 8 : this.plainBytesPerValue()) + (defs ? 1 / 8 : 0);
    const rowsPerPage = Math.max(1, Math.floor(pageBytes / bytesPerRow));
    const out = new ByteBuffer(Math.min(pageBytes, 1 << 20) + 1024);
    let v0 = 0;
    for (let r0 = 0; r0 < this.rows; r0 += rowsPerPage) {
      const r1 = Math.min(this.rows, r0 + rowsPerPage);
      out.reset();
      let v1 = v0 + (r1 - r0);
      if (defs) {
        const at = out.length;
        out.u32(0);
        encodeHybrid(defs, r0, r1, 1, out);
        out.u32At(at, out.length - at - 4);
        v1 = v0;
        for (let r = r0; r < r1; r++) v1 += defs[r]!;
      }
      if (dict) {
        out.u8(dict.bitWidth);
        encodeHybrid(dict.indices, v0, v1, dict.bitWidth, out);
      } else {
        this.plain(v0, v1, out);
      }
      pages.push({
        dictionary: false,
        numValues: r1 - r0,
        encoding: dict ? Encoding.RleDictionary : Encoding.Plain,
        body: out.copy(),
      });
      v0 = v1;
    }
    return {
      physicalType: this.physicalType,
      pages,
      encodings: dict
        ? [Encoding.Plain, Encoding.Rle, Encoding.RleDictionary]
        : [Encoding.Plain, Encoding.Rle],
      rows: this.rows,
      statistics:
        statistics && this.values > 0
          ? { nullCount: this.nulls, ...this.minMax() }
          : { nullCount: this.nulls },
    };
  }

  /** Stores `value` at index `this.values`; false when it does not fit. */
  protected abstract add(value: unknown): boolean;
  /** Forgets the value at index `this.values` (already decremented). */
  protected abstract removeLast(): void;
  protected abstract clear(): void;
  protected abstract plainBytesPerValue(): number;
  /** PLAIN encoding of dense values [from, to). */
  protected abstract plain(from: number, to: number, out: ByteBuffer): void;
  protected abstract minMax(): { min?: Uint8Array; max?: Uint8Array };
  protected dictionary():
    | { body: Uint8Array; count: number; bitWidth: number; indices: Int32Array }
    | undefined {
    return undefined;
  }
}

/**
 * The buffer for one column; it accepts the JS values listed in `columns.ts` for the column's type and
 * refuses the rest (`push` returns false).
 */
export function createColumnBuilder(
  column: ParquetColumn,
  maxRows: number,
  /** Largest dictionary page of a string column per row group; beyond it the column is written PLAIN. */
  dictionaryPageBytes: number,
): ColumnBuilder {
  switch (column.type) {
    case 'string':
      return new StringBuilder(column, maxRows, dictionaryPageBytes);
    case 'double':
      return new DoubleBuilder(column, maxRows, toDouble, DOUBLES);
    case 'int32':
      return new Int32Builder(column, maxRows, toInt32, INT32S);
    case 'date':
      return new Int32Builder(column, maxRows, cachedConverter(dateToDays), INT32S);
    case 'int64':
      return new Int64Builder(column, maxRows, toInt64);
    case 'timestamp':
      return new Int64Builder(column, maxRows, cachedConverter(instantToMillis));
    case 'boolean':
      return new BooleanBuilder(column, maxRows);
    default: {
      const never: never = column.type;
      throw new TypeError(`parquet: unknown column type ${String(never)}`);
    }
  }
}

/** A fixed-width number column's layout: its physical type, its typed array, one value's PLAIN bytes. */
interface NumberLayout<A extends Float64Array | Int32Array> {
  readonly physicalType: PhysicalType;
  create(n: number): A;
  /** One value as PLAIN bytes (little-endian), for machines whose own byte order is not. */
  writeOne(v: number, out: ByteBuffer): void;
}

const DOUBLES: NumberLayout<Float64Array> = {
  physicalType: PhysicalType.Double,
  create: (n) => new Float64Array(n),
  writeOne: (v, out) => out.f64(v),
};

const INT32S: NumberLayout<Int32Array> = {
  physicalType: PhysicalType.Int32,
  create: (n) => new Int32Array(n),
  writeOne: (v, out) => out.i32(v),
};

/** Fixed-width numbers in a typed array; PLAIN is the array's own bytes (little-endian machines). */
abstract class TypedArrayBuilder<A extends Float64Array | Int32Array> extends ColumnBuilder {
  readonly physicalType: PhysicalType;
  protected data: A;

  constructor(
    column: ParquetColumn,
    maxRows: number,
    private readonly convert: Convert<number>,
    private readonly layout: NumberLayout<A>,
  ) {
    super(column, maxRows);
    this.physicalType = layout.physicalType;
    this.data = layout.create(Math.min(maxRows, INITIAL_ROWS));
  }

  protected add(value: unknown): boolean {
    const v = this.convert(value);
    if (v === INVALID) return false;
    if (this.values === this.data.length) this.data = grow(this.data, this.maxRows);
    this.data[this.values] = v;
    return true;
  }

  protected removeLast(): void {}
  protected clear(): void {}

  protected plainBytesPerValue(): number {
    return this.data.BYTES_PER_ELEMENT;
  }

  protected plain(from: number, to: number, out: ByteBuffer): void {
    const width = this.data.BYTES_PER_ELEMENT;
    if (LITTLE_ENDIAN) out.bytesOf(new Uint8Array(this.data.buffer, from * width, (to - from) * width));
    else for (let i = from; i < to; i++) this.layout.writeOne(this.data[i]!, out);
  }
}

/** The smallest and the largest of the first `n` (at least one) numbers of `data`, none of them NaN. */
function smallestAndLargest(data: Int32Array | Float64Array, n: number): [number, number] {
  let min = data[0]!;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    else if (v > max) max = v;
  }
  return [min, max];
}

class DoubleBuilder extends TypedArrayBuilder<Float64Array> {
  protected minMax(): { min?: Uint8Array; max?: Uint8Array } {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let seen = false;
    for (let i = 0; i < this.values; i++) {
      const v = this.data[i]!;
      if (Number.isNaN(v)) continue;
      seen = true;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (!seen) return {};
    // Zeros: min must be -0 and max +0 so a reader pruning on either sign keeps the chunk (parquet spec).
    return { min: f64Bytes(min === 0 ? -0 : min), max: f64Bytes(max === 0 ? 0 : max) };
  }
}

class Int32Builder extends TypedArrayBuilder<Int32Array> {
  protected minMax(): { min?: Uint8Array; max?: Uint8Array } {
    const [min, max] = smallestAndLargest(this.data, this.values);
    const b = new ByteBuffer(8);
    b.i32(min);
    b.i32(max);
    const bytes = b.copy();
    return { min: bytes.subarray(0, 4), max: bytes.subarray(4, 8) };
  }
}

/**
 * INT64 values as doubles (exact for safe integers, no BigInt per value); the rare bigint beyond 2^53
 * is kept aside by index and written exactly.
 */
class Int64Builder extends ColumnBuilder {
  readonly physicalType = PhysicalType.Int64;
  private data: Float64Array;
  private readonly big = new Map<number, bigint>();

  constructor(
    column: ParquetColumn,
    maxRows: number,
    private readonly convert: Convert<number | bigint>,
  ) {
    super(column, maxRows);
    this.data = new Float64Array(Math.min(maxRows, INITIAL_ROWS));
  }

  protected add(value: unknown): boolean {
    const v = this.convert(value);
    if (v === INVALID) return false;
    if (this.values === this.data.length) this.data = grow(this.data, this.maxRows);
    if (typeof v === 'bigint') {
      this.big.set(this.values, v);
      this.data[this.values] = Number(v);
    } else this.data[this.values] = v;
    return true;
  }

  protected removeLast(): void {
    this.big.delete(this.values);
  }

  protected clear(): void {
    this.big.clear();
  }

  protected plainBytesPerValue(): number {
    return 8;
  }

  protected plain(from: number, to: number, out: ByteBuffer): void {
    const big = this.big.size > 0 ? this.big : undefined;
    for (let i = from; i < to; i++) {
      const b = big?.get(i);
      if (b === undefined) out.i64(this.data[i]!);
      else out.bigI64(b);
    }
  }

  protected minMax(): { min?: Uint8Array; max?: Uint8Array } {
    const b = new ByteBuffer(16);
    if (this.big.size === 0) {
      const [min, max] = smallestAndLargest(this.data, this.values);
      b.i64(min);
      b.i64(max);
    } else {
      let min = this.exact(0);
      let max = min;
      for (let i = 1; i < this.values; i++) {
        const v = this.exact(i);
        if (v < min) min = v;
        else if (v > max) max = v;
      }
      b.bigI64(min);
      b.bigI64(max);
    }
    const bytes = b.copy();
    return { min: bytes.subarray(0, 8), max: bytes.subarray(8, 16) };
  }

  private exact(i: number): bigint {
    return this.big.get(i) ?? BigInt(this.data[i]!);
  }
}

class BooleanBuilder extends ColumnBuilder {
  readonly physicalType = PhysicalType.Boolean;
  private data: Uint8Array;

  constructor(column: ParquetColumn, maxRows: number) {
    super(column, maxRows);
    this.data = new Uint8Array(Math.min(maxRows, INITIAL_ROWS));
  }

  protected add(value: unknown): boolean {
    if (typeof value !== 'boolean') return false;
    if (this.values === this.data.length) this.data = grow(this.data, this.maxRows);
    this.data[this.values] = value ? 1 : 0;
    return true;
  }

  protected removeLast(): void {}
  protected clear(): void {}

  protected plainBytesPerValue(): number {
    return 1 / 8;
  }

  protected plain(from: number, to: number, out: ByteBuffer): void {
    let acc = 0;
    let bit = 0;
    for (let i = from; i < to; i++) {
      acc |= this.data[i]! << bit;
      if (++bit === 8) {
        out.u8(acc);
        acc = 0;
        bit = 0;
      }
    }
    if (bit > 0) out.u8(acc);
  }

  protected minMax(): { min?: Uint8Array; max?: Uint8Array } {
    let any0 = false;
    let any1 = false;
    for (let i = 0; i < this.values; i++) {
      if (this.data[i]) any1 = true;
      else any0 = true;
    }
    return { min: Uint8Array.of(any0 ? 0 : 1), max: Uint8Array.of(any1 ? 1 : 0) };
  }
}

/**
 * Strings are dictionary-built while appending (a Map lookup, none at all when a value repeats the
 * previous row's, which is most of an envelope's meta columns) and written RLE_DICTIONARY. Once the
 * dictionary page would pass `dictionaryPageBytes`, or the first {@link CARDINALITY_PROBE_VALUES} values
 * are more than half distinct (near-unique values such as addresses), the column falls back to keeping
 * plain references and writes PLAIN, for this and every later row group of the file: a high-cardinality
 * column stays so, and a Map of 100 000 unique keys costs more than it saves.
 */
class StringBuilder extends ColumnBuilder {
  readonly physicalType = PhysicalType.ByteArray;
  private indices: Int32Array | undefined;
  private entries: string[] = [];
  private readonly lookup = new Map<string, number>();
  /** PLAIN size of the dictionary page: 4-byte length plus UTF-8 bytes per entry. */
  private dictBytes = 0;
  /** The values themselves once the column fell back to PLAIN. */
  private plainValues: string[] | undefined;
  /** Estimated PLAIN size of the buffered values, to size pages. */
  private plainTotal = 0;
  private last: string | undefined;
  private lastIndex = -1;
  /** Dense value index whose push created the newest entry, so `undo` can take that entry back. */
  private newestAt = -1;

  constructor(
    column: ParquetColumn,
    maxRows: number,
    private readonly dictionaryPageBytes: number,
  ) {
    super(column, maxRows);
    this.indices = new Int32Array(Math.min(maxRows, INITIAL_ROWS));
  }

  protected add(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    this.plainTotal += 4 + value.length;
    if (this.plainValues) {
      this.plainValues[this.values] = value;
      return true;
    }
    let indices = this.indices!;
    if (this.values === indices.length) this.indices = indices = grow(indices, this.maxRows);
    let index: number;
    if (value === this.last) index = this.lastIndex;
    else {
      const known = this.lookup.get(value);
      if (known === undefined) {
        index = this.entries.length;
        this.entries.push(value);
        this.lookup.set(value, index);
        this.dictBytes += 4 + Buffer.byteLength(value, 'utf8');
        this.newestAt = this.values;
      } else index = known;
      this.last = value;
      this.lastIndex = index;
    }
    indices[this.values] = index;
    if (
      this.dictBytes > this.dictionaryPageBytes ||
      this.entries.length > MAX_DICTIONARY_ENTRIES ||
      (this.values === CARDINALITY_PROBE_VALUES && this.entries.length * 2 > this.values)
    ) {
      this.fallBackToPlain();
    }
    return true;
  }

  private fallBackToPlain(): void {
    const indices = this.indices!;
    const plain = new Array<string>(this.values + 1);
    for (let i = 0; i <= this.values; i++) plain[i] = this.entries[indices[i]!]!;
    this.plainValues = plain;
    this.indices = undefined;
    this.entries = [];
    this.lookup.clear();
    this.dictBytes = 0;
    this.last = undefined;
  }

  protected removeLast(): void {
    if (this.plainValues) {
      this.plainTotal -= 4 + this.plainValues[this.values]!.length;
      return;
    }
    const entry = this.entries[this.indices![this.values]!]!;
    this.plainTotal -= 4 + entry.length;
    if (this.newestAt === this.values) {
      this.entries.pop();
      this.lookup.delete(entry);
      this.dictBytes -= 4 + Buffer.byteLength(entry, 'utf8');
      this.newestAt = -1;
    }
    this.last = undefined;
    this.lastIndex = -1;
  }

  protected clear(): void {
    if (this.plainValues) this.plainValues = [];
    this.entries = [];
    this.lookup.clear();
    this.dictBytes = 0;
    this.plainTotal = 0;
    this.last = undefined;
    this.lastIndex = -1;
    this.newestAt = -1;
  }

  protected plainBytesPerValue(): number {
    return this.values > 0 ? this.plainTotal / this.values : 4;
  }

  protected plain(from: number, to: number, out: ByteBuffer): void {
    const values = this.plainValues!;
    for (let i = from; i < to; i++) out.lengthPrefixedUtf8(values[i]!);
  }

  protected override dictionary() {
    const count = this.entries.length;
    if (this.plainValues || count === 0) return undefined;
    const out = new ByteBuffer(this.dictBytes + 16);
    for (const entry of this.entries) out.lengthPrefixedUtf8(entry);
    return {
      body: out.bytes(),
      count,
      bitWidth: Math.max(1, 32 - Math.clz32(count - 1)),
      indices: this.indices!,
    };
  }

  /**
   * Min/max over the dictionary. A column that fell back to PLAIN has none: near-unique strings give a
   * range no reader can prune on, and ordering a row group of them by code point cost 10% of encoding.
   */
  protected minMax(): { min?: Uint8Array; max?: Uint8Array } {
    if (this.plainValues) return {};
    let min = this.entries[0]!;
    let max = min;
    for (const entry of this.entries) {
      if (compareUtf8(entry, min) < 0) min = entry;
      else if (compareUtf8(entry, max) > 0) max = entry;
    }
    return { min: Buffer.from(min, 'utf8'), max: Buffer.from(max, 'utf8') };
  }
}

/**
 * Compares strings in UTF-8 byte order (= code point order), which Parquet requires for BYTE_ARRAY
 * statistics; plain `<` compares UTF-16 units and puts U+E000–U+FFFF after astral characters.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * RLE / bit-packed hybrid encoding of values [from, to) at `width` bits (≤ 24): runs of 8 or more equal
 * values become RLE runs, the rest bit-packed groups of 8 (the last group zero-padded).
 */
export function encodeHybrid(
  values: Uint8Array | Int32Array,
  from: number,
  to: number,
  width: number,
  out: ByteBuffer,
): void {
  const valueBytes = (width + 7) >> 3;
  let i = from;
  while (i < to) {
    const v = values[i]!;
    let j = i + 1;
    while (j < to && values[j] === v) j++;
    if (j - i >= 8) {
      out.varint((j - i) * 2);
      for (let k = 0; k < valueBytes; k++) out.u8((v >>> (8 * k)) & 0xff);
      i = j;
      continue;
    }
    const start = i;
    let groups = 0;
    for (;;) {
      i += 8;
      groups++;
      if (i >= to || runOf8At(values, i, to)) break;
    }
    out.varint(groups * 2 + 1);
    bitPack(values, start, Math.min(i, to), groups * 8, width, out);
    if (i > to) i = to;
  }
}

function runOf8At(values: Uint8Array | Int32Array, at: number, to: number): boolean {
  if (at + 8 > to) return false;
  const v = values[at];
  for (let k = at + 1; k < at + 8; k++) if (values[k] !== v) return false;
  return true;
}

/** Packs `count` values (zeros past `end`) LSB-first at `width` bits; width ≤ 24 keeps `acc` within 31 bits. */
function bitPack(
  values: Uint8Array | Int32Array,
  start: number,
  end: number,
  count: number,
  width: number,
  out: ByteBuffer,
): void {
  out.ensure((count * width) >> 3);
  let acc = 0;
  let bits = 0;
  for (let k = 0; k < count; k++) {
    const at = start + k;
    acc |= (at < end ? values[at]! : 0) << bits;
    bits += width;
    while (bits >= 8) {
      out.u8(acc & 0xff);
      acc >>>= 8;
      bits -= 8;
    }
  }
}

function f64Bytes(v: number): Uint8Array {
  const b = new ByteBuffer(8);
  b.f64(v);
  return b.copy();
}

function grow<A extends Uint8Array | Int32Array | Float64Array>(a: A, max: number): A {
  const next = new (a.constructor as new (n: number) => A)(Math.min(max, a.length * 2));
  next.set(a);
  return next;
}

const DAY_MS = 86_400_000;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

const toDouble: Convert<number> = (v) => (typeof v === 'number' ? v : INVALID);
const toInt32: Convert<number> = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? v : INVALID;
const toInt64: Convert<number | bigint> = (v) => {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : INVALID;
  if (typeof v === 'bigint') {
    if (v >= SAFE_MIN && v <= SAFE_MAX) return Number(v);
    return v >= INT64_MIN && v <= INT64_MAX ? v : INVALID;
  }
  return INVALID;
};

/** Dates and instants repeat across a file (one holding date, one fetch time per envelope): memoise the last one. */
function cachedConverter(convert: Convert<number>): Convert<number> {
  let lastIn: unknown = INVALID;
  let lastOut: number | typeof INVALID = INVALID;
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

/** ISO-8601 instant with zone, a Date, or epoch milliseconds → epoch milliseconds. */
function instantToMillis(v: unknown): number | typeof INVALID {
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
  return Number.isSafeInteger(ms) ? ms : INVALID;
}
