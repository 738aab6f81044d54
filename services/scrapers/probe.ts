/**
 * One page of a source, parsed into `{ summary, rows }`: from bytes (`harbour parse`) or fetched from
 * the configured sources by the scrapers' own fetchers (`harbour probe`: same HTTP client, form flow,
 * token handling, headers and politeness as a scrape), so both commands print the same JSON.
 */
import { ErrorCodes, type FundamentalRow, HarbourError, type QuoteRow } from '../../contracts/index.ts';
import type { SourcesConfig } from './config.ts';
import type { HttpClient } from './http/index.ts';
import {
  decodeLatin1,
  parseCcass,
  parseCcassStockList,
  parseQuotations,
  parseQuote,
  parseSecuritiesList,
} from './parsers/index.ts';
import {
  fetchCcass,
  fetchCcassStockList,
  fetchFundamentals,
  fetchQuotations,
  fetchSecurities,
} from './sources.ts';

export const PAGE_KINDS = ['ccass', 'stocklist', 'quotations', 'securities', 'quote'] as const;
export type PageKind = (typeof PAGE_KINDS)[number];

/** Dataset names accepted for the page kind that feeds them. */
export const PAGE_KIND_ALIASES: Readonly<Record<string, PageKind>> = {
  fundamentals: 'quote',
  quotes: 'quotations',
};

/** A page kind or dataset name → the page kind; `undefined` when it is neither. */
export function pageKindOf(name: string): PageKind | undefined {
  if ((PAGE_KINDS as readonly string[]).includes(name)) return name as PageKind;
  return PAGE_KIND_ALIASES[name];
}

export interface Page {
  summary: unknown;
  rows: unknown[];
}

const stockListPage = (rows: { code: string; name: string }[]): Page => ({
  summary: { stocks: rows.length },
  rows,
});
const quotationsPage = (tradeDate: string, rows: QuoteRow[]): Page => {
  const boards: Record<string, number> = {};
  for (const r of rows) boards[r.board] = (boards[r.board] ?? 0) + 1;
  return { summary: { tradeDate, securities: rows.length, boards }, rows };
};
const securitiesPage = (asOf: string, rows: unknown[]): Page => ({
  summary: { asOf, securities: rows.length },
  rows,
});
const quotePage = (row: FundamentalRow): Page => ({
  summary: { code: row.code, asOf: row.as_of },
  rows: [row],
});

/**
 * Parses a saved page; throws the parser's coded error when the page is refused. `name` is the
 * file's name where known: HKEX names the GEM report `e_GYYMMDD.htm` (the main board's `dYYMMDDe.htm`).
 */
export async function parsePage(
  kind: PageKind,
  bytes: Uint8Array,
  opts: { name?: string } = {},
): Promise<Page> {
  const text = () => Buffer.from(bytes).toString('utf8');
  switch (kind) {
    case 'ccass': {
      const { summary, rows } = parseCcass(text());
      return { summary, rows };
    }
    case 'stocklist':
      return stockListPage(parseCcassStockList(text()));
    case 'quotations': {
      const board = opts.name && /(?:^|[\\/])e_G\d{6}\.htm$/i.test(opts.name) ? 'gem' : 'main';
      const { tradeDate, rows } = parseQuotations(decodeLatin1(bytes), { board });
      return quotationsPage(tradeDate, rows);
    }
    case 'securities': {
      const { asOf, rows } = await parseSecuritiesList(new Uint8Array(bytes));
      return securitiesPage(asOf, rows);
    }
    case 'quote':
      return quotePage(parseQuote(text()));
  }
}

export interface ProbeRequest {
  /** Stock code (5 digits) for ccass and quote. */
  code: string;
  /** Date for ccass, quotations and stocklist; not accepted for quote (a snapshot of now). */
  date?: string;
}

/** Fetches and parses one page from the configured sources exactly as a scrape would. */
export async function probePage(
  ctx: { http: HttpClient; sources: SourcesConfig; signal?: AbortSignal },
  kind: PageKind,
  req: ProbeRequest,
): Promise<Page> {
  const needDate = () => {
    if (!req.date) {
      throw new HarbourError(ErrorCodes.Config, `probe ${kind} needs --date yyyy-mm-dd`);
    }
    return req.date;
  };
  switch (kind) {
    case 'ccass': {
      const f = await fetchCcass(ctx, req.code, needDate());
      return { summary: f.summary, rows: f.rows };
    }
    case 'stocklist':
      return stockListPage(await fetchCcassStockList(ctx, needDate()));
    case 'quotations': {
      const f = await fetchQuotations(ctx, needDate());
      return quotationsPage(f.asOf, f.rows);
    }
    case 'securities': {
      const f = await fetchSecurities(ctx);
      return securitiesPage(f.asOf, f.rows);
    }
    case 'quote': {
      if (req.date) {
        throw new HarbourError(
          ErrorCodes.SnapshotOnly,
          'the quote widget answers only its latest quote: probe quote takes no --date',
        );
      }
      return quotePage((await fetchFundamentals(ctx, req.code)).rows[0]!);
    }
  }
}
