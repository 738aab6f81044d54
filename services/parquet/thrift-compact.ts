import { ByteBuffer } from './byte-buffer.ts';

/** Thrift compact protocol field types (the subset Parquet's footer and page headers use). */
enum T {
  True = 1,
  False = 2,
  I32 = 5,
  I64 = 6,
  Binary = 8,
  List = 9,
  Struct = 12,
}

/**
 * Writer for Thrift compact-protocol structs, enough for Parquet's `FileMetaData` and `PageHeader`.
 * Fields must be written in increasing id order within a struct; `begin`/`end` nest structs.
 */
export class CompactWriter {
  readonly out: ByteBuffer;
  private lastId = 0;
  private readonly stack: number[] = [];

  constructor(out = new ByteBuffer(1 << 12)) {
    this.out = out;
  }

  i32(id: number, v: number): this {
    this.field(id, T.I32);
    this.out.varint(zigzag(v));
    return this;
  }

  i64(id: number, v: number): this {
    this.field(id, T.I64);
    this.out.varint(zigzag(v));
    return this;
  }

  bool(id: number, v: boolean): this {
    this.field(id, v ? T.True : T.False);
    return this;
  }

  binary(id: number, v: Uint8Array): this {
    this.field(id, T.Binary);
    this.out.varint(v.byteLength);
    this.out.bytesOf(v);
    return this;
  }

  string(id: number, v: string): this {
    return this.binary(id, Buffer.from(v, 'utf8'));
  }

  /** Opens a struct-typed field; close it with `end()`. */
  begin(id: number): this {
    this.field(id, T.Struct);
    return this.push();
  }

  /** Closes the innermost struct (a field's, a list element's, or the top-level one). */
  end(): this {
    this.out.u8(0);
    this.lastId = this.stack.pop() ?? 0;
    return this;
  }

  i32List(id: number, values: readonly number[]): this {
    this.listHeader(id, T.I32, values.length);
    for (const v of values) this.out.varint(zigzag(v));
    return this;
  }

  stringList(id: number, values: readonly string[]): this {
    this.listHeader(id, T.Binary, values.length);
    for (const v of values) {
      const bytes = Buffer.from(v, 'utf8');
      this.out.varint(bytes.byteLength);
      this.out.bytesOf(bytes);
    }
    return this;
  }

  /** A list of structs: writes the header, then `each` once per item between `begin`/`end` of the element. */
  structList<V>(id: number, items: readonly V[], each: (w: this, item: V, index: number) => void): this {
    this.listHeader(id, T.Struct, items.length);
    items.forEach((item, index) => {
      this.push();
      each(this, item, index);
      this.end();
    });
    return this;
  }

  private push(): this {
    this.stack.push(this.lastId);
    this.lastId = 0;
    return this;
  }

  private listHeader(id: number, elementType: T, size: number): void {
    this.field(id, T.List);
    if (size < 15) this.out.u8((size << 4) | elementType);
    else {
      this.out.u8(0xf0 | elementType);
      this.out.varint(size);
    }
  }

  private field(id: number, type: T): void {
    const delta = id - this.lastId;
    if (delta > 0 && delta <= 15) this.out.u8((delta << 4) | type);
    else {
      this.out.u8(type);
      this.out.varint(zigzag(id));
    }
    this.lastId = id;
  }
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}
