import { partitionPrefix } from '../../contracts/index.ts';
import type { CommittedFile } from '../catalog/index.ts';
import type { FinishedFile } from './partition-file.ts';

/**
 * `bronze/<dataset>/date=<d>/part-<firstSeq>-<lastSeq>-<writer>-<batch>.parquet`: sequences
 * zero-padded so keys sort in stream order; writer and batch id keep every upload's key unique.
 */
export const fileKeyFor = (
  f: { dataset: string; partitionDate: string; firstSeq: number; lastSeq: number },
  writer: string,
  batchId: string,
) =>
  `${partitionPrefix(f.dataset, f.partitionDate)}part-${String(f.firstSeq).padStart(12, '0')}-${String(f.lastSeq).padStart(12, '0')}-${writer}-${batchId}.parquet`;

/**
 * The catalog entry of a finished spool file written by `writer` and uploaded under
 * {@link fileKeyFor}`(f, keyWriter, batchId)` (a merge names its outputs `merged-<writer>`).
 */
export const committedFileOf = (
  f: FinishedFile,
  writer: string,
  batchId: string,
  keyWriter = writer,
): CommittedFile => ({
  fileKey: fileKeyFor(f, keyWriter, batchId),
  dataset: f.dataset,
  partitionDate: f.partitionDate,
  firstSeq: f.firstSeq,
  lastSeq: f.lastSeq,
  rows: f.rows,
  bytes: f.bytes,
  checksum: f.checksum,
  writer,
});
