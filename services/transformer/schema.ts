import type pg from 'pg';
import { type Migration, migrate } from '../runtime/index.ts';
import { servedCcassMigration } from './served-ccass.ts';

/**
 * Tables the transformer owns.
 *
 * silver (typed, deduplicated copies of the lake, one row per natural key, latest envelope wins):
 *   every row keeps its lineage: `_seq` (RAW stream sequence of its envelope), `_file_key` (the
 *   active lake file it was last loaded from), `_fetched_at`, `_run_id` (scrape run).
 * gold (contracts/gold.ts, exactly those columns): written only by the models in `models/`.
 * run history: `transform_runs` (one row per model run), `transform_run_inputs` (the lake files and
 *   RAW sequence ranges each run consumed), `transform_files` (every lake file loaded into silver).
 */
export const transformerMigrations: Migration[] = [
  {
    id: '001-silver-gold-runs',
    sql: `
      create schema if not exists silver;
      create schema if not exists gold;

      -- ---------------------------------------------------------------- silver
      create table silver.securities (
        as_of date not null,
        code text not null,
        name text not null,
        category text,
        sub_category text,
        board_lot bigint,
        isin text,
        currency text,
        _seq bigint not null,
        _file_key text not null,
        _fetched_at timestamptz not null,
        _run_id text not null,
        primary key (as_of, code)
      );
      create index silver_securities_code on silver.securities (code, as_of);

      create table silver.quotes (
        code text not null,
        trade_date date not null,
        name text not null,
        currency text,
        status text not null,
        flags text,
        prev_close double precision,
        open double precision,
        high double precision,
        low double precision,
        close double precision,
        ask double precision,
        bid double precision,
        volume double precision,
        turnover double precision,
        _as_of date not null,
        _seq bigint not null,
        _file_key text not null,
        _fetched_at timestamptz not null,
        _run_id text not null,
        primary key (code, trade_date)
      );
      create index silver_quotes_date on silver.quotes (trade_date);

      create table silver.fundamentals (
        code text not null,
        as_of date not null,
        last double precision,
        prev_close double precision,
        open double precision,
        high double precision,
        low double precision,
        volume double precision,
        turnover double precision,
        eps double precision,
        eps_currency text,
        pe double precision,
        dividend_yield double precision,
        market_cap double precision,
        issued_shares double precision,
        _seq bigint not null,
        _file_key text not null,
        _fetched_at timestamptz not null,
        _run_id text not null,
        primary key (code, as_of)
      );
      create index silver_fundamentals_date on silver.fundamentals (as_of);

      -- One CCASS set per (code, holding_date): the rows of ONE fetch of the page. participant_key =
      -- participant_id, or the name for consenting investors, '' for summary rows.
      create table silver.ccass (
        code text not null,
        holding_date date not null,
        row_type text not null,
        participant_key text not null,
        participant_id text,
        participant_name text,
        address text,
        shareholding double precision not null,
        pct_issued double precision,
        participants bigint,
        _seq bigint not null,
        _file_key text not null,
        _fetched_at timestamptz not null,
        _run_id text not null,
        primary key (code, holding_date, row_type, participant_key)
      );
      -- Which fetch a (code, holding_date) set currently comes from; a later fetch replaces the set.
      create table silver.ccass_sets (
        code text not null,
        holding_date date not null,
        fetched_at timestamptz not null,
        run_id text not null,
        fetch_key text not null,
        _file_key text not null,
        primary key (code, holding_date)
      );
      create index silver_ccass_sets_date on silver.ccass_sets (holding_date);

      -- ---------------------------------------------------------------- gold
      create table gold.daily_prices (
        code text not null,
        trade_date date not null,
        name text,
        currency text,
        status text,
        open double precision,
        high double precision,
        low double precision,
        close double precision,
        prev_close double precision,
        change_pct double precision,
        volume double precision,
        turnover double precision,
        directed_volume double precision,
        primary key (code, trade_date)
      );
      create index gold_daily_prices_date on gold.daily_prices (trade_date);

      create table gold.monthly_high_low (
        code text not null,
        month date not null,
        open double precision,
        high double precision,
        high_date date,
        low double precision,
        low_date date,
        close double precision,
        volume double precision,
        trading_days integer,
        primary key (code, month)
      );

      create table gold.rolling_directed_volume (
        code text not null,
        trade_date date not null,
        dv_30d_trading double precision,
        days_30d_trading integer,
        dv_30d_calendar double precision,
        days_30d_calendar integer,
        primary key (code, trade_date)
      );

      create table gold.ccass_concentration (
        code text not null,
        holding_date date not null,
        issued_shares double precision,
        participants integer,
        top5_pct double precision,
        top10_pct double precision,
        intermediaries_pct double precision,
        consenting_pct double precision,
        non_consenting_pct double precision,
        primary key (code, holding_date)
      );

      create table gold.ccass_changes (
        code text not null,
        holding_date date not null,
        prev_holding_date date,
        participant_key text not null,
        participant_id text,
        participant_name text,
        shareholding double precision,
        prev_shareholding double precision,
        change_shares double precision,
        change_pct_issued double precision,
        kind text,
        primary key (code, holding_date, participant_key)
      );

      create table gold.stock_picker (
        code text not null,
        as_of date not null,
        name text,
        close double precision,
        eps double precision,
        pe double precision,
        dividend_yield double precision,
        market_cap double precision,
        avg_turnover_20d double precision,
        turnover_ratio double precision,
        primary key (code, as_of)
      );

      create table gold.dq_freshness (
        dataset text primary key,
        latest_as_of date,
        loaded_at timestamptz,
        lag_seconds double precision
      );

      create table gold.dq_row_counts (
        dataset text not null,
        as_of date not null,
        rows integer,
        expected integer,
        ratio double precision,
        primary key (dataset, as_of)
      );

      -- ---------------------------------------------------------------- run history and lineage
      create table transform_runs (
        run_id text primary key,
        batch_id text not null,
        trigger text not null check (trigger in ('event', 'rebuild')),
        model text not null,
        status text not null check (status in ('succeeded', 'failed')),
        started_at timestamptz not null,
        finished_at timestamptz not null,
        duration_ms double precision not null,
        rows_written bigint not null default 0,
        rows_deleted bigint not null default 0,
        scope_keys integer not null default 0,
        codes text[] not null default '{}',
        date_from date,
        date_to date,
        tests jsonb not null default '[]',
        error text,
        publish boolean not null default false,
        published_at timestamptz
      );
      create index transform_runs_model on transform_runs (model, finished_at desc);
      create index transform_runs_batch on transform_runs (batch_id);
      create index transform_runs_outbox on transform_runs (finished_at) where publish and published_at is null;

      create table transform_run_inputs (
        run_id text not null references transform_runs (run_id) on delete cascade,
        file_key text not null,
        dataset text not null,
        partition_date date not null,
        first_seq bigint not null,
        last_seq bigint not null,
        rows bigint not null,
        primary key (run_id, file_key)
      );
      create index transform_run_inputs_file on transform_run_inputs (file_key);

      create table transform_files (
        file_key text primary key,
        dataset text not null,
        partition_date date not null,
        first_seq bigint not null,
        last_seq bigint not null,
        rows bigint not null,
        checksum text not null,
        outcome text not null check (outcome in ('loaded', 'skipped_replaced')),
        batch_id text not null,
        changed_keys integer not null default 0,
        loaded_at timestamptz not null default now()
      );`,
  },
  {
    id: '002-lookback-indexes',
    sql: `
      -- the models' "last N traded / quoted days of a stock" lookups read these index-only
      create index gold_daily_prices_traded on gold.daily_prices (code, trade_date) where status = 'traded';
      create index gold_daily_prices_quoted on gold.daily_prices (code, trade_date, turnover)
        where status in ('traded', 'no_trade');`,
  },
  {
    id: '003-quotes-board',
    sql: `
      -- which Daily Quotations report a row comes from: main board or GEM (null: loaded before the
      -- quotes contract had the column)
      alter table silver.quotes add column board text;`,
  },
  {
    id: '004-transform-files-by-key',
    sql: `
      -- transform_files said again what the catalog's lake_files says of each file (dataset,
      -- partition, sequences, rows, checksum); it keeps only what the transformer adds, joined by key.
      alter table transform_files drop column dataset, drop column partition_date, drop column first_seq,
        drop column last_seq, drop column rows, drop column checksum;`,
  },
  {
    id: '006-ccass-silver-in-lake',
    sql: `
      -- CCASS silver moves to the lake (silver/ccass/date=…/, built by DuckDB): Postgres keeps one row
      -- per set (which fetch, how many rows, what the page promised) and the lake files behind it.
      -- An existing database needs one rebuild to move its CCASS silver.
      drop table silver.ccass;
      truncate silver.ccass_sets;
      alter table silver.ccass_sets add column participant_rows integer not null default 0,
        add column promised integer not null default 0;
      create table silver.ccass_set_files (
        code text not null,
        holding_date date not null,
        file_key text not null,
        first_seq bigint not null,
        last_seq bigint not null,
        rows bigint not null,
        primary key (code, holding_date, file_key)
      );
      -- The lake's derived files (silver and gold Parquet) in force, one per layer, table and date;
      -- replaced by a commit that names the new file, so readers never see half a partition.
      create table lakehouse_files (
        layer text not null check (layer in ('silver', 'gold')),
        name text not null,
        partition_date date not null,
        file_key text not null,
        rows bigint not null,
        bytes bigint not null,
        checksum text not null,
        batch_id text not null,
        built_at timestamptz not null default clock_timestamp(),
        primary key (layer, name, partition_date)
      );
      -- Objects to delete: 'replaced' (no longer in force: deleted after the commit that replaced
      -- them) and 'pending' (uploaded ahead of a commit: the commit removes the row; after a crash
      -- the object is deleted once the row is an hour old).
      create table lakehouse_garbage (
        file_key text primary key,
        reason text not null check (reason in ('pending', 'replaced')),
        since timestamptz not null default now()
      );`,
  },
  {
    id: '007-served-ccass-changes',
    // gold.ccass_changes becomes a view over per-set arrays and a participants dimension (served-ccass.ts).
    sql: servedCcassMigration,
  },
  {
    id: '008-ccass-change-sets-inline',
    sql: `
      -- A set's three arrays (~2 kB for 100 participants) stay inline up to a full page instead of
      -- being compressed past 2 kB: serving a full-market day took 40 % longer with compression.
      alter table gold.ccass_change_sets set (toast_tuple_target = 8160);`,
  },
  {
    id: '009-gold-room-for-updates',
    sql: `
      -- A day's rows are updated in place after they are written (open from the fundamentals file,
      -- the month's row by every quotes and fundamentals file). Half-empty pages let every row of a
      -- page take its new version beside it (a HOT update: no index entry) in one statement; full
      -- pages send each new version to another page, with an entry in every index. Pages written
      -- before this migration keep their fill until rewritten (a rebuild).
      alter table gold.daily_prices set (fillfactor = 50);
      alter table gold.monthly_high_low set (fillfactor = 50);`,
  },
  {
    id: '010-traded-index-only',
    sql: `
      -- The rolling volume reads each stock's last 30 traded days (and 29 calendar days) from this
      -- index: with the directed volume in it, index-only on the pages the visibility map marks
      -- all-visible (2,600 × ~50 heap fetches an event before). Vacuumed after every ~5,000 rows
      -- written (about a full-market day) instead of 20 % of the table (every ~50 days at a year),
      -- so that only the last day or so has pages still to visit. Such a vacuum visits only the pages
      -- changed since the last one, and the day's dead rows are HOT versions, which need no index pass.
      drop index gold.gold_daily_prices_traded;
      create index gold_daily_prices_traded on gold.daily_prices (code, trade_date) include (directed_volume)
        where status = 'traded';
      alter table gold.daily_prices set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000);`,
  },
];

export function migrateTransformer(pool: pg.Pool): Promise<string[]> {
  return migrate(pool, 'transformer', transformerMigrations);
}

/** Silver tables, in the order a full rebuild empties them. */
export const SILVER_TABLES = [
  'silver.securities',
  'silver.quotes',
  'silver.fundamentals',
  'silver.ccass_sets',
  'silver.ccass_set_files',
] as const;
