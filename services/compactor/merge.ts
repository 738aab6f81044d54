import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Dataset } from '../../contracts/index.ts';
import { type CatalogFile, commitMerge, listFiles, smallFilePartitions } from '../catalog/index.ts';
import { iterateParquetRowGroups, openParquetFile } from '../parquet/index.ts';
import type { ServiceDeps } from '../runtime/index.ts';
import type { CompactorConfig } from './config.ts';
import { committedFileOf } from './file-key.ts';
import { type FinishedFile, PartitionFile } from './partition-file.ts';
import { claimSpoolPath, releaseSpoolPath } from './spool.ts';

/**
 * Rewrites each partition's small files into as few files as the target size allows (the output
 * rotates when it reaches `targetFileBytes`, measured on the encoded output, not on the inputs) and
 * swaps them in with one catalog transaction. Inputs stay in the store, marked `replaced`, until the
 * sweeper removes them after the grace period, so a reader in the middle of one is safe.
 */
export async function mergePartitions(
  deps: ServiceDeps,
  config: CompactorConfig,
  dataset: Dataset,
  writerId: string,
  signal: AbortSignal,
): Promise<string[]> {
  const merged: string[] = [];
  for (const date of await smallFilePartitions(
    deps.pool,
    dataset,
    config.mergeSmallFileBytes,
    config.mergeMinFiles,
  )) {
    if (signal.aborted) break;
    const inputs = (await listFiles(deps.pool, { dataset, partitionDate: date })).filter(
      (f) => f.bytes < config.mergeSmallFileBytes,
    );
    merged.push(...(await mergeFiles(deps, config, dataset, date, inputs, writerId, signal)));
  }
  return merged;
}

async function mergeFiles(
  deps: ServiceDeps,
  config: CompactorConfig,
  dataset: Dataset,
  date: string,
  inputs: CatalogFile[],
  writerId: string,
  signal: AbortSignal,
): Promise<string[]> {
  const open = () =>
    PartitionFile.open({
      spoolDir: config.spoolDir,
      dataset,
      partitionDate: date,
      rowGroupRows: config.rowGroupRows,
      writerId,
    });
  const finished: FinishedFile[] = [];
  const spools: PartitionFile[] = [];
  let out = await open();
  spools.push(out);
  try {
    for (const input of inputs) {
      const local = claimSpoolPath(config.spoolDir, 'merge-in');
      try {
        await pipeline(await deps.store.get(input.fileKey, { signal }), createWriteStream(local));
        for await (const rows of iterateParquetRowGroups(await openParquetFile(local))) {
          for (const row of rows) {
            await out.appendRow(row);
            out.seqs.push(row._seq as number);
            if (out.estimatedBytes >= config.targetFileBytes) {
              finished.push(await out.finish());
              out = await open();
              spools.push(out);
            }
          }
        }
      } finally {
        await rm(local, { force: true });
        releaseSpoolPath(local);
      }
    }
    if (out.rows > 0) finished.push(await out.finish());
    const stamp = Date.now().toString(36);
    const outputs = finished.map((f, i) =>
      committedFileOf(f, writerId, `${stamp}-${i}`, `merged-${writerId}`),
    );
    for (const [i, f] of finished.entries()) {
      await deps.store.put(outputs[i]!.fileKey, createReadStream(f.spoolPath), { signal });
    }
    if (
      !(await commitMerge(
        deps.pool,
        outputs,
        inputs.map((f) => f.fileKey),
      ))
    ) {
      for (const o of outputs) await deps.store.delete(o.fileKey);
      return [];
    }
    deps.logger.info(
      {
        dataset,
        date,
        inputs: inputs.length,
        outputs: outputs.map((o) => ({ key: o.fileKey, rows: o.rows, bytes: o.bytes })),
      },
      'partition merged',
    );
    return outputs.map((o) => o.fileKey);
  } finally {
    for (const s of spools) await s.discard();
  }
}
