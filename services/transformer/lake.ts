import { createHash } from 'node:crypto';
import { type Dataset, ErrorCodes, HarbourError } from '../../contracts/index.ts';
import type { CatalogFile } from '../catalog/index.ts';
import type { ObjectStore } from '../object-store/index.ts';
import { iterateParquetRowGroups, type ParquetRow } from '../parquet/index.ts';
import type { InputFile } from './runner.ts';
import { stageColumns } from './silver.ts';

/** What a run records of a lake file it read (`transform_run_inputs`). */
export const inputOf = (f: CatalogFile): InputFile => ({
  file_key: f.fileKey,
  dataset: f.dataset,
  partition_date: f.partitionDate,
  first_seq: f.firstSeq,
  last_seq: f.lastSeq,
  rows: f.rows,
});

/** The object's bytes, checked against the catalog's sha256. */
export async function fetchLakeFile(
  store: ObjectStore,
  file: Pick<CatalogFile, 'fileKey' | 'checksum'>,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const bytes = await store.getBytes(file.fileKey, signal ? { signal } : {});
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== file.checksum) {
    throw new HarbourError(
      ErrorCodes.LakeFile,
      `lake file ${file.fileKey} has checksum ${sum}, the catalog says ${file.checksum}`,
      { detail: { fileKey: file.fileKey } },
    );
  }
  return bytes;
}

/** The columns silver loads, one row group at a time. */
export function lakeRowGroups(dataset: Dataset, bytes: Uint8Array): AsyncIterable<ParquetRow[]> {
  return iterateParquetRowGroups(bytes, { columns: stageColumns(dataset).map((c) => c.name) });
}
