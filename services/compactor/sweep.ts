import type { Logger } from 'pino';
import { listFiles } from '../catalog/index.ts';
import type { ServiceDeps } from '../runtime/index.ts';

/**
 * Deletes lake objects that no active catalog row names and that are older than `graceMs`: uploads
 * whose commit never happened (a crash between upload and commit) and inputs of merges. The grace
 * period protects uploads in flight and readers still reading a replaced file.
 */
export async function sweepOrphans(
  deps: ServiceDeps,
  dataset: string,
  graceMs: number,
  log: Logger,
): Promise<string[]> {
  const files = await listFiles(deps.pool, { dataset, status: 'all' });
  const known = new Map(files.map((f) => [f.fileKey, f]));
  const now = Date.now();
  const deleted: string[] = [];
  for await (const obj of deps.store.list(`bronze/${dataset}/`)) {
    const row = known.get(obj.key);
    const orphan = !row && now - obj.lastModified.getTime() > graceMs;
    const expired =
      row?.status === 'replaced' && row.replacedAt !== null && now - row.replacedAt.getTime() > graceMs;
    if (!orphan && !expired) continue;
    await deps.store.delete(obj.key);
    deleted.push(obj.key);
  }
  if (deleted.length) log.info({ dataset, deleted: deleted.length }, 'swept objects not in the catalog');
  return deleted;
}
