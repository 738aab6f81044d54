/**
 * An independent computation of every gold table with DuckDB straight over lake Parquet files, for
 * tests and the benchmark (not used by the service). It works on whole histories (no scopes, no
 * incremental state) and uses DuckDB's own formulations where it has them (ASOF joins for "latest
 * row on or before", a range self-join for the calendar window, list sorting for top-N), so it
 * checks the Postgres models' scoping and windowing, not just repeats them.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type Dataset, type GoldTable, goldTables } from '../../contracts/index.ts';
import { datasetColumns, type ParquetColumnType } from '../../services/parquet/index.ts';

/** DuckDB's type of each Parquet column type, as `DESCRIBE` names it (also what a cast or `read_json` takes). */
export const DUCK_TYPES: Record<ParquetColumnType, string> = {
  string: 'VARCHAR',
  double: 'DOUBLE',
  int64: 'BIGINT',
  int32: 'INTEGER',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP WITH TIME ZONE',
};

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

function source(dataset: Dataset, files: readonly string[]): string {
  if (files.length) return `read_parquet([${files.map(sqlString).join(', ')}])`;
  const cols = datasetColumns(dataset).map((c) => `CAST(NULL AS ${DUCK_TYPES[c.type]}) AS ${c.name}`);
  return `(SELECT ${cols.join(', ')} WHERE false)`;
}

/** The statements that build silver (`r_*`) and gold (`g_*`) tables from the files. */
export function referenceSql(files: Partial<Record<Dataset, readonly string[]>>): string[] {
  const src = (d: Dataset) => source(d, files[d] ?? []);
  return [
    // ---------------------------------------------------------------- silver: latest envelope wins
    `CREATE OR REPLACE TEMP TABLE r_quotes AS SELECT * EXCLUDE (rn) FROM (
       SELECT *, row_number() OVER (PARTITION BY code, trade_date ORDER BY _seq DESC) AS rn FROM ${src('quotes')}) WHERE rn = 1`,
    `CREATE OR REPLACE TEMP TABLE r_fund AS SELECT * EXCLUDE (rn) FROM (
       SELECT *, row_number() OVER (PARTITION BY code, as_of ORDER BY _seq DESC) AS rn FROM ${src('fundamentals')}) WHERE rn = 1`,
    `CREATE OR REPLACE TEMP TABLE r_sec AS SELECT * EXCLUDE (rn) FROM (
       SELECT *, row_number() OVER (PARTITION BY _as_of, code ORDER BY _seq DESC) AS rn FROM ${src('securities')}) WHERE rn = 1`,
    // ccass: the latest fetch of each (code, holding_date) is the set; its parts merge
    `CREATE OR REPLACE TEMP TABLE r_ccass_raw AS SELECT *,
       regexp_replace(_key, '#[0-9]+/[0-9]+$', '') AS fetch_key,
       CASE WHEN row_type = 'participant' THEN coalesce(participant_id, participant_name, '') ELSE '' END AS participant_key
     FROM ${src('ccass')}`,
    `CREATE OR REPLACE TEMP TABLE r_ccass_sets AS SELECT code, holding_date, _fetched_at, _run_id, fetch_key FROM (
       SELECT code, holding_date, _fetched_at, _run_id, fetch_key,
         row_number() OVER (PARTITION BY code, holding_date ORDER BY _fetched_at DESC, _run_id DESC, fetch_key DESC) AS rn
       FROM r_ccass_raw) WHERE rn = 1`,
    `CREATE OR REPLACE TEMP TABLE r_ccass AS SELECT * EXCLUDE (rn) FROM (
       SELECT c.*, row_number() OVER (PARTITION BY c.code, c.holding_date, c.row_type, c.participant_key
                                      ORDER BY c._seq DESC, c.shareholding DESC) AS rn
       FROM r_ccass_raw c JOIN r_ccass_sets s ON c.code = s.code AND c.holding_date = s.holding_date
         AND c._fetched_at = s._fetched_at AND c._run_id = s._run_id AND c.fetch_key = s.fetch_key) WHERE rn = 1`,

    // ---------------------------------------------------------------- gold
    `CREATE OR REPLACE TEMP TABLE g_daily_prices AS SELECT q.code, q.trade_date, q.name, q.currency, q.status,
       coalesce(q.open, CASE WHEN q.status = 'traded' AND f.open > 0 THEN f.open END) AS open,
       q.high, q.low, q.close, q.prev_close,
       CASE WHEN q.status IN ('traded', 'no_trade') AND q.close IS NOT NULL AND q.prev_close IS NOT NULL AND q.prev_close <> 0
            THEN (q.close - q.prev_close) / q.prev_close * 100 END AS change_pct,
       q.volume, q.turnover,
       CASE WHEN q.status = 'traded' AND q.close IS NOT NULL AND q.prev_close IS NOT NULL
              THEN q.volume * (CASE WHEN q.close > q.prev_close THEN 1 WHEN q.close < q.prev_close THEN -1 ELSE 0 END)
            WHEN q.status = 'no_trade' THEN 0 END AS directed_volume
     FROM r_quotes q LEFT JOIN r_fund f ON f.code = q.code AND f.as_of = q.trade_date`,

    `CREATE OR REPLACE TEMP TABLE g_monthly_high_low AS
     WITH m AS (SELECT *, CAST(date_trunc('month', trade_date) AS DATE) AS month FROM g_daily_prices),
     a AS (
       SELECT code, month,
         max(high) FILTER (WHERE status = 'traded') AS high,
         min(low) FILTER (WHERE status = 'traded') AS low,
         count(*) FILTER (WHERE status = 'traded') AS trading_days,
         coalesce(sum(volume) FILTER (WHERE status = 'traded'), 0) AS volume,
         arg_min(coalesce(open, close), trade_date) FILTER (WHERE status = 'traded') AS open,
         arg_max(close, trade_date) FILTER (WHERE close IS NOT NULL) AS close
       FROM m GROUP BY code, month)
     SELECT a.code, a.month, a.open, a.high,
       (SELECT min(m.trade_date) FROM m WHERE m.code = a.code AND m.month = a.month AND m.status = 'traded' AND m.high = a.high) AS high_date,
       a.low,
       (SELECT min(m.trade_date) FROM m WHERE m.code = a.code AND m.month = a.month AND m.status = 'traded' AND m.low = a.low) AS low_date,
       a.close, a.volume, a.trading_days
     FROM a`,

    `CREATE OR REPLACE TEMP TABLE r_traded_windows AS SELECT code, trade_date,
       sum(directed_volume) OVER w AS dv, count(*) OVER w AS days
     FROM g_daily_prices WHERE status = 'traded'
     WINDOW w AS (PARTITION BY code ORDER BY trade_date ROWS BETWEEN 29 PRECEDING AND CURRENT ROW)`,
    `CREATE OR REPLACE TEMP TABLE g_rolling_directed_volume AS
     WITH cal AS (
       SELECT d.code, d.trade_date, sum(x.directed_volume) AS dv_cal, count(x.code) AS days_cal
       FROM g_daily_prices d
       LEFT JOIN g_daily_prices x ON x.code = d.code AND x.status = 'traded'
         AND x.trade_date BETWEEN d.trade_date - 29 AND d.trade_date
       GROUP BY d.code, d.trade_date)
     SELECT d.code, d.trade_date, t.dv AS dv_30d_trading, coalesce(t.days, 0) AS days_30d_trading,
       c.dv_cal AS dv_30d_calendar, c.days_cal AS days_30d_calendar
     FROM g_daily_prices d
     ASOF LEFT JOIN r_traded_windows t ON d.code = t.code AND d.trade_date >= t.trade_date
     JOIN cal c ON c.code = d.code AND c.trade_date = d.trade_date`,

    `CREATE OR REPLACE TEMP TABLE g_ccass_concentration AS
     WITH p AS (
       SELECT code, holding_date, count(*) AS n,
         list_sort(list(shareholding), 'DESC') AS holdings
       FROM r_ccass WHERE row_type = 'participant' GROUP BY code, holding_date),
     s AS (
       SELECT code, holding_date,
         max(shareholding) FILTER (WHERE row_type = 'issued_shares') AS issued,
         max(shareholding) FILTER (WHERE row_type = 'intermediaries') AS intermediaries,
         max(shareholding) FILTER (WHERE row_type = 'consenting') AS consenting,
         max(shareholding) FILTER (WHERE row_type = 'non_consenting') AS non_consenting
       FROM r_ccass GROUP BY code, holding_date)
     SELECT k.code, k.holding_date, s.issued AS issued_shares, coalesce(p.n, 0) AS participants,
       CASE WHEN s.issued > 0 THEN 100 * coalesce(list_sum(p.holdings[1:5]), 0) / s.issued END AS top5_pct,
       CASE WHEN s.issued > 0 THEN 100 * coalesce(list_sum(p.holdings[1:10]), 0) / s.issued END AS top10_pct,
       CASE WHEN s.issued > 0 THEN 100 * s.intermediaries / s.issued END AS intermediaries_pct,
       CASE WHEN s.issued > 0 THEN 100 * s.consenting / s.issued END AS consenting_pct,
       CASE WHEN s.issued > 0 THEN 100 * s.non_consenting / s.issued END AS non_consenting_pct
     FROM r_ccass_sets k
     LEFT JOIN p ON p.code = k.code AND p.holding_date = k.holding_date
     LEFT JOIN s ON s.code = k.code AND s.holding_date = k.holding_date`,

    `CREATE OR REPLACE TEMP TABLE g_ccass_changes AS
     WITH d AS (
       SELECT code, holding_date, lag(holding_date) OVER (PARTITION BY code ORDER BY holding_date) AS prev FROM r_ccass_sets),
     cur AS (
       SELECT d.code, d.holding_date, d.prev, c.participant_key, c.participant_id, c.participant_name, c.shareholding
       FROM d JOIN r_ccass c ON c.code = d.code AND c.holding_date = d.holding_date AND c.row_type = 'participant'),
     old AS (
       SELECT d.code, d.holding_date, d.prev, c.participant_key, c.participant_id, c.participant_name, c.shareholding
       FROM d JOIN r_ccass c ON c.code = d.code AND c.holding_date = d.prev AND c.row_type = 'participant'),
     iss AS (SELECT code, holding_date, shareholding AS issued FROM r_ccass WHERE row_type = 'issued_shares'),
     j AS (
       SELECT coalesce(cur.code, old.code) AS code, coalesce(cur.holding_date, old.holding_date) AS holding_date,
         coalesce(cur.prev, old.prev) AS prev_holding_date,
         coalesce(cur.participant_key, old.participant_key) AS participant_key,
         coalesce(cur.participant_id, old.participant_id) AS participant_id,
         coalesce(cur.participant_name, old.participant_name, cur.participant_id, old.participant_id, '') AS participant_name,
         coalesce(cur.shareholding, 0) AS shareholding, coalesce(old.shareholding, 0) AS prev_shareholding,
         CASE WHEN old.code IS NULL THEN 'new' WHEN cur.code IS NULL THEN 'exited'
              WHEN cur.shareholding <> old.shareholding THEN 'changed' ELSE 'unchanged' END AS kind
       FROM cur FULL OUTER JOIN old ON cur.code = old.code AND cur.holding_date = old.holding_date
         AND cur.participant_key = old.participant_key)
     SELECT j.code, j.holding_date, j.prev_holding_date, j.participant_key, j.participant_id, j.participant_name,
       j.shareholding, j.prev_shareholding, j.shareholding - j.prev_shareholding AS change_shares,
       CASE WHEN i.issued > 0 THEN 100 * (j.shareholding - j.prev_shareholding) / i.issued END AS change_pct_issued,
       j.kind
     FROM j LEFT JOIN iss i ON i.code = j.code AND i.holding_date = j.holding_date`,

    `CREATE OR REPLACE TEMP TABLE r_quoted_turnover AS SELECT code, trade_date,
       avg(coalesce(turnover, 0)) OVER (PARTITION BY code ORDER BY trade_date ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS avg_t
     FROM g_daily_prices WHERE status IN ('traded', 'no_trade')`,
    `CREATE OR REPLACE TEMP TABLE g_stock_picker AS
     WITH px AS (
       SELECT f.code, f.as_of, d.name, d.close AS px_close, d.currency
       FROM r_fund f ASOF LEFT JOIN g_daily_prices d ON f.code = d.code AND f.as_of >= d.trade_date),
     tv AS (
       SELECT f.code, f.as_of, t.avg_t
       FROM r_fund f ASOF LEFT JOIN r_quoted_turnover t ON f.code = t.code AND f.as_of >= t.trade_date),
     sn AS (
       SELECT f.code, f.as_of, l.name
       FROM r_fund f ASOF LEFT JOIN (SELECT code, _as_of, name FROM r_sec) l ON f.code = l.code AND f.as_of >= l._as_of),
     b AS (
       SELECT f.*, px.name AS px_name, sn.name AS sec_name, coalesce(px.px_close, f.last) AS c, px.currency, tv.avg_t
       FROM r_fund f
       JOIN px ON px.code = f.code AND px.as_of = f.as_of
       JOIN tv ON tv.code = f.code AND tv.as_of = f.as_of
       JOIN sn ON sn.code = f.code AND sn.as_of = f.as_of)
     SELECT code, as_of, coalesce(px_name, sec_name, code) AS name, c AS close, eps,
       coalesce(pe, CASE WHEN eps > 0 AND c IS NOT NULL AND (eps_currency IS NULL OR eps_currency = currency) THEN c / eps END) AS pe,
       dividend_yield,
       coalesce(market_cap, c * issued_shares) AS market_cap,
       avg_t AS avg_turnover_20d,
       CASE WHEN coalesce(market_cap, c * issued_shares) > 0 THEN avg_t / coalesce(market_cap, c * issued_shares) END AS turnover_ratio
     FROM b`,

    `CREATE OR REPLACE TEMP TABLE g_dq_freshness AS
     WITH l AS (
       SELECT 'securities' AS dataset, max(_as_of) AS latest FROM r_sec
       UNION ALL SELECT 'quotes', max(trade_date) FROM r_quotes
       UNION ALL SELECT 'fundamentals', max(as_of) FROM r_fund
       UNION ALL SELECT 'ccass', max(holding_date) FROM r_ccass_sets),
     f AS (
       SELECT l.dataset, l.latest, CASE l.dataset
         WHEN 'securities' THEN (SELECT max(_fetched_at) FROM r_sec WHERE _as_of = l.latest)
         WHEN 'quotes' THEN (SELECT max(_fetched_at) FROM r_quotes WHERE trade_date = l.latest)
         WHEN 'fundamentals' THEN (SELECT max(_fetched_at) FROM r_fund WHERE as_of = l.latest)
         ELSE (SELECT max(_fetched_at) FROM r_ccass_sets WHERE holding_date = l.latest) END AS loaded_at
       FROM l WHERE l.latest IS NOT NULL)
     SELECT dataset, latest AS latest_as_of, loaded_at,
       -- Hong Kong has had no daylight saving since 1979: midnight HKT = 16:00 UTC the day before
       epoch_ms(loaded_at) / 1000.0 - (epoch(CAST(latest AS TIMESTAMP)) - 8 * 3600) AS lag_seconds
     FROM f`,

    `CREATE OR REPLACE TEMP TABLE g_dq_row_counts AS
     WITH lists AS (SELECT _as_of AS list_date, count(*) AS n FROM r_sec GROUP BY _as_of),
     c AS (
       SELECT 'quotes' AS dataset, trade_date AS as_of, count(*) AS rows, NULL::BIGINT AS promised FROM r_quotes GROUP BY trade_date
       UNION ALL SELECT 'fundamentals', as_of, count(*), NULL FROM r_fund GROUP BY as_of
       UNION ALL SELECT 'ccass', holding_date, count(*) FILTER (WHERE row_type = 'participant'),
         coalesce(sum(participants) FILTER (WHERE row_type IN ('intermediaries', 'consenting')), 0)
         FROM r_ccass GROUP BY holding_date
       UNION ALL SELECT 'securities', _as_of, count(*), NULL FROM r_sec GROUP BY _as_of),
     e AS (
       SELECT c.*, CASE WHEN c.dataset = 'ccass' THEN c.promised
                        WHEN c.dataset IN ('quotes', 'fundamentals') THEN lists.n END AS expected
       FROM c ASOF LEFT JOIN lists ON c.as_of >= lists.list_date)
     SELECT dataset, as_of, rows, expected, CASE WHEN expected > 0 THEN rows / expected END AS ratio FROM e`,
  ];
}

export type GoldRows = Record<GoldTable, Record<string, unknown>[]>;

/** Key columns (sort order) of each gold table. */
export const GOLD_KEYS: Record<GoldTable, string[]> = {
  daily_prices: ['code', 'trade_date'],
  monthly_high_low: ['code', 'month'],
  rolling_directed_volume: ['code', 'trade_date'],
  ccass_concentration: ['code', 'holding_date'],
  ccass_changes: ['code', 'holding_date', 'participant_key'],
  stock_picker: ['code', 'as_of'],
  dq_freshness: ['dataset'],
  dq_row_counts: ['dataset', 'as_of'],
};

/** Gold columns holding a calendar date (compared as yyyy-mm-dd). */
export const GOLD_DATE_COLUMNS: ReadonlySet<string> = new Set([
  'trade_date',
  'month',
  'high_date',
  'low_date',
  'holding_date',
  'prev_holding_date',
  'as_of',
  'latest_as_of',
]);
const INSTANT_COLUMNS = new Set(['loaded_at']);

/** Runs the reference SQL on `conn` (timed by the caller) and returns each table's rows in key order, normalised. */
export async function referenceGold(
  conn: DuckDBConnection,
  files: Partial<Record<Dataset, readonly string[]>>,
  opts: { only?: (table: GoldTable) => string | null } = {},
): Promise<GoldRows> {
  for (const sql of referenceSql(files)) await conn.run(sql);
  const out = {} as GoldRows;
  for (const table of Object.keys(goldTables) as GoldTable[]) {
    const cols = Object.keys(goldTables[table].properties);
    const select = cols.map((c) => {
      if (GOLD_DATE_COLUMNS.has(c)) return `CAST(${c} AS VARCHAR) AS ${c}`;
      if (INSTANT_COLUMNS.has(c)) return `CAST(epoch_ms(${c}) AS DOUBLE) AS ${c}`;
      return `${c}`;
    });
    const where = opts.only?.(table);
    const reader = await conn.runAndReadAll(
      `SELECT ${select.join(', ')} FROM g_${table} ${where ? `WHERE ${where}` : ''} ORDER BY ${GOLD_KEYS[table].join(', ')}`,
    );
    out[table] = (reader.getRowObjectsJS() as Record<string, unknown>[]).map((row) => normalise(row, cols));
  }
  return out;
}

function normalise(row: Record<string, unknown>, cols: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of cols) {
    let v = row[c];
    if (typeof v === 'bigint') v = Number(v);
    if (INSTANT_COLUMNS.has(c) && typeof v === 'number') v = new Date(v).toISOString();
    out[c] = v ?? null;
  }
  return out;
}
