import { createHash } from 'node:crypto';
import type pg from 'pg';
import { type Dataset, ErrorCodes, HarbourError, LAKE_FILES_TABLE } from '../../contracts/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import { iterateParquetRowGroups, type ParquetRow, readParquetRows } from '../parquet/index.ts';
import type { InputFile } from './runner.ts';
import { stageColumns } from './silver.ts';

/** A `lake_files` catalog row (contracts/catalog.ts), as the transformer reads it. */
export interface CatalogFile extends InputFile {
  checksum: string;
  status: 'active' | 'replaced';
  replaced_by: string | null;
}

const CATALOG_COLUMNS = `file_key, dataset, to_char(partition_date, 'YYYY-MM-DD') as partition_date,
  first_seq::float8 as first_seq, last_seq::float8 as last_seq, rows::float8 as rows, checksum, status, replaced_by`;

export async function catalogFile(db: pg.Pool | pg.PoolClient, fileKey: string): Promise<CatalogFile | null> {
  const { rows } = await db.query<CatalogFile>(
    `select ${CATALOG_COLUMNS} from ${LAKE_FILES_TABLE} where file_key = $1`,
    [fileKey],
  );
  return rows[0] ?? null;
}

/** Active files of the catalog, oldest data first (optionally only partitions from a date, one dataset). */
export async function activeFiles(
  db: pg.Pool | pg.PoolClient,
  opts: { from?: string | null; datasets?: readonly Dataset[] } = {},
): Promise<CatalogFile[]> {
  const { rows } = await db.query<CatalogFile>(
    `select ${CATALOG_COLUMNS} from ${LAKE_FILES_TABLE}
     where status = 'active' and ($1::date is null or partition_date >= $1::date)
       and ($2::text[] is null or dataset = any($2))
     order by partition_date, dataset, first_seq, file_key`,
    [opts.from ?? null, opts.datasets ?? null],
  );
  return rows;
}

/** The object's bytes, checked against the catalog's sha256. */
export async function fetchLakeFile(
  store: ObjectStore,
  file: { file_key: string; checksum: string },
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const bytes = await store.getBytes(file.file_key, signal ? { signal } : {});
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== file.checksum) {
    throw new HarbourError(
      ErrorCodes.LakeFile,
      `lake file ${file.file_key} has checksum ${sum}, the catalog says ${file.checksum}`,
      { detail: { fileKey: file.file_key } },
    );
  }
  return bytes;
}

/** The columns silver loads, one row group at a time. */
export function lakeRowGroups(dataset: Dataset, bytes: Uint8Array): AsyncIterable<ParquetRow[]> {
  return iterateParquetRowGroups(bytes, { columns: stageColumns(dataset).map((c) => c.name) });
}

export function readLakeRows(dataset: Dataset, bytes: Uint8Array): Promise<ParquetRow[]> {
  return readParquetRows(bytes, { columns: stageColumns(dataset).map((c) => c.name) });
}
