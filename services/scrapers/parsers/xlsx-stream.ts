/**
 * A small streaming reader for the first worksheet of an .xlsx workbook, built on node:zlib.
 *
 * Why not exceljs: its readers match element names literally (`workbook`, `row`, `c`), so they cannot
 * open workbooks written by the OpenXML SDK with a namespace prefix (`<x:workbook>`, `<x:row>`) —
 * which is what HKEX publishes (exceljs issue #1437; WorkbookReader dies with "Cannot read
 * properties of undefined (reading 'sheets')"). This reader ignores prefixes.
 *
 * Memory: the compressed workbook is held (1.5 MB for the List of Securities); the sheet XML
 * (~20 MB) is inflated and scanned chunk by chunk and never held whole. Shared strings, workbook and
 * relationship parts are small and read at once.
 */
import { Readable } from 'node:stream';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { ErrorCodes } from '../../../contracts/index.ts';
import { fail } from './shared.ts';

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  localOffset: number;
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function notXlsx(why: string, cause?: unknown): never {
  fail(ErrorCodes.ParseLayout, `not a readable .xlsx workbook: ${why}`, undefined, cause);
}

function readCentralDirectory(zip: Uint8Array): Map<string, ZipEntry> {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (u32(zip, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    fail(
      ErrorCodes.ParseTruncated,
      'the .xlsx workbook is cut short (no zip end-of-central-directory record)',
      {
        bytes: zip.length,
      },
    );
  }
  const count = u16(zip, eocd + 10);
  const cdOffset = u32(zip, eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff) notXlsx('zip64 archives are not supported');
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > zip.length || u32(zip, p) !== 0x02014b50) notXlsx('damaged zip central directory');
    const nameLen = u16(zip, p + 28);
    const entry: ZipEntry = {
      flags: u16(zip, p + 8),
      method: u16(zip, p + 10),
      compressedSize: u32(zip, p + 20),
      localOffset: u32(zip, p + 42),
      name: decoder.decode(zip.subarray(p + 46, p + 46 + nameLen)),
    };
    entries.set(entry.name.replace(/^\//, ''), entry);
    p += 46 + nameLen + u16(zip, p + 30) + u16(zip, p + 32);
  }
  return entries;
}

function compressedData(zip: Uint8Array, e: ZipEntry): Uint8Array {
  if (e.flags & 1) notXlsx(`${e.name} is encrypted`);
  if (e.method !== 0 && e.method !== 8) notXlsx(`${e.name} uses unsupported compression method ${e.method}`);
  const p = e.localOffset;
  if (p + 30 > zip.length || u32(zip, p) !== 0x04034b50) notXlsx(`damaged local header for ${e.name}`);
  const start = p + 30 + u16(zip, p + 26) + u16(zip, p + 28);
  const end = start + e.compressedSize;
  if (end > zip.length) {
    fail(ErrorCodes.ParseTruncated, `the .xlsx workbook is cut short inside ${e.name}`, {
      bytes: zip.length,
      needed: end,
    });
  }
  return zip.subarray(start, end);
}

function readEntryText(zip: Uint8Array, e: ZipEntry): string {
  const data = compressedData(zip, e);
  try {
    return new TextDecoder().decode(e.method === 0 ? data : inflateRawSync(data));
  } catch (cause) {
    notXlsx(`${e.name} does not inflate`, cause);
  }
}

async function* streamEntryText(zip: Uint8Array, e: ZipEntry): AsyncGenerator<string> {
  const data = compressedData(zip, e);
  const decoder = new TextDecoder();
  if (e.method === 0) {
    yield decoder.decode(data);
    return;
  }
  const inflate = createInflateRaw();
  const source = Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  source.pipe(inflate);
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      yield decoder.decode(chunk, { stream: true });
    }
  } catch (cause) {
    notXlsx(`${e.name} does not inflate`, cause);
  } finally {
    source.unpipe(inflate);
    inflate.destroy();
  }
  const tail = decoder.decode();
  if (tail) yield tail;
}

// ---------------------------------------------------------------------------------------------
// A minimal, prefix-agnostic XML scanner (enough for SpreadsheetML: elements, attributes, text,
// CDATA, comments, processing instructions).

interface ScanHandler {
  open(name: string, tag: string, selfClosing: boolean): void;
  close(name: string): void;
  /** Raw (still entity-encoded) text; `cdata` text is literal. */
  text(raw: string, cdata: boolean): void;
}

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

class XmlScanner {
  private buf = '';
  constructor(private readonly h: ScanHandler) {}

  feed(chunk: string): void {
    const s = this.buf + chunk;
    let pos = 0;
    for (;;) {
      const lt = s.indexOf('<', pos);
      // Text after the last '<' stays buffered so an entity is never split across chunks.
      if (lt < 0) break;
      if (lt > pos) this.h.text(s.slice(pos, lt), false);
      if (s.startsWith('<!--', lt)) {
        const end = s.indexOf('-->', lt + 4);
        if (end < 0) {
          pos = lt;
          break;
        }
        pos = end + 3;
        continue;
      }
      if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9);
        if (end < 0) {
          pos = lt;
          break;
        }
        this.h.text(s.slice(lt + 9, end), true);
        pos = end + 3;
        continue;
      }
      // Find the closing '>' outside attribute quotes.
      let gt = s.indexOf('>', lt + 1);
      while (gt >= 0 && unbalancedQuotes(s, lt, gt)) gt = s.indexOf('>', gt + 1);
      if (gt < 0) {
        pos = lt;
        break;
      }
      const tag = s.slice(lt + 1, gt);
      pos = gt + 1;
      const first = tag.charCodeAt(0);
      if (first === 63 /* ? */ || first === 33 /* ! */) continue;
      if (first === 47 /* / */) {
        this.h.close(localName(tag.slice(1).trim()));
        continue;
      }
      const selfClosing = tag.charCodeAt(tag.length - 1) === 47;
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const sp = body.search(/\s/);
      const name = localName(sp < 0 ? body : body.slice(0, sp));
      this.h.open(name, body, selfClosing);
      if (selfClosing) this.h.close(name);
    }
    this.buf = s.slice(pos);
  }

  end(): void {
    if (this.buf.trim() !== '') {
      fail(ErrorCodes.ParseTruncated, 'the worksheet XML ends inside a tag; the workbook is cut short');
    }
  }
}

function unbalancedQuotes(s: string, from: number, to: number): boolean {
  let dq = 0;
  let sq = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) dq++;
    else if (c === 39 && dq % 2 === 0) sq++;
  }
  return dq % 2 === 1 || sq % 2 === 1;
}

const ENTITY_RE = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);|_x([0-9A-Fa-f]{4})_/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes XML entities and Excel's `_xHHHH_` escapes. */
function decodeXml(raw: string): string {
  if (raw.indexOf('&') < 0 && raw.indexOf('_x') < 0) return raw;
  return raw.replace(ENTITY_RE, (all, ent: string | undefined, hex: string | undefined) => {
    if (hex !== undefined) return String.fromCharCode(Number.parseInt(hex, 16));
    if (ent === undefined) return all;
    if (ent.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(Number.parseInt(ent.slice(1), 10));
    return NAMED[ent] ?? all;
  });
}

const ATTR_RES = new Map<string, RegExp>();

function attr(tag: string, name: string): string | undefined {
  // Matches `name="…"` or `prefix:name="…"` (e.g. `r:id`, `relationships:id`).
  let re = ATTR_RES.get(name);
  if (re === undefined) {
    re = new RegExp(`(?:^|\\s)(?:[\\w.-]+:)?${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`);
    ATTR_RES.set(name, re);
  }
  const m = re.exec(tag);
  return m ? decodeXml(m[1] ?? m[2] ?? '') : undefined;
}

function columnIndex(ref: string): number {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c < 65 || c > 90) break;
    n = n * 26 + (c - 64);
  }
  return n - 1;
}

function parseSharedStrings(xml: string): string[] {
  const out: string[] = [];
  let cur: string | null = null;
  let capture = false;
  let phonetic = 0;
  const scanner = new XmlScanner({
    open(name) {
      if (name === 'si') cur = '';
      else if (name === 'rPh') phonetic++;
      else if (name === 't' && cur !== null && phonetic === 0) capture = true;
    },
    close(name) {
      if (name === 'si' && cur !== null) {
        out.push(cur);
        cur = null;
      } else if (name === 'rPh') phonetic--;
      else if (name === 't') capture = false;
    },
    text(raw, cdata) {
      if (capture && cur !== null) cur += cdata ? raw : decodeXml(raw);
    },
  });
  scanner.feed(xml);
  return out;
}

function firstSheetPath(zip: Uint8Array, entries: Map<string, ZipEntry>): string {
  const wb = entries.get('xl/workbook.xml');
  const rels = entries.get('xl/_rels/workbook.xml.rels');
  if (wb && rels) {
    const sheetTag = /<(?:[\w.-]+:)?sheet\s[^>]*>/.exec(readEntryText(zip, wb))?.[0];
    const rid = sheetTag ? attr(sheetTag, 'id') : undefined;
    if (rid) {
      for (const m of readEntryText(zip, rels).matchAll(/<(?:[\w.-]+:)?Relationship\s[^>]*>/g)) {
        if (attr(m[0], 'Id') === rid) {
          const target = attr(m[0], 'Target') ?? '';
          const path = target.startsWith('/') ? target.slice(1) : `xl/${target}`;
          const normalized = path.replace(/[^/]+\/\.\.\//g, '');
          if (entries.has(normalized)) return normalized;
        }
      }
    }
  }
  const sheets = [...entries.keys()].filter((k) => /^xl\/worksheets\/[^/]+\.xml$/.test(k)).sort();
  if (sheets.length === 0) notXlsx('the workbook has no worksheet');
  return sheets[0]!;
}

/** One worksheet row: `cells[i]` is column i's value as text (`undefined` for an absent cell). */
export interface XlsxRow {
  /** 1-based row number. */
  number: number;
  cells: (string | undefined)[];
}

/** Collects a byte stream into one buffer (the compressed workbook; the sheet XML itself is streamed). */
export async function collectBytes(input: Uint8Array | NodeJS.ReadableStream): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  const parts: Uint8Array[] = [];
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  }
  return Buffer.concat(parts);
}

/** True when the bytes start like a zip archive (`PK\x03\x04`). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && u32(bytes, 0) === 0x04034b50;
}

/**
 * Yields the rows of the workbook's first worksheet in order, values as text: shared strings
 * resolved, inline strings (`<is>`) joined, formula strings (`t="str"`) and numbers as written,
 * booleans as TRUE/FALSE. Element namespace prefixes are ignored.
 */
export async function* readFirstSheetRows(zip: Uint8Array): AsyncGenerator<XlsxRow> {
  if (!looksLikeZip(zip)) notXlsx('it does not start with a zip header');
  const entries = readCentralDirectory(zip);
  const sst = entries.get('xl/sharedStrings.xml');
  const shared = sst ? parseSharedStrings(readEntryText(zip, sst)) : [];
  const sheetPath = firstSheetPath(zip, entries);

  const ready: XlsxRow[] = [];
  let rowNumber = 0;
  let cells: (string | undefined)[] = [];
  let inRow = false;
  let col = -1;
  let nextCol = 0;
  let type = '';
  let value = '';
  let inCell = false;
  let inInline = false;
  let phonetic = 0;
  let capture = false;

  const scanner = new XmlScanner({
    open(name, tag) {
      switch (name) {
        case 'row': {
          const r = attr(tag, 'r');
          rowNumber = r ? Number(r) : rowNumber + 1;
          cells = [];
          nextCol = 0;
          inRow = true;
          break;
        }
        case 'c': {
          const r = attr(tag, 'r');
          col = r ? columnIndex(r) : nextCol;
          nextCol = col + 1;
          type = attr(tag, 't') ?? '';
          value = '';
          inCell = true;
          break;
        }
        case 'v':
          if (inCell) capture = true;
          break;
        case 'is':
          if (inCell) inInline = true;
          break;
        case 'rPh':
          phonetic++;
          break;
        case 't':
          if (inInline && phonetic === 0) capture = true;
          break;
      }
    },
    close(name) {
      switch (name) {
        case 'v':
        case 't':
          capture = false;
          break;
        case 'rPh':
          phonetic--;
          break;
        case 'is':
          inInline = false;
          break;
        case 'c': {
          if (!inCell) break;
          inCell = false;
          let text: string | undefined = value;
          if (type === 's') {
            const idx = Number(value.trim());
            text = value.trim() === '' ? undefined : shared[idx];
            if (value.trim() !== '' && text === undefined) {
              notXlsx(`cell in row ${rowNumber} points at missing shared string ${value.trim()}`);
            }
          } else if (type === 'b') {
            text = value.trim() === '1' ? 'TRUE' : value.trim() === '0' ? 'FALSE' : value;
          }
          if (col >= 0) cells[col] = text;
          break;
        }
        case 'row':
          if (inRow) ready.push({ number: rowNumber, cells });
          inRow = false;
          break;
      }
    },
    text(raw, cdata) {
      if (capture) value += cdata ? raw : decodeXml(raw);
    },
  });

  const sheet = entries.get(sheetPath)!;
  for await (const chunk of streamEntryText(zip, sheet)) {
    scanner.feed(chunk);
    if (ready.length > 0) yield* ready.splice(0);
  }
  scanner.end();
  if (ready.length > 0) yield* ready.splice(0);
}
