/**
 * `harbour probe` for every source, run as a user runs it: the real CLI in its own process, with the
 * sources variables pointed at a fixture HKEX site this test starts, and NATS/Postgres pointed at
 * closed ports (probe needs neither). Also: backfills of past fundamentals are refused before any
 * connection.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSamplesDir, type FixtureSite, PATHS, startFixtureSite } from '../ops/fixture-site/index.ts';
import { type CliRun, runHarbour } from './support/cli.ts';
import { testDir } from './support/infra.ts';

const TODAY = '2026-10-12';
const DAY = '2026-10-09';
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite({ samplesDir: defaultSamplesDir(), seed: 5, today: TODAY });
});
afterAll(async () => {
  await site?.close();
});

function harbour(...args: string[]): Promise<CliRun> {
  return harbourWith({}, ...args);
}

function harbourWith(extraEnv: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  return runHarbour(args, {
    env: {
      ...extraEnv,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HARBOUR_SCRAPERS_SOURCES_CCASS_BASE_URL: site.url,
      HARBOUR_SCRAPERS_SOURCES_HKEX_BASE_URL: site.url,
      HARBOUR_SCRAPERS_SOURCES_QUOTE_BASE_URL: `${site.url}/hkexwidget`,
      // nothing listens there: a probe that tried to connect would fail
      HARBOUR_NATS_URL: 'nats://127.0.0.1:1',
      HARBOUR_POSTGRES_URL: 'postgres://harbour:harbour@127.0.0.1:1/harbour',
    },
  });
}

function json(r: CliRun): { summary: Record<string, unknown>; rows: Record<string, unknown>[] } {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('harbour probe against the fixture site', { timeout: 120_000 }, () => {
  it('quotations: the report of a day, the same JSON as parse on the saved page; alias quotes', async () => {
    const yymmdd = DAY.slice(2).replaceAll('-', '');
    const saved = (path: string) =>
      fetch(`${site.url}${PATHS.quotationsDir}${path}`).then((r) => r.arrayBuffer());
    const [probe, alias, mainPage, gemPage] = await Promise.all([
      harbour('probe', 'quotations', '--date', DAY),
      harbour('probe', 'quotes', '--date', DAY),
      saved(`d${yymmdd}e.htm`),
      saved(`GEM/e_G${yymmdd}.htm`),
    ]);
    const out = json(probe);
    // One day = the main board's report and GEM's, one unit, every row with its board.
    const gem = out.rows.filter((r) => r.board === 'gem');
    expect(gem.length).toBeGreaterThan(0);
    expect(gem.every((r) => String(r.code).startsWith('08'))).toBe(true);
    expect(out.summary).toEqual({
      tradeDate: DAY,
      securities: out.rows.length,
      boards: { main: out.rows.length - gem.length, gem: gem.length },
    });
    expect(out.rows).toEqual(site.model.quoteRows(DAY));
    expect(json(alias)).toEqual(out);
    // `parse` of the two saved reports (named as HKEX names them) gives the same rows.
    const dir = await testDir('probe');
    const mainFile = join(dir, `d${yymmdd}e.htm`);
    const gemFile = join(dir, `e_G${yymmdd}.htm`);
    await writeFile(mainFile, Buffer.from(mainPage));
    await writeFile(gemFile, Buffer.from(gemPage));
    const parsed = [
      json(await harbour('parse', 'quotations', mainFile)),
      json(await harbour('parse', 'quotations', gemFile)),
    ];
    expect(parsed.map((p) => p.summary)).toEqual([
      {
        tradeDate: DAY,
        securities: out.rows.length - gem.length,
        boards: { main: out.rows.length - gem.length },
      },
      { tradeDate: DAY, securities: gem.length, boards: { gem: gem.length } },
    ]);
    expect(
      [...parsed[0]!.rows, ...parsed[1]!.rows].sort((a, b) => String(a.code).localeCompare(String(b.code))),
    ).toEqual(out.rows);
  });

  it('ccass, stocklist and securities: the model rows through the form flow and workbook', async () => {
    const [ccass, stocklist, securities] = await Promise.all([
      harbour('probe', 'ccass', '--code', '700', '--date', DAY),
      harbour('probe', 'stocklist', '--date', DAY),
      harbour('probe', 'securities'),
    ]);
    const c = json(ccass);
    expect(c.summary).toMatchObject({ code: '00700', holdingDate: DAY });
    expect(c.rows).toEqual(site.model.ccassRows('00700', DAY));
    const s = json(stocklist);
    // The list as at that date: the universe plus the temporary counters the real list carries.
    const temporary = (s.rows as { code: string; name: string }[]).filter((r) =>
      r.name.endsWith('TEMPORARY COUNTER'),
    );
    expect(s.summary).toEqual({ stocks: site.universe().length + temporary.length });
    expect(s.rows.filter((r) => !temporary.includes(r as never))).toEqual(site.universe());
    const sec = json(securities);
    expect(sec.summary).toEqual({ asOf: '2026-10-13', securities: site.model.securityRows().length });
    expect(sec.rows).toEqual(site.model.securityRows());
  });

  it('quote: a stale token is refused (403), a new one is read once, and the latest quote is printed', async () => {
    site.stats().reset();
    const refusedBefore = site.quoteTokens.refused;
    site.quoteTokens.serveStale(1);
    const out = json(await harbour('probe', 'quote', '--code', '00700'));
    expect(site.stats().of(PATHS.equitiesPage)).toBe(2);
    expect(site.quoteTokens.refused - refusedBefore).toBe(1);
    expect(site.stats().of(PATHS.quoteWidgetAlt)).toBe(2);
    const want = site.model.fundamental('00700')!;
    expect(out.summary).toEqual({ code: '00700', asOf: site.model.latestTradingDay() });
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ code: '00700', as_of: want.as_of, last: want.last, eps: want.eps });
    // dataset name as alias, no stale token this time: one page, one widget call
    site.stats().reset();
    expect(json(await harbour('probe', 'fundamentals', '--code', '5')).summary).toEqual({
      code: '00005',
      asOf: site.model.latestTradingDay(),
    });
    expect(site.stats().of(PATHS.equitiesPage)).toBe(1);
    expect(site.stats().of(PATHS.quoteWidgetAlt)).toBe(1);
    // the token page is a setting of its own
    site.stats().reset();
    const other = await harbourWith(
      {
        HARBOUR_SCRAPERS_SOURCES_QUOTE_TOKEN_PAGE_URL: `${site.url}${PATHS.equitiesQuotePage}?sym=700&sc_lang=en`,
      },
      'probe',
      'quote',
    );
    expect(json(other).summary).toMatchObject({ code: '00700' });
    expect(site.stats().of(PATHS.equitiesQuotePage)).toBe(1);
    expect(site.stats().of(PATHS.equitiesPage)).toBe(0);
  });

  it('a refused page exits 1 with its error code on stderr', async () => {
    const [holiday, dated, unknown, wrongKind] = await Promise.all([
      harbour('probe', 'quotations', '--date', '2026-10-10'),
      harbour('probe', 'quote', '--date', '2026-10-02'),
      harbour('probe', 'quote', '--code', '99999'),
      harbour('probe', 'prices'),
    ]);
    for (const [r, code] of [
      [holiday, 'HARBOUR_ERR_PARSE_NO_DATA'],
      [dated, 'HARBOUR_ERR_SNAPSHOT_ONLY'],
      [unknown, 'HARBOUR_ERR_PARSE_UNKNOWN_STOCK'],
      [wrongKind, 'HARBOUR_ERR_CONFIG'],
    ] as const) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^${code}: `));
    }
  });
});

describe('fundamentals backfills of past dates', { timeout: 60_000 }, () => {
  it('are refused with a clear coded message before connecting anywhere', async () => {
    const r = await harbour(
      'backfill',
      '--dataset',
      'fundamentals',
      '--from',
      '2026-01-05',
      '--to',
      '2026-01-09',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^HARBOUR_ERR_SNAPSHOT_ONLY: fundamentals are snapshots of the moment they are fetched .*: 2026-01-05 is past, the earliest date that can be collected now is \d{4}-\d{2}-\d{2}\n$/,
    );
    const scrape = await harbour('scrape', '--dataset', 'fundamentals', '--date', '2026-01-05');
    expect(scrape.code).toBe(1);
    expect(scrape.stderr).toMatch(/^HARBOUR_ERR_SNAPSHOT_ONLY: /);
  });
});
