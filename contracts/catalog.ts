/**
 * The lake catalog in Postgres: the compactor writes it, everyone else reads it. A Parquet object
 * is part of the lake only while a `lake_files` row with status `active` names it; objects without
 * a row are invisible (and swept). Column meanings are part of the contract; the DDL and every
 * query of these tables live in services/catalog.
 *
 * lake_files(
 *   file_key text primary key,         -- object key, e.g. bronze/ccass/date=2026-10-02/part-…parquet
 *   dataset text, partition_date date, -- Hive partition `date=` = envelope as_of
 *   first_seq bigint, last_seq bigint, -- RAW stream sequences covered (a merged file: min/max of its inputs)
 *   rows bigint, bytes bigint, checksum text,  -- sha256 hex of the object
 *   schema_version int, writer text, committed_at timestamptz,
 *   status text,                       -- 'active' | 'replaced'
 *   replaced_by text null, replaced_at timestamptz null)
 *
 * Every lake file holds the dataset's row columns (contracts/datasets.ts) plus the metadata columns
 * `_seq` (RAW stream sequence), `_key`, `_as_of`, `_fetched_at`, `_run_id`, `_source_url` of its envelope.
 */

/** `bronze/<dataset>/date=<yyyy-mm-dd>/` — the Hive partition prefix of a dataset's date. */
export function partitionPrefix(dataset: string, date: string): string {
  return `bronze/${dataset}/date=${date}/`;
}
