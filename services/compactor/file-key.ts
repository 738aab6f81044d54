import { partitionPrefix } from '../../contracts/index.ts';

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
