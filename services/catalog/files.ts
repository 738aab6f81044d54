import type pg from 'pg';
import type { Dataset } from '../../contracts/index.ts';

/** A `lake_files` row (contracts/catalog.ts): the one shape in which every stage reads the catalog. */
export interface CatalogFile {
  fileKey: string;
  dataset: Dataset;
  /** yyyy-mm-dd, the Hive partition `date=`. */
  partitionDate: string;
  firstSeq: number;
  lastSeq: number;
  rows: number;
  bytes: number;
  /** sha256 hex of the object. */
  checksum: string;
  writer: string;
  status: 'active' | 'replaced';
  committedAt: Date;
  /** Comma-separated keys of the files that replaced this one (a merge), null while active. */
  replacedBy: string | null;
  replacedAt: Date | null;
}

type Db = pg.Pool | pg.PoolClient;

// Selected straight into the CatalogFile shape: bigints as float8 (exact below 2^53), the date as text.
const COLUMNS = `file_key as "fileKey", dataset, to_char(partition_date, 'YYYY-MM-DD') as "partitionDate",
  first_seq::float8 as "firstSeq", last_seq::float8 as "lastSeq", rows::float8 as rows, bytes::float8 as bytes,
  checksum, writer, status, committed_at as "committedAt", replaced_by as "replacedBy", replaced_at as "replacedAt"`;

/** Catalog rows by dataset, partition and status (`lake ls`, merges, the sweeper), in lake order. */
export async function listFiles(
  db: Db,
  filter: { dataset?: string; partitionDate?: string; status?: 'active' | 'replaced' | 'all' } = {},
): Promise<CatalogFile[]> {
  const { rows } = await db.query<CatalogFile>(
    `select ${COLUMNS} from lake_files
     where ($1::text is null or dataset = $1) and ($2::date is null or partition_date = $2)
       and ($3 = 'all' or status = $3)
     order by dataset, partition_date, first_seq`,
    [filter.dataset ?? null, filter.partitionDate ?? null, filter.status ?? 'active'],
  );
  return rows;
}

/** One file's row, active or replaced; null when the catalog does not name it. */
export async function catalogFile(db: Db, fileKey: string): Promise<CatalogFile | null> {
  const { rows } = await db.query<CatalogFile>(`select ${COLUMNS} from lake_files where file_key = $1`, [
    fileKey,
  ]);
  return rows[0] ?? null;
}

/** Active files, oldest data first (optionally only partitions from a date, only some datasets). */
export async function activeFiles(
  db: Db,
  opts: { from?: string | null; datasets?: readonly Dataset[] } = {},
): Promise<CatalogFile[]> {
  const { rows } = await db.query<CatalogFile>(
    `select ${COLUMNS} from lake_files
     where status = 'active' and ($1::date is null or partition_date >= $1::date)
       and ($2::text[] is null or dataset = any($2))
     order by partition_date, dataset, first_seq, file_key`,
    [opts.from ?? null, opts.datasets ?? null],
  );
  return rows;
}

/** Partitions of a dataset holding at least `minFiles` active files smaller than `smallBytes` (merge candidates). */
export async function smallFilePartitions(
  db: Db,
  dataset: string,
  smallBytes: number,
  minFiles: number,
): Promise<string[]> {
  const { rows } = await db.query<{ d: string }>(
    `select to_char(partition_date, 'YYYY-MM-DD') as d from lake_files
     where dataset = $1 and status = 'active' and bytes < $2
     group by partition_date having count(*) >= $3 order by partition_date`,
    [dataset, smallBytes, minFiles],
  );
  return rows.map((r) => r.d);
}

/** Status and replacement of the named files (lineage); files the catalog does not name are absent. */
export async function fileStatuses(
  db: Db,
  fileKeys: readonly string[],
): Promise<Map<string, { status: CatalogFile['status']; replacedBy: string | null }>> {
  if (!fileKeys.length) return new Map();
  const { rows } = await db.query<Pick<CatalogFile, 'fileKey' | 'status' | 'replacedBy'>>(
    'select file_key as "fileKey", status, replaced_by as "replacedBy" from lake_files where file_key = any($1)',
    [fileKeys],
  );
  return new Map(rows.map(({ fileKey, ...state }) => [fileKey, state]));
}

/** The catalog per dataset, as the monitor exports it. */
export interface LakeDataset {
  dataset: string;
  files: number;
  bytes: number;
  rows: number;
  partitions: number;
  maxFilesPerPartition: number;
  /** Epoch seconds of the newest catalog row (a commit or a merge), active or replaced. */
  lastCommitAt: number | null;
}

/** Active files, bytes, rows and partitions per dataset, and the newest commit of each. */
export async function lakeStats(db: Db): Promise<LakeDataset[]> {
  const { rows } = await db.query<LakeDataset>(
    `with parts as (
       select dataset, partition_date, count(*) as n, sum(bytes) as b, sum(rows) as r
       from lake_files where status = 'active' group by dataset, partition_date
     ), active as (
       select dataset, sum(n)::float8 as files, sum(b)::float8 as bytes, sum(r)::float8 as rows,
         count(*)::float8 as partitions, max(n)::float8 as "maxFilesPerPartition"
       from parts group by dataset
     ), commits as (
       select dataset, extract(epoch from max(committed_at))::float8 as "lastCommitAt" from lake_files group by dataset
     )
     select c.dataset, coalesce(a.files, 0) as files, coalesce(a.bytes, 0) as bytes, coalesce(a.rows, 0) as rows,
       coalesce(a.partitions, 0) as partitions, coalesce(a."maxFilesPerPartition", 0) as "maxFilesPerPartition",
       c."lastCommitAt"
     from commits c left join active a using (dataset)`,
  );
  return rows;
}
