/**
 * Parquet writer benchmark: the same batch of realistic CCASS lake rows (row columns + compactor meta
 * columns) written by each candidate, each in its own child process so peak RSS is per candidate.
 *
 *   npx tsx test/bench/parquet-writer.bench.ts [--rows 1000000] [--row-group 100000] [--batch 10000]
 *       [--repeat 1] [--only name,name] [--rss-scaling 250000,2000000] [--no-results] [--keep]
 *
 * The parent generates the rows once (deterministic PRNG) into an NDJSON file, the form rows arrive in
 * from JetStream. Every JS candidate streams that file in batches of `--batch` parsed rows, so memory
 * never holds the whole input: "write" time counts only the writer calls (row conversion, encoding,
 * compression, file I/O), "end-to-end" adds reading and JSON-parsing the input. The DuckDB candidates
 * read the NDJSON natively (`COPY (SELECT … FROM read_json(…)) TO … (FORMAT parquet)`), so only their
 * end-to-end time exists. Every output file is then checked with DuckDB (row count and column
 * aggregates must match the input) and its row groups counted with hyparquet.
 * `--rss-scaling` also runs the read-only control and harbour-snappy at other row counts, to show
 * that the streaming writer's peak RSS does not grow with the file.
 *
 * Results go to test/bench/RESULTS.md between the markers of this benchmark, leaving other sections alone.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { SchemaElement } from 'hyparquet-writer';
import { datasetColumns, type ParquetColumn } from '../../services/parquet/columns.ts';
import { readParquetInfo } from '../../services/parquet/reader.ts';
import { createParquetWriter, type ParquetCodec, type ParquetRow } from '../../services/parquet/writer.ts';
import { mulberry32 } from '../support/market.ts';
import { DUCK_TYPES } from '../support/reference-transform.ts';
import * as flag from './flags.ts';
import { markdownTable, runJsonChild, sectionHead, vmHwm, writeResultsSection } from './results.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const COLUMNS = datasetColumns('ccass');
const loadStart = os.loadavg()[0]!;

// ------------------------------------------------------------------ candidates

interface Candidate {
  name: string;
  description: string;
  /** Streams the NDJSON through a JS writer (false: the engine reads the NDJSON itself). */
  js: boolean;
  /** No output file: the read+parse floor. */
  control?: boolean;
}

const CANDIDATES: Candidate[] = [
  {
    name: 'read-only',
    description: 'control: stream + JSON.parse the input, write nothing',
    js: true,
    control: true,
  },
  {
    name: 'parquetjs-lite',
    description: 'parquetjs-lite 0.8.7, SNAPPY, appendRow per row (design baseline)',
    js: true,
  },
  {
    name: 'hyparquet-writer',
    description:
      'hyparquet-writer ParquetWriter, SNAPPY, one columnar write per row group (the previous Harbour writer)',
    js: true,
  },
  {
    name: 'harbour-snappy',
    description: 'services/parquet createParquetWriter (own encoder, typed-array columns, snappyjs), SNAPPY',
    js: true,
  },
  {
    name: 'harbour-uncompressed',
    description: 'services/parquet createParquetWriter, UNCOMPRESSED',
    js: true,
  },
  { name: 'duckdb', description: 'DuckDB COPY … FROM read_json, SNAPPY, default threads', js: false },
  { name: 'duckdb-1thread', description: 'DuckDB COPY … FROM read_json, SNAPPY, threads=1', js: false },
];
const BASELINE = 'parquetjs-lite';
const SCALING_WRITER = 'harbour-snappy';

interface Scaling {
  rows: number;
  control: number;
  writer: number;
}

interface ChildResult {
  candidate: string;
  rows: number;
  writeMs: number | null;
  totalMs: number;
  bytes: number | null;
  /** Peak resident set of the child (process.resourceUsage().maxRSS), bytes. */
  maxRss: number;
  /** VmHWM from /proc/self/status, bytes (same quantity, read independently). */
  vmHwm: number | null;
  /** RSS right after imports, before any row was read. */
  startRss: number;
}

// ------------------------------------------------------------------ args

/** The parsed command line (fields named after what they mean, not after the flags). */
type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: string[]) {
  const f = flag.readFlags(
    {
      rows: flag.int(1_000_000),
      'row-group': flag.int(100_000),
      batch: flag.int(10_000),
      only: flag.list(null),
      'rss-scaling': flag.ints([]),
      repeat: flag.int(1),
      'no-results': flag.on(),
      keep: flag.on(),
      child: flag.str(null),
      input: flag.str(null),
      output: flag.str(null),
    },
    argv,
  );
  return {
    rows: f.rows,
    rowGroup: f['row-group'],
    batch: f.batch,
    only: f.only,
    rssScaling: f['rss-scaling'],
    repeat: f.repeat,
    results: !f['no-results'],
    keep: f.keep,
    child: f.child,
    input: f.input,
    output: f.output,
  };
}

// ------------------------------------------------------------------ data

const NAME_HEADS = [
  'THE HONGKONG AND SHANGHAI BANKING',
  'CITIBANK',
  'STANDARD CHARTERED BANK (HONG KONG)',
  'BANK OF CHINA (HONG KONG)',
  'JPMORGAN CHASE BANK',
  'MORGAN STANLEY HONG KONG',
  'GOLDMAN SACHS (ASIA)',
  'UBS',
  'FUTU',
  'CHINA MERCHANTS',
  'HAITONG INTERNATIONAL',
  'GUOTAI JUNAN',
  'BOCI',
  'CMB WING LUNG',
  'BRIGHT SMART',
  'PHILLIP',
  'CHIEF',
  'SHUN LOONG',
  'TAI FOOK',
  'KINGSTON',
  'DBS BANK (HONG KONG)',
  'HANG SENG',
  'CREDIT SUISSE',
  'BNP PARIBAS',
  'CICC',
  'HUATAI FINANCIAL',
  'ZHESHANG INTERNATIONAL',
  'VALUABLE CAPITAL',
  'EAST ASIA',
  'SOCIETE GENERALE',
];
const NAME_TAILS = [
  'CORPORATION LIMITED',
  'N.A.',
  'LIMITED',
  'SECURITIES LIMITED',
  'SECURITIES (HONG KONG) LIMITED',
  'SECURITIES INTERNATIONAL COMPANY LIMITED',
  'BROKERAGE LIMITED',
  'INVESTMENT SERVICES LIMITED',
  'AG',
  'FINANCIAL SERVICES LIMITED',
];
const STREETS = [
  "QUEEN'S ROAD CENTRAL",
  'CONNAUGHT ROAD CENTRAL',
  'DES VOEUX ROAD CENTRAL',
  'GLOUCESTER ROAD',
  'CANTON ROAD',
  'NATHAN ROAD',
  'HENNESSY ROAD',
  'SHAM MONG ROAD',
  "KING'S ROAD",
  'HOI BUN ROAD',
];
const BUILDINGS = [
  'ONE EXCHANGE SQUARE',
  'TWO IFC',
  'CHEUNG KONG CENTER',
  'CHAMPION TOWER',
  'INTERNATIONAL COMMERCE CENTRE',
  'THE CENTER',
  'HSBC CENTRE TOWER 2 & 3',
  'MILLENNIUM CITY 5',
  'TIMES SQUARE TOWER ONE',
  'LEE GARDEN ONE',
];
const DISTRICTS = [
  'CENTRAL',
  'ADMIRALTY',
  'WAN CHAI',
  'CAUSEWAY BAY',
  'TSIM SHA TSUI',
  'KWUN TONG',
  'KOWLOON',
];

interface Participant {
  id: string;
  name: string;
  address: string;
}

function participants(rand: () => number): Participant[] {
  const out: Participant[] = [];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  for (let i = 0; i < 1200; i++) {
    // A few clearing participants (A), many brokers (B), custodians (C).
    const prefix = i < 10 ? 'A' : i < 900 ? 'B' : 'C';
    const id = `${prefix}${String(i < 10 ? i + 1 : Math.floor(rand() * 99_999)).padStart(5, '0')}`;
    const name = `${pick(NAME_HEADS)} ${pick(NAME_TAILS)}`;
    const address = `${1 + Math.floor(rand() * 80)}/F ${pick(BUILDINGS)}, ${1 + Math.floor(rand() * 300)} ${pick(STREETS)}, ${pick(DISTRICTS)}, HONG KONG`;
    out.push({ id, name, address });
  }
  return out;
}

const DATES = ['2026-05-04', '2026-05-05', '2026-05-06', '2026-05-07', '2026-05-08'];

/**
 * Yields CCASS pages as lake rows: per (stock, holding date) a few hundred participant lines, some
 * consenting investor participants without ID, then the summary rows, all with one envelope's meta.
 */
function* ccassRows(total: number, seed = 20260512): Generator<ParquetRow> {
  const rand = mulberry32(seed);
  const pool = participants(rand);
  let emitted = 0;
  let seq = 1;
  while (emitted < total) {
    const code = String(1 + Math.floor(rand() * 9999)).padStart(5, '0');
    const date = DATES[seq % DATES.length]!;
    const issued = Math.round(1e8 + rand() * 2e10);
    const lines = Math.max(5, Math.round(Math.exp(3 + rand() * 3.8))); // ~20…900 participants
    const meta = {
      _seq: seq,
      _key: code,
      _as_of: date,
      _fetched_at: new Date(Date.parse(`${date}T10:00:00Z`) + Math.floor(rand() * 3_600_000)).toISOString(),
      _run_id: `run-${date}-${(seq % 7).toString(36)}`,
      _source_url: `https://www3.hkexnews.hk/sdw/search/searchsdw.aspx?txtStockCode=${code}&txtShareholdingDate=${date.replaceAll('-', '/')}`,
    };
    let held = 0;
    for (let i = 0; i < lines && emitted < total; i++) {
      const consenting = rand() < 0.04;
      const p = pool[Math.floor(rand() * pool.length)]!;
      const shareholding = Math.round(rand() ** 4 * issued * 0.05);
      held += shareholding;
      yield {
        code,
        holding_date: date,
        row_type: 'participant',
        participant_id: consenting ? null : p.id,
        participant_name: consenting ? 'CONSENTING INVESTOR PARTICIPANT' : p.name,
        address: consenting ? null : p.address,
        shareholding,
        pct_issued: Math.round((shareholding / issued) * 10_000) / 100,
        participants: null,
        ...meta,
      };
      emitted++;
    }
    const summary: [string, number, number | null][] = [
      ['intermediaries', held, lines],
      ['consenting', Math.round(held * 0.01), Math.round(lines * 0.04)],
      ['non_consenting', Math.round(issued * 0.2), null],
      ['total', held, lines],
      ['issued_shares', issued, null],
    ];
    for (const [rowType, shareholding, count] of summary) {
      if (emitted >= total) break;
      yield {
        code,
        holding_date: date,
        row_type: rowType,
        participant_id: null,
        participant_name: null,
        address: null,
        shareholding,
        pct_issued: rowType === 'issued_shares' ? null : Math.round((shareholding / issued) * 10_000) / 100,
        participants: count,
        ...meta,
      };
      emitted++;
    }
    seq++;
  }
}

async function writeNdjson(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for (const row of ccassRows(rows)) {
    buf += `${JSON.stringify(row)}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** Streams an NDJSON file as arrays of parsed rows. */
async function* readBatches(path: string, size: number): AsyncGenerator<ParquetRow[]> {
  let rest = '';
  let batch: ParquetRow[] = [];
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + (chunk as string);
    let from = 0;
    for (let nl = text.indexOf('\n', from); nl >= 0; nl = text.indexOf('\n', from)) {
      if (nl > from) batch.push(JSON.parse(text.slice(from, nl)) as ParquetRow);
      from = nl + 1;
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    rest = text.slice(from);
  }
  if (rest.trim()) batch.push(JSON.parse(rest) as ParquetRow);
  if (batch.length) yield batch;
}

// ------------------------------------------------------------------ child

interface ParquetjsLite {
  ParquetSchema: new (
    fields: Record<string, { type: string; optional?: boolean; compression?: string }>,
  ) => unknown;
  ParquetWriter: {
    openFile(
      schema: unknown,
      path: string,
      opts: { rowGroupSize: number },
    ): Promise<{ appendRow(row: Record<string, unknown>): Promise<void>; close(): Promise<void> }>;
  };
}

const PARQUETJS_TYPES: Record<string, string> = {
  string: 'UTF8',
  double: 'DOUBLE',
  int64: 'INT64',
  int32: 'INT32',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP_MILLIS',
};

/** hyparquet-writer's schema for the lake columns (Harbour's writer encodes its own). */
function hyparquetSchema(): SchemaElement[] {
  const leaf = (c: ParquetColumn): SchemaElement => {
    const repetition_type = c.nullable ? 'OPTIONAL' : 'REQUIRED';
    switch (c.type) {
      case 'string':
        return { name: c.name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type };
      case 'date':
        return { name: c.name, type: 'INT32', converted_type: 'DATE', repetition_type };
      case 'timestamp':
        return { name: c.name, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type };
      default:
        return { name: c.name, type: PARQUETJS_TYPES[c.type] as SchemaElement['type'], repetition_type };
    }
  };
  return [{ name: 'root', num_children: COLUMNS.length }, ...COLUMNS.map(leaf)];
}

/** The JS value hyparquet-writer takes for a lake column: INT64 as bigint, DATE as days, TIMESTAMP as bigint ms. */
function toHyparquet(type: ParquetColumn['type'], v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'int64') return BigInt(v as number);
  if (type === 'date') return Date.parse(`${v as string}T00:00:00Z`) / 86_400_000;
  if (type === 'timestamp') return BigInt(Date.parse(v as string));
  return v;
}

async function runChild(args: Args): Promise<ChildResult> {
  const name = args.child!;
  const input = args.input!;
  const output = args.output!;
  const startRss = process.memoryUsage.rss();
  const t0 = performance.now();
  let writeMs: number | null = 0;
  let rows = 0;

  if (name === 'read-only') {
    for await (const batch of readBatches(input, args.batch)) rows += batch.length;
    writeMs = null;
  } else if (name === 'parquetjs-lite') {
    const parquet = createRequire(import.meta.url)('parquetjs-lite') as ParquetjsLite;
    const fields = Object.fromEntries(
      COLUMNS.map((c) => [
        c.name,
        { type: PARQUETJS_TYPES[c.type]!, optional: c.nullable, compression: 'SNAPPY' },
      ]),
    );
    const dates = COLUMNS.filter((c) => c.type === 'date' || c.type === 'timestamp').map((c) => c.name);
    const w0 = performance.now();
    const writer = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema(fields), output, {
      rowGroupSize: args.rowGroup,
    });
    writeMs += performance.now() - w0;
    for await (const batch of readBatches(input, args.batch)) {
      const b0 = performance.now();
      for (const row of batch) {
        // parquetjs-lite parses a DATE/TIMESTAMP string with parseInt: it needs Date objects.
        for (const d of dates) row[d] = new Date(row[d] as string);
        await writer.appendRow(row);
      }
      writeMs += performance.now() - b0;
      rows += batch.length;
    }
    const c0 = performance.now();
    await writer.close();
    writeMs += performance.now() - c0;
  } else if (name === 'hyparquet-writer') {
    const { ParquetWriter, fileWriter } = await import('hyparquet-writer');
    const w0 = performance.now();
    const pq = new ParquetWriter({ writer: fileWriter(output), schema: hyparquetSchema(), codec: 'SNAPPY' });
    let group: unknown[][] = COLUMNS.map(() => []);
    let buffered = 0;
    const writeGroup = () => {
      pq.write({
        columnData: COLUMNS.map((c, i) => ({ name: c.name, data: group[i]! })),
        rowGroupSize: buffered,
      });
      group = COLUMNS.map(() => []);
      buffered = 0;
    };
    writeMs += performance.now() - w0;
    for await (const batch of readBatches(input, args.batch)) {
      const b0 = performance.now();
      for (const row of batch) {
        COLUMNS.forEach((c, i) => void group[i]!.push(toHyparquet(c.type, row[c.name])));
        if (++buffered === args.rowGroup) writeGroup();
      }
      writeMs += performance.now() - b0;
      rows += batch.length;
    }
    const c0 = performance.now();
    if (buffered) writeGroup();
    pq.finish();
    writeMs += performance.now() - c0;
  } else if (name === 'harbour-snappy' || name === 'harbour-uncompressed') {
    const codec: ParquetCodec = name === 'harbour-snappy' ? 'SNAPPY' : 'UNCOMPRESSED';
    const w0 = performance.now();
    const file = await open(output, 'w');
    const writer = createParquetWriter(
      COLUMNS,
      async (chunk) => {
        await file.write(chunk);
      },
      { rowGroupRows: args.rowGroup, codec, kvMetadata: { 'harbour.dataset': 'ccass' } },
    );
    writeMs += performance.now() - w0;
    for await (const batch of readBatches(input, args.batch)) {
      const b0 = performance.now();
      for (const row of batch) {
        if (writer.append(row)) await writer.flush();
      }
      writeMs += performance.now() - b0;
      rows += batch.length;
    }
    const c0 = performance.now();
    await writer.finish();
    await file.close();
    writeMs += performance.now() - c0;
  } else if (name === 'duckdb' || name === 'duckdb-1thread') {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:', name === 'duckdb-1thread' ? { threads: '1' } : {});
    const conn = await db.connect();
    const cols = COLUMNS.map((c) => `${c.name}: '${DUCK_TYPES[c.type]}'`).join(', ');
    await conn.run(
      `COPY (SELECT * FROM read_json('${input}', format = 'newline_delimited', columns = {${cols}}))
       TO '${output}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${args.rowGroup})`,
    );
    const counted = await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet('${output}')`);
    rows = counted.getRowObjectsJS()[0]!['n'] as number;
    conn.closeSync();
    db.closeSync();
    writeMs = null;
  } else {
    throw new Error(`unknown candidate ${name}`);
  }

  const totalMs = performance.now() - t0;
  return {
    candidate: name,
    rows,
    writeMs,
    totalMs,
    bytes: existsSync(output) ? statSync(output).size : null,
    maxRss: process.resourceUsage().maxRSS * 1024,
    vmHwm: vmHwm(),
    startRss,
  };
}

// ------------------------------------------------------------------ parent

function runCandidate(candidate: Candidate, args: Args, input: string, output: string): Promise<ChildResult> {
  const childArgs = [
    '--import',
    'tsx',
    SCRIPT,
    '--child',
    candidate.name,
    '--input',
    input,
    '--output',
    output,
    '--row-group',
    String(args.rowGroup),
    '--batch',
    String(args.batch),
  ];
  return runJsonChild<ChildResult>(childArgs, `candidate ${candidate.name}`);
}

interface Check {
  rows: number;
  rowGroups: number;
  fingerprint: string;
}

/** Content fingerprint from DuckDB plus the row-group count from hyparquet's footer parse. */
async function checkOutput(
  path: string,
  conn: { runAndReadAll(sql: string): Promise<{ getRowObjectsJS(): unknown[] }> },
): Promise<Check> {
  const [row] = (
    await conn.runAndReadAll(
      `SELECT count(*)::VARCHAR || '|' || sum(shareholding)::VARCHAR || '|' || sum(round(pct_issued * 100)::BIGINT)::VARCHAR
         || '|' || count(participant_id)::VARCHAR || '|' || count(address)::VARCHAR
         || '|' || count(DISTINCT participant_name)::VARCHAR || '|' || sum(participants)::VARCHAR
         || '|' || sum(_seq)::VARCHAR || '|' || min(holding_date)::VARCHAR || '|' || max(_as_of)::VARCHAR
         || '|' || epoch_ms(max(_fetched_at))::VARCHAR || '|' || sum(length(_source_url))::VARCHAR
         || '|' || sum(hash(code, row_type, participant_id, _key, _run_id) % 1000003)::VARCHAR AS f
       FROM read_parquet('${path}')`,
    )
  ).getRowObjectsJS() as { f: string }[];
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const info = await readParquetInfo({
      byteLength: size,
      slice: async (start: number, end?: number) => {
        const length = (end ?? size) - start;
        const buf = Buffer.alloc(length);
        await file.read(buf, 0, length, start);
        return buf.buffer.slice(buf.byteOffset, buf.byteOffset + length) as ArrayBuffer;
      },
    });
    return { rows: info.rows, rowGroups: info.rowGroups.length, fingerprint: row!.f };
  } finally {
    await file.close();
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-field medians of repeated runs (time and RSS each on their own). */
function medianOf(runs: ChildResult[]): ChildResult {
  const first = runs[0]!;
  return {
    ...first,
    writeMs: first.writeMs === null ? null : median(runs.map((r) => r.writeMs ?? 0)),
    totalMs: median(runs.map((r) => r.totalMs)),
    maxRss: median(runs.map((r) => r.maxRss)),
    vmHwm: first.vmHwm === null ? null : median(runs.map((r) => r.vmHwm ?? 0)),
    startRss: median(runs.map((r) => r.startRss)),
  };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const fmtRate = (rows: number, ms: number) => `${Math.round(rows / (ms / 1000)).toLocaleString('en-US')}`;
const ratio = (x: number, base: number) => `${(x / base).toFixed(2)}×`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    const result = await runChild(args);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const candidates = CANDIDATES.filter((c) => !args.only || args.only.includes(c.name));
  const work = mkdtempSync(join(tmpdir(), 'harbour-bench-parquet-'));
  const input = join(work, 'ccass.ndjson');
  const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  try {
    const g0 = performance.now();
    await writeNdjson(input, args.rows);
    const inputBytes = statSync(input).size;
    log(
      `generated ${args.rows.toLocaleString('en-US')} CCASS rows → ${mib(inputBytes)} NDJSON in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
    );

    const results: { candidate: Candidate; result: ChildResult; check: Check | null }[] = [];
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    for (const candidate of candidates) {
      const output = join(work, `${candidate.name}.parquet`);
      const runs: ChildResult[] = [];
      let check: Check | null = null;
      for (let run = 1; run <= args.repeat; run++) {
        log(`running ${candidate.name} (${run}/${args.repeat})…`);
        const result = await runCandidate(candidate, args, input, output);
        if (result.rows !== args.rows) {
          throw new Error(`${candidate.name} saw ${result.rows} rows, expected ${args.rows}`);
        }
        check = candidate.control ? null : await checkOutput(output, conn);
        if (check && check.rows !== args.rows) throw new Error(`${candidate.name} wrote ${check.rows} rows`);
        log(
          `${candidate.name}: ${(result.totalMs / 1000).toFixed(2)} s end-to-end` +
            (result.writeMs === null ? '' : `, ${(result.writeMs / 1000).toFixed(2)} s writing`) +
            `, peak RSS ${mib(result.maxRss)}` +
            (result.bytes === null ? '' : `, ${mib(result.bytes)}`),
        );
        runs.push(result);
      }
      results.push({ candidate, result: medianOf(runs), check });
      if (!args.keep && !candidate.control) rmSync(output, { force: true });
    }
    conn.closeSync();
    db.closeSync();

    const scaling: Scaling[] = [];
    const controlRun = results.find((r) => r.candidate.name === 'read-only')?.result;
    const writerRun = results.find((r) => r.candidate.name === SCALING_WRITER)?.result;
    if (controlRun && writerRun)
      scaling.push({ rows: args.rows, control: controlRun.maxRss, writer: writerRun.maxRss });
    for (const rows of args.rssScaling) {
      if (rows === args.rows) continue;
      const scaledInput = join(work, `ccass-${rows}.ndjson`);
      await writeNdjson(scaledInput, rows);
      const runs: ChildResult[] = [];
      for (const name of ['read-only', SCALING_WRITER]) {
        const candidate = CANDIDATES.find((c) => c.name === name)!;
        log(`rss scaling: ${name} at ${rows.toLocaleString('en-US')} rows…`);
        const output = join(work, `${name}-${rows}.parquet`);
        const run = await runCandidate(candidate, args, scaledInput, output);
        if (run.rows !== rows) throw new Error(`${name} saw ${run.rows} rows, expected ${rows}`);
        runs.push(run);
        rmSync(output, { force: true });
      }
      rmSync(scaledInput, { force: true });
      scaling.push({ rows, control: runs[0]!.maxRss, writer: runs[1]!.maxRss });
    }
    scaling.sort((a, b) => a.rows - b.rows);

    const fingerprints = new Set(results.flatMap((r) => (r.check ? [r.check.fingerprint] : [])));
    const consistent = fingerprints.size <= 1;
    if (!consistent) {
      for (const r of results) if (r.check) log(`${r.candidate.name}: ${r.check.fingerprint}`);
    }

    const section = renderSection(args, inputBytes, results, consistent, scaling);
    process.stdout.write(`${section}\n`);
    if (args.results) {
      log(`wrote ${await writeResultsSection('parquet-writer', section)}`);
    }
    if (!consistent) throw new Error('candidates wrote different contents (see fingerprints above)');
  } finally {
    if (args.keep) log(`kept files in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

function renderSection(
  args: Args,
  inputBytes: number,
  results: { candidate: Candidate; result: ChildResult; check: Check | null }[],
  consistent: boolean,
  scaling: Scaling[],
): string {
  const base = results.find((r) => r.candidate.name === BASELINE)?.result;
  const control = results.find((r) => r.candidate.control)?.result;
  const command = `npx tsx test/bench/parquet-writer.bench.ts --rows ${args.rows}${args.rowGroup === 100_000 ? '' : ` --row-group ${args.rowGroup}`}${args.batch === 10_000 ? '' : ` --batch ${args.batch}`}${args.repeat === 1 ? '' : ` --repeat ${args.repeat}`}${args.only ? ` --only ${args.only.join(',')}` : ''}${args.rssScaling.length ? ` --rss-scaling ${args.rssScaling.join(',')}` : ''}`;
  const lines: string[] = [];
  lines.push(...sectionHead('Parquet writer (CCASS rows → Parquet file)', command));
  lines.push(
    `- Runs: ${args.repeat === 1 ? '1 per candidate' : `${args.repeat} per candidate, figures are per-field medians`}. Load average (1 min) at start/end: ${loadStart.toFixed(2)} / ${os.loadavg()[0]!.toFixed(2)} (the machine is shared with other work, so times carry some noise).`,
  );
  lines.push(
    `- Input: ${args.rows.toLocaleString('en-US')} CCASS lake rows (9 row columns + 6 compactor meta columns), ` +
      `${mib(inputBytes)} of NDJSON, generated once with a seeded PRNG; row groups of ${args.rowGroup.toLocaleString('en-US')} rows for every candidate.`,
  );
  lines.push(
    `- Each candidate runs in its own child process (\`node --import tsx\`); JS candidates stream the NDJSON in batches of ${args.batch.toLocaleString('en-US')} parsed rows.`,
  );
  lines.push(
    '- _write_ = time inside the writer calls only (row conversion, encoding, compression, file I/O); ' +
      '_end-to-end_ adds reading + `JSON.parse` of the input (DuckDB parses the NDJSON natively, so it has only end-to-end). ' +
      'Peak RSS = `process.resourceUsage().maxRSS` of the child (includes Node + tsx, ~the read-only control).',
  );
  lines.push(
    `- Check: every file re-read with DuckDB (row count + aggregate fingerprint of all columns) and hyparquet (footer): ${consistent ? 'all candidates wrote identical contents' : '**MISMATCH between candidates**'}.`,
  );
  lines.push('');
  const table: string[][] = [];
  for (const { candidate, result, check } of results) {
    const cells = [
      `${candidate.name}`,
      result.writeMs === null ? '—' : fmtRate(result.rows, result.writeMs),
      fmtRate(result.rows, result.totalMs),
      result.bytes === null ? '—' : mib(result.bytes),
      check ? String(check.rowGroups) : '—',
      mib(result.maxRss),
    ];
    if (base && !candidate.control) {
      cells.push(
        result.writeMs === null || base.writeMs === null ? '—' : ratio(base.writeMs, result.writeMs),
      );
      cells.push(ratio(base.totalMs, result.totalMs));
      cells.push(result.bytes === null || base.bytes === null ? '—' : ratio(result.bytes, base.bytes));
      cells.push(ratio(result.maxRss, base.maxRss));
    } else {
      cells.push('—', '—', '—', '—');
    }
    table.push(cells);
  }
  lines.push(
    ...markdownTable(
      [
        'candidate',
        'write rows/s',
        'end-to-end rows/s',
        'file size',
        'row groups',
        'peak RSS',
        'write speed vs baseline',
        'end-to-end vs baseline',
        'size vs baseline',
        'peak RSS vs baseline',
      ],
      table,
    ),
  );
  lines.push('');
  lines.push('Candidates:');
  lines.push('');
  for (const { candidate } of results) lines.push(`- \`${candidate.name}\`: ${candidate.description}`);
  if (control) {
    lines.push('');
    lines.push(
      `Speed ratios > 1× mean faster than ${BASELINE}; size and RSS ratios < 1× mean smaller. ` +
        `The read-only control (${mib(control.maxRss)} peak RSS, ${fmtRate(control.rows, control.totalMs)} rows/s) is the floor every JS candidate pays for reading its input.`,
    );
  }
  if (scaling.length > 1) {
    lines.push('');
    lines.push(
      `Peak RSS against file size (\`${SCALING_WRITER}\`, ${args.rowGroup.toLocaleString('en-US')}-row groups); a flat writer column means memory is bounded by the row group, not the file.`,
    );
    lines.push('');
    lines.push(
      ...markdownTable(
        ['rows', 'row groups', 'read-only control peak RSS', `${SCALING_WRITER} peak RSS`, "writer's share"],
        scaling.map((s) => [
          s.rows.toLocaleString('en-US'),
          String(Math.ceil(s.rows / args.rowGroup)),
          mib(s.control),
          mib(s.writer),
          mib(s.writer - s.control),
        ]),
        () => true,
      ),
    );
  }
  return lines.join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
