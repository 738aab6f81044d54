import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dataset, rowSchemas, rowValidators } from '../../contracts/datasets.ts';
import { ErrorCodes, isHarbourError } from '../../contracts/errors.ts';
import { DUCK_TYPES } from '../../test/support/reference-transform.ts';
import {
  columnsFor,
  createParquetWriter,
  datasetColumns,
  iterateParquetRowGroups,
  META_COLUMNS,
  openParquetFile,
  type ParquetColumn,
  type ParquetRow,
  type ParquetWriterOptions,
  readParquetInfo,
  readParquetRows,
} from './index.ts';

// ---------------------------------------------------------------- fixtures

const fixtures: { [D in Dataset]: ParquetRow[] } = {
  securities: [
    {
      code: '00700',
      name: 'TENCENT',
      category: 'Equity',
      sub_category: 'Equity Securities (Main Board)',
      board_lot: 100,
      isin: 'KYG875721634',
      currency: 'HKD',
    },
    {
      code: '04333',
      name: '騰訊控股 – “quoted”, emoji 🚢 and a long name past sixteen bytes',
      category: 'Debt Securities',
      sub_category: null,
      board_lot: null,
      isin: null,
      currency: null,
    },
    { code: '99999', name: 'X', category: '', sub_category: '', board_lot: 0, isin: '', currency: 'RMB' },
  ],
  quotes: [
    {
      code: '00005',
      trade_date: '2026-05-12',
      board: 'main',
      name: 'HSBC HOLDINGS',
      currency: 'HKD',
      status: 'traded',
      flags: '*#',
      prev_close: 98.35,
      open: null,
      high: 99.1,
      low: 0.1 + 0.2,
      close: 98.95,
      ask: 98.95,
      bid: 98.9,
      volume: 2 ** 53 - 1,
      turnover: 1_234_567_890.125,
    },
    {
      code: '08001',
      trade_date: '1999-12-31',
      board: 'main',
      name: 'ORIENT SEC',
      currency: null,
      status: 'suspended',
      flags: '',
      prev_close: null,
      open: null,
      high: null,
      low: null,
      close: null,
      ask: null,
      bid: null,
      volume: null,
      turnover: null,
    },
    {
      code: '02800',
      trade_date: '2026-02-28',
      board: 'gem',
      name: 'TRACKER FUND',
      currency: 'HKD',
      status: 'no_trade',
      flags: '#',
      prev_close: 1e-9,
      open: null,
      high: 1.7976931348623157e308,
      low: 5e-324,
      close: -0.5,
      ask: 25.45,
      bid: null,
      volume: 0,
      turnover: 0,
    },
  ],
  fundamentals: [
    {
      code: '00700',
      as_of: '2026-05-12',
      last: 480.2,
      prev_close: 478,
      open: 479.4,
      high: 482,
      low: 476.6,
      volume: 18_234_000,
      turnover: 8_750_000_000,
      eps: -1.234,
      eps_currency: 'RMB',
      pe: null,
      dividend_yield: 0.0071,
      market_cap: 4.41e12,
      issued_shares: 9_189_000_000,
    },
    {
      code: '00001',
      as_of: '2026-05-12',
      last: null,
      prev_close: null,
      open: null,
      high: null,
      low: null,
      volume: null,
      turnover: null,
      eps: null,
      eps_currency: null,
      pe: null,
      dividend_yield: null,
      market_cap: null,
      issued_shares: null,
    },
  ],
  ccass: [
    {
      code: '00700',
      holding_date: '2026-05-12',
      row_type: 'participant',
      participant_id: 'C00019',
      participant_name: 'THE HONGKONG AND SHANGHAI BANKING CORPORATION LIMITED',
      address: 'HSBC WEALTH BUSINESS SERVICES 8/F TOWER 2 & 3 HSBC CENTRE 1 SHAM MONG ROAD KOWLOON',
      shareholding: 1_234_567_890,
      pct_issued: 13.43,
      participants: null,
    },
    {
      code: '00700',
      holding_date: '2026-05-12',
      row_type: 'participant',
      participant_id: null,
      participant_name: 'CONSENTING INVESTOR PARTICIPANT',
      address: null,
      shareholding: 0,
      pct_issued: null,
      participants: null,
    },
    {
      code: '00700',
      holding_date: '2026-05-12',
      row_type: 'total',
      participant_id: null,
      participant_name: null,
      address: null,
      shareholding: 6_543_210_000,
      pct_issued: 71.2,
      participants: 845,
    },
    {
      code: '00700',
      holding_date: '2026-05-12',
      row_type: 'issued_shares',
      participant_id: null,
      participant_name: null,
      address: null,
      shareholding: 9_189_000_000,
      pct_issued: null,
      participants: null,
    },
  ],
};

const AS_OF = '2026-05-12';
const FETCHED_AT = '2026-05-12T08:30:00.123+08:00';
const FETCHED_AT_UTC = '2026-05-12T00:30:00.123Z';

function withMeta(rows: ParquetRow[]): ParquetRow[] {
  return rows.map((row, i) => ({
    ...row,
    _seq: 1000 + i,
    _key: String(row['code']),
    _as_of: AS_OF,
    _fetched_at: FETCHED_AT,
    _run_id: 'run-01J0ABCDEF',
    _source_url: `https://www.hkexnews.hk/sdw/search/searchsdw.aspx?code=${String(row['code'])}`,
  }));
}

/** What readers give back: the written rows, with the instant normalised to UTC `…Z`. */
function expectedRows(rows: ParquetRow[]): ParquetRow[] {
  return withMeta(rows).map((row) => ({ ...row, _fetched_at: FETCHED_AT_UTC }));
}

// ---------------------------------------------------------------- helpers

interface Written {
  bytes: Uint8Array;
  chunks: Uint8Array[];
  result: { rows: number; bytes: number; rowGroups: number };
}

async function writeRows(
  columns: ParquetColumn[],
  rows: ParquetRow[],
  opts?: ParquetWriterOptions,
): Promise<Written> {
  const chunks: Uint8Array[] = [];
  const writer = createParquetWriter(columns, (chunk) => void chunks.push(chunk), opts);
  await writer.appendBatch(rows);
  const result = await writer.finish();
  return { bytes: Buffer.concat(chunks), chunks, result };
}

let dir: string;
let duck: DuckDBInstance;
let fileNo = 0;

function toFile(bytes: Uint8Array): string {
  const path = join(dir, `f${fileNo++}.parquet`);
  writeFileSync(path, bytes);
  return path;
}

async function duckQuery(sql: string): Promise<Record<string, unknown>[]> {
  const conn = await duck.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
  }
}

/** DuckDB gives DATE/TIMESTAMPTZ as Date and BIGINT as bigint: bring them to the writer's input forms. */
async function duckRows(path: string, columns: ParquetColumn[]): Promise<ParquetRow[]> {
  const rows = await duckQuery(`SELECT * FROM read_parquet('${path}') ORDER BY _seq`);
  const types = new Map(columns.map((c) => [c.name, c.type]));
  return rows.map((row) => {
    const out: ParquetRow = {};
    for (const [name, v] of Object.entries(row)) {
      if (v instanceof Date)
        out[name] = types.get(name) === 'date' ? v.toISOString().slice(0, 10) : v.toISOString();
      else if (typeof v === 'bigint') out[name] = Number(v);
      else out[name] = v;
    }
    return out;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'harbour-parquet-'));
  duck = await DuckDBInstance.create(':memory:');
});

afterAll(() => {
  duck?.closeSync();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- columns

describe('columnsFor', () => {
  it('derives the CCASS columns and appends the meta columns', () => {
    expect(columnsFor(rowSchemas.ccass)).toEqual([
      { name: 'code', type: 'string', nullable: false },
      { name: 'holding_date', type: 'date', nullable: false },
      { name: 'row_type', type: 'string', nullable: false },
      { name: 'participant_id', type: 'string', nullable: true },
      { name: 'participant_name', type: 'string', nullable: true },
      { name: 'address', type: 'string', nullable: true },
      { name: 'shareholding', type: 'double', nullable: false },
      { name: 'pct_issued', type: 'double', nullable: true },
      { name: 'participants', type: 'int64', nullable: true },
      { name: '_seq', type: 'int64', nullable: false },
      { name: '_key', type: 'string', nullable: false },
      { name: '_as_of', type: 'date', nullable: false },
      { name: '_fetched_at', type: 'timestamp', nullable: false },
      { name: '_run_id', type: 'string', nullable: false },
      { name: '_source_url', type: 'string', nullable: false },
    ]);
  });

  it('maps the other datasets', () => {
    const byName = (ds: Dataset) =>
      Object.fromEntries(
        datasetColumns(ds, { meta: false }).map((c) => [c.name, `${c.type}${c.nullable ? '?' : ''}`]),
      );
    expect(byName('securities')).toEqual({
      code: 'string',
      name: 'string',
      category: 'string',
      sub_category: 'string?',
      board_lot: 'int64?',
      isin: 'string?',
      currency: 'string?',
    });
    expect(byName('quotes')).toMatchObject({
      trade_date: 'date',
      board: 'string',
      status: 'string',
      flags: 'string',
      volume: 'double?',
    });
    expect(byName('fundamentals')).toMatchObject({
      as_of: 'date',
      eps_currency: 'string?',
      market_cap: 'double?',
    });
  });

  it('handles bounded integers, booleans, instants, optional properties and rejects what it cannot store', () => {
    const schema = Type.Object({
      small: Type.Integer({ minimum: 0, maximum: 1000 }),
      flag: Type.Boolean(),
      at: Type.String({ format: 'date-time' }),
      maybe: Type.Optional(Type.Number()),
      mixed: Type.Union([Type.Integer(), Type.Number(), Type.Null()]),
    });
    expect(columnsFor(schema, { meta: false })).toEqual([
      { name: 'small', type: 'int32', nullable: false },
      { name: 'flag', type: 'boolean', nullable: false },
      { name: 'at', type: 'timestamp', nullable: false },
      { name: 'maybe', type: 'double', nullable: true },
      { name: 'mixed', type: 'double', nullable: true },
    ]);
    expect(() => columnsFor(Type.Object({ xs: Type.Array(Type.String()) }))).toThrow(/unsupported/);
    expect(() => columnsFor(Type.Object({ v: Type.Union([Type.String(), Type.Number()]) }))).toThrow(/mixes/);
    expect(() => columnsFor(Type.Object({ _seq: Type.Number() }))).toThrow(/collides/);
    expect(META_COLUMNS.map((c) => c.name)).toEqual([
      '_seq',
      '_key',
      '_as_of',
      '_fetched_at',
      '_run_id',
      '_source_url',
    ]);
  });
});

// ---------------------------------------------------------------- round trips

describe('round trip per dataset', () => {
  for (const dataset of ['securities', 'quotes', 'fundamentals', 'ccass'] as const) {
    it(`${dataset}: hyparquet and DuckDB read back exactly what was written`, async () => {
      const rows = fixtures[dataset];
      for (const row of rows) expect(rowValidators[dataset].check(row)).toBe(true);
      const columns = datasetColumns(dataset);
      // rowGroupRows 2 → several row groups, some with a column entirely null.
      const { bytes, result } = await writeRows(columns, withMeta(rows), {
        rowGroupRows: 2,
        kvMetadata: { 'harbour.dataset': dataset, 'harbour.schema_version': '1' },
      });
      expect(result).toEqual({
        rows: rows.length,
        bytes: bytes.byteLength,
        rowGroups: Math.ceil(rows.length / 2),
      });

      const expected = expectedRows(rows);
      expect(await readParquetRows(bytes)).toEqual(expected);

      const path = toFile(bytes);
      expect(await duckRows(path, columns)).toEqual(expected);

      const described = await duckQuery(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
      expect(described.map((d) => [d['column_name'], d['column_type']])).toEqual(
        columns.map((c) => [c.name, DUCK_TYPES[c.type]]),
      );
      const kv = await duckQuery(
        `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${path}') ORDER BY k`,
      );
      expect(kv).toEqual([
        { k: 'harbour.dataset', v: dataset },
        { k: 'harbour.schema_version', v: '1' },
      ]);

      const info = await readParquetInfo(bytes);
      expect(info.columns).toEqual(columns);
      expect(info.rows).toBe(rows.length);
      expect(info.kvMetadata['harbour.dataset']).toBe(dataset);
    });
  }

  it('keeps every value exact through DuckDB aggregates (nulls counted, not zeroed)', async () => {
    const columns = datasetColumns('quotes');
    const { bytes } = await writeRows(columns, withMeta(fixtures.quotes));
    const path = toFile(bytes);
    const [agg] = await duckQuery(
      `SELECT count(*) AS n, count(open) AS opens, count(volume) AS volumes, max(volume) AS vmax,
              min(trade_date)::VARCHAR AS dmin, max(_fetched_at) = TIMESTAMPTZ '${FETCHED_AT}' AS same_instant
       FROM read_parquet('${path}')`,
    );
    expect(agg).toEqual({
      n: 3n,
      opens: 0n,
      volumes: 2n,
      vmax: 2 ** 53 - 1,
      dmin: '1999-12-31',
      same_instant: true,
    });
  });

  it('UNCOMPRESSED files read the same and are larger on repetitive data', async () => {
    const columns = datasetColumns('ccass');
    const many = withMeta(Array.from({ length: 500 }, (_, i) => ({ ...fixtures.ccass[i % 4]! })));
    const snappy = await writeRows(columns, many, { codec: 'SNAPPY' });
    const plain = await writeRows(columns, many, { codec: 'UNCOMPRESSED' });
    expect(await readParquetRows(plain.bytes)).toEqual(await readParquetRows(snappy.bytes));
    expect(plain.bytes.byteLength).toBeGreaterThan(snappy.bytes.byteLength);
    expect(await duckQuery(`SELECT count(*) AS n FROM read_parquet('${toFile(plain.bytes)}')`)).toEqual([
      { n: 500n },
    ]);
  });

  it('int64 beyond 2^53 round-trips as bigint and refuses to become a lossy number', async () => {
    const columns: ParquetColumn[] = [{ name: '_seq', type: 'int64', nullable: false }];
    const { bytes } = await writeRows(columns, [{ _seq: 2n ** 62n }, { _seq: 7 }]);
    expect(await readParquetRows(bytes, { int64: 'bigint' })).toEqual([{ _seq: 2n ** 62n }, { _seq: 7n }]);
    await expect(readParquetRows(bytes)).rejects.toThrow(RangeError);
    const [row] = await duckQuery(`SELECT max(_seq)::VARCHAR AS m FROM read_parquet('${toFile(bytes)}')`);
    expect(row).toEqual({ m: String(2n ** 62n) });
  });

  it('int32 and boolean columns, Date inputs and a column subset', async () => {
    const columns: ParquetColumn[] = [
      { name: 'i', type: 'int32', nullable: true },
      { name: 'b', type: 'boolean', nullable: true },
      { name: 'd', type: 'date', nullable: false },
      { name: 't', type: 'timestamp', nullable: true },
    ];
    const { bytes } = await writeRows(columns, [
      { i: -(2 ** 31), b: true, d: new Date('2026-01-02T00:00:00Z'), t: new Date(0) },
      { i: null, b: null, d: 20_000, t: null },
      { i: 2 ** 31 - 1, b: false, d: '2024-02-29', t: 1_700_000_000_123 },
    ]);
    expect(await readParquetRows(bytes)).toEqual([
      { i: -(2 ** 31), b: true, d: '2026-01-02', t: '1970-01-01T00:00:00.000Z' },
      { i: null, b: null, d: '2024-10-04', t: null },
      { i: 2 ** 31 - 1, b: false, d: '2024-02-29', t: '2023-11-14T22:13:20.123Z' },
    ]);
    expect(await readParquetRows(bytes, { columns: ['d'] })).toEqual([
      { d: '2026-01-02' },
      { d: '2024-10-04' },
      { d: '2024-02-29' },
    ]);
    const duckTypes = await duckQuery(`DESCRIBE SELECT * FROM read_parquet('${toFile(bytes)}')`);
    expect(duckTypes.map((d) => d['column_type'])).toEqual([
      'INTEGER',
      'BOOLEAN',
      'DATE',
      'TIMESTAMP WITH TIME ZONE',
    ]);
  });
});

// ---------------------------------------------------------------- streaming behaviour

describe('streaming', () => {
  const columns = datasetColumns('ccass');
  const manyRows = (n: number) =>
    withMeta(Array.from({ length: n }, (_, i) => ({ ...fixtures.ccass[i % 4]! })));

  it('hands each full row group to the sink before finish, footer last', async () => {
    const chunks: Uint8Array[] = [];
    const writer = createParquetWriter(columns, (c) => void chunks.push(c), { rowGroupRows: 100 });
    const rows = manyRows(250);
    for (let i = 0; i < 100; i++) {
      const full = writer.append(rows[i]!);
      expect(full).toBe(i === 99);
    }
    expect(chunks).toHaveLength(0);
    expect(() => writer.append(rows[100]!)).toThrow(/await flush/);
    await writer.flush();
    expect(chunks).toHaveLength(1);
    expect(Buffer.from(chunks[0]!.subarray(0, 4)).toString()).toBe('PAR1');
    expect(writer.bytesWritten).toBe(chunks[0]!.byteLength);
    expect(writer.rowGroups).toBe(1);

    await writer.appendBatch(rows.slice(100));
    expect(chunks).toHaveLength(2); // second group flushed, 50 rows buffered
    expect(writer.bufferedRows).toBe(50);
    expect(writer.rows).toBe(250);
    const before = writer.bytesWritten;
    expect(before).toBeGreaterThan(0);

    const result = await writer.finish();
    expect(chunks).toHaveLength(4); // + last partial group + footer
    const bytes = Buffer.concat(chunks);
    expect(bytes.subarray(-4).toString()).toBe('PAR1');
    expect(result).toEqual({ rows: 250, bytes: bytes.byteLength, rowGroups: 3 });

    const info = await readParquetInfo(bytes);
    expect(info.rowGroups).toEqual([100, 100, 50]);
    const groups: number[] = [];
    for await (const group of iterateParquetRowGroups(bytes)) groups.push(group.length);
    expect(groups).toEqual([100, 100, 50]);
    const expected = rows.map((r) => ({ ...r, _fetched_at: FETCHED_AT_UTC }));
    expect(await readParquetRows(bytes)).toEqual(expected);

    const path = toFile(bytes);
    expect(await readParquetRows(await openParquetFile(path))).toEqual(expected);
    const [meta] = await duckQuery(
      `SELECT count(DISTINCT row_group_id) AS groups, sum(row_group_num_rows) FILTER (WHERE column_id = 0) AS n
       FROM parquet_metadata('${path}')`,
    );
    expect(meta).toEqual({ groups: 3n, n: 250n });
    expect(await duckRows(path, columns)).toEqual(expected);
  });

  it('waits for a slow async sink and never calls it concurrently', async () => {
    let active = 0;
    let maxActive = 0;
    const chunks: Uint8Array[] = [];
    const sink = async (chunk: Uint8Array) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 5));
      chunks.push(chunk);
      active--;
    };
    const writer = createParquetWriter(columns, sink, { rowGroupRows: 10 });
    await writer.appendBatch(manyRows(45));
    expect(chunks).toHaveLength(4);
    const result = await writer.finish();
    expect(maxActive).toBe(1);
    expect(chunks).toHaveLength(6);
    expect(result.rowGroups).toBe(5);
    expect(await readParquetRows(Buffer.concat(chunks))).toHaveLength(45);
  });

  it('a failing sink fails the writer for good', async () => {
    const writer = createParquetWriter(
      columns,
      async () => {
        throw new Error('object store down');
      },
      { rowGroupRows: 2 },
    );
    await expect(writer.appendBatch(manyRows(3))).rejects.toThrow('object store down');
    expect(() => writer.append(manyRows(1)[0]!)).toThrow(/failed earlier/);
    await expect(writer.finish()).rejects.toThrow(/failed earlier/);
  });
});

// ---------------------------------------------------------------- edge cases

describe('edge cases', () => {
  const columns = datasetColumns('ccass');

  it('refuses to finish an empty file by default and never touches the sink', async () => {
    const chunks: Uint8Array[] = [];
    const writer = createParquetWriter(columns, (c) => void chunks.push(c));
    await expect(writer.finish()).rejects.toThrow(/0 rows/);
    expect(chunks).toHaveLength(0);
  });

  it('with allowEmpty writes a valid zero-row file that keeps the schema', async () => {
    const { bytes, result } = await writeRows(columns, [], { allowEmpty: true });
    expect(result).toEqual({ rows: 0, bytes: bytes.byteLength, rowGroups: 0 });
    expect(await readParquetRows(bytes)).toEqual([]);
    expect((await readParquetInfo(bytes)).columns).toEqual(columns);
    const path = toFile(bytes);
    expect(await duckQuery(`SELECT count(*) AS n FROM read_parquet('${path}')`)).toEqual([{ n: 0n }]);
    const described = await duckQuery(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
    expect(described.map((d) => d['column_name'])).toEqual(columns.map((c) => c.name));
  });

  it('rejects values that do not fit their column without appending the row', () => {
    const writer = createParquetWriter(columns, () => {});
    const good = withMeta([fixtures.ccass[0]!])[0]!;
    const bad: [string, unknown][] = [
      ['shareholding', '1234'],
      ['code', null],
      ['holding_date', '2026-02-30'],
      ['holding_date', '2026/05/12'],
      ['_fetched_at', '2026-05-12T08:30:00'], // no zone
      ['_seq', 2 ** 53],
      ['_seq', 1.5],
      ['participants', Number.NaN],
    ];
    for (const [column, value] of bad) {
      let err: unknown;
      try {
        writer.append({ ...good, [column]: value });
      } catch (e) {
        err = e;
      }
      expect(isHarbourError(err, ErrorCodes.SchemaInvalid), `${column}=${String(value)}`).toBe(true);
      expect((err as { detail: unknown }).detail).toEqual({ column, row: 0 });
    }
    expect(writer.rows).toBe(0);
    writer.append(good);
    expect(writer.rows).toBe(1);
  });

  it('rejects bad options and schemas', () => {
    expect(() => createParquetWriter(columns, () => {}, { rowGroupRows: 0 })).toThrow(RangeError);
    expect(() => createParquetWriter([], () => {})).toThrow(/at least one column/);
    expect(() =>
      createParquetWriter(
        [
          { name: 'a', type: 'string', nullable: false },
          { name: 'a', type: 'double', nullable: false },
        ],
        () => {},
      ),
    ).toThrow(/duplicate/);
  });

  it('cannot be used after finish', async () => {
    const writer = createParquetWriter(columns, () => {});
    writer.append(withMeta([fixtures.ccass[0]!])[0]!);
    await writer.finish();
    expect(() => writer.append({})).toThrow(/finished/);
  });
});

describe('encoding', () => {
  const columns: ParquetColumn[] = [
    { name: '_seq', type: 'int64', nullable: false },
    { name: 'few', type: 'string', nullable: true },
    { name: 'unique', type: 'string', nullable: false },
    { name: 'x', type: 'double', nullable: true },
    { name: 'flag', type: 'boolean', nullable: true },
  ];
  const FEW = ['HSBC', '滙豐', 'Ω', ''];
  const rows: ParquetRow[] = Array.from({ length: 12_345 }, (_, i) => ({
    _seq: i,
    few: i % 3 === 0 ? null : FEW[i % FEW.length]!,
    unique: `participant ${i} – ${'x'.repeat(i % 50)}`,
    x: i % 7 === 0 ? null : i / 8,
    flag: i % 5 === 0 ? null : i % 2 === 0,
  }));

  it('splits row groups into many pages, dictionary-encodes low-cardinality strings and falls back to PLAIN for unique ones', async () => {
    const { bytes } = await writeRows(columns, rows, { rowGroupRows: 5000, pageSize: 4096 });
    expect(await readParquetRows(bytes)).toEqual(rows);
    const path = toFile(bytes);
    expect(await duckRows(path, columns)).toEqual(rows);
    const meta = await duckQuery(
      `SELECT row_group_id AS g, path_in_schema AS col, encodings, num_values AS n, total_compressed_size AS size
       FROM parquet_metadata('${path}') ORDER BY g, column_id`,
    );
    expect(meta.filter((m) => m['col'] === 'few').map((m) => m['encodings'])).toEqual(
      Array(3).fill('PLAIN, RLE, RLE_DICTIONARY'),
    );
    expect(meta.filter((m) => m['col'] === 'unique').map((m) => m['encodings'])).toEqual(
      Array(3).fill('PLAIN, RLE'),
    );
    expect(meta.filter((m) => m['col'] === '_seq').map((m) => m['n'])).toEqual([5000n, 5000n, 2345n]);
    // ~150 KiB of unique strings per row group in 4 KiB pages: the chunk cannot be one page.
    const [uniqueChunk] = meta.filter((m) => m['col'] === 'unique');
    expect(Number(uniqueChunk!['size'])).toBeGreaterThan(4096 * 4);
    const [agg] = await duckQuery(
      `SELECT count(*) AS n, count(few) AS few, count(DISTINCT "unique") AS uniq, sum(x) AS x,
              count(*) FILTER (WHERE flag) AS t, count(flag) AS flags
       FROM read_parquet('${path}')`,
    );
    const nonNull = <K extends string>(k: K) => rows.filter((r) => r[k] !== null);
    expect(agg).toEqual({
      n: 12_345n,
      few: BigInt(nonNull('few').length),
      uniq: 12_345n,
      x: nonNull('x').reduce((s, r) => s + (r['x'] as number), 0),
      t: BigInt(rows.filter((r) => r['flag'] === true).length),
      flags: BigInt(nonNull('flag').length),
    });
  });

  it('writes min/max/null-count statistics readers prune on, strings in code point order', async () => {
    const stats: ParquetColumn[] = [
      { name: 's', type: 'string', nullable: true },
      { name: 'd', type: 'double', nullable: true },
      { name: 'i', type: 'int64', nullable: false },
      { name: 'day', type: 'date', nullable: false },
    ];
    const writer = createParquetWriter(stats, () => {});
    const input: ParquetRow[] = [
      { s: 'b', d: Number.NaN, i: -(2 ** 40), day: '2026-05-04' },
      // U+FFFD sorts below 🚢 (U+1F6A2) in code points, above it in UTF-16 units.
      { s: '\uFFFD', d: -0, i: 7, day: '1999-12-31' },
      { s: '🚢', d: 2.5, i: 2n ** 62n, day: '2026-05-05' },
      { s: null, d: null, i: 0, day: '2026-01-01' },
    ];
    for (const row of input) writer.append(row);
    // A rejected row takes its new dictionary entry back: 'zzz' must not become the max.
    expect(() => writer.append({ s: 'zzz', d: 1, i: 1.5, day: '2026-01-01' })).toThrow(/column i/);
    const chunks: Uint8Array[] = [];
    const sink = createParquetWriter(stats, (c) => void chunks.push(c));
    for (const row of input) sink.append(row);
    expect(() => sink.append({ s: 'zzz', d: 1, i: 1.5, day: '2026-01-01' })).toThrow(/column i/);
    await sink.finish();
    const path = toFile(Buffer.concat(chunks));
    const meta = await duckQuery(
      `SELECT path_in_schema AS col, stats_min_value AS min, stats_max_value AS max, stats_null_count AS nulls
       FROM parquet_metadata('${path}') ORDER BY column_id`,
    );
    expect(meta).toEqual([
      { col: 's', min: 'b', max: '🚢', nulls: 1n },
      { col: 'd', min: '-0.0', max: '2.5', nulls: 1n },
      { col: 'i', min: String(-(2 ** 40)), max: String(2n ** 62n), nulls: 0n },
      { col: 'day', min: '1999-12-31', max: '2026-05-05', nulls: 0n },
    ]);
    // DuckDB prunes with them and still answers exactly.
    expect(await duckQuery(`SELECT count(*) AS n FROM read_parquet('${path}') WHERE s > '\uFFFD'`)).toEqual([
      { n: 1n },
    ]);
  });
});

describe('shared values', () => {
  it('completes each row from `shared` (nulls included, row values overridden) and validates them like row values', async () => {
    const columns: ParquetColumn[] = [
      { name: 'v', type: 'double', nullable: false },
      { name: '_seq', type: 'int64', nullable: false },
      { name: 'note', type: 'string', nullable: true },
    ];
    const chunks: Uint8Array[] = [];
    const writer = createParquetWriter(columns, (c) => void chunks.push(c));
    await writer.appendBatch([{ v: 1 }, { v: 2, _seq: 99, note: 'row' }], { _seq: 7, note: null });
    writer.append({ v: 3 }, { _seq: 8, note: 'x' });
    expect(() => writer.append({ v: 4 }, { _seq: 'eight' })).toThrow(/column _seq is not a valid int64/);
    await writer.finish();
    const path = toFile(Buffer.concat(chunks));
    expect(await readParquetRows(Buffer.concat(chunks))).toEqual([
      { v: 1, _seq: 7, note: null },
      { v: 2, _seq: 7, note: null },
      { v: 3, _seq: 8, note: 'x' },
    ]);
    expect(await duckQuery(`SELECT sum(_seq) AS s, count(note) AS n FROM read_parquet('${path}')`)).toEqual([
      { s: 22n, n: 1n },
    ]);
  });
});
