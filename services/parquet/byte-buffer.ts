/**
 * A growable little-endian byte buffer for building Parquet pages and the Thrift footer. `bytes()` returns
 * a view of what was written; it stays valid until the next write or `reset()`.
 */
export class ByteBuffer {
  private buf: Buffer;
  /** Numbers go through a DataView: V8 inlines it, where Buffer's write*LE re-check their arguments. */
  private view: DataView;
  length = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  reset(): void {
    this.length = 0;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** A copy of what was written, safe to keep after the buffer is reused. */
  copy(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, 0, this.length);
  }

  ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }

  /** Overwrites 4 bytes written earlier (a length prefix known only after its payload). */
  u32At(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }

  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  /** A safe integer as INT64 little-endian, without a BigInt per value. */
  i64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / 4294967296);
    this.view.setUint32(this.length, v - hi * 4294967296, true);
    this.view.setInt32(this.length + 4, hi, true);
    this.length += 8;
  }

  bigI64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }

  bytesOf(src: Uint8Array): void {
    this.ensure(src.byteLength);
    this.buf.set(src, this.length);
    this.length += src.byteLength;
  }

  /** Writes `s` as UTF-8 and returns its byte length. */
  utf8(s: string): number {
    this.ensure(s.length * 3);
    const n = this.buf.write(s, this.length, 'utf8');
    this.length += n;
    return n;
  }

  /** PLAIN BYTE_ARRAY: 4-byte length then the UTF-8 bytes. */
  lengthPrefixedUtf8(s: string): void {
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.length + 4, 'utf8');
    this.view.setUint32(this.length, n, true);
    this.length += 4 + n;
  }

  /** Unsigned LEB128 varint of a non-negative safe integer. */
  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }
}
