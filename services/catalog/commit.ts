import type pg from 'pg';
import {
  type Dataset,
  ErrorCodes,
  HarbourError,
  isHarbourError,
  type LakeCommitted,
  SCHEMA_VERSION,
} from '../../contracts/index.ts';
import { subjects } from '../../streams/index.ts';
import { withTransaction } from '../runtime/index.ts';
import type { CatalogFile } from './files.ts';

// Writes of the lake catalog: the compactor's commits and merges, its watermarks and outbox.

/** A file about to become visible: its catalog row as the committer knows it before the commit. */
export type CommittedFile = Pick<
  CatalogFile,
  'fileKey' | 'dataset' | 'partitionDate' | 'firstSeq' | 'lastSeq' | 'rows' | 'bytes' | 'checksum' | 'writer'
>;

/** Highest RAW sequence committed by a consumer (0 = none): anything above it is certainly new. */
export async function readWatermark(pool: pg.Pool, consumer: string): Promise<number> {
  const { rows } = await pool.query<{ last_seq: string }>(
    'select last_seq from lake_watermarks where consumer = $1',
    [consumer],
  );
  return rows[0] ? Number(rows[0].last_seq) : 0;
}

/** Of `seqs`, those committed by this consumer: recorded, or at or below its prune floor. */
const COMMITTED_AMONG = `
  select s as seq from unnest($2::bigint[]) as s
  where s <= coalesce((select pruned_through from lake_watermarks where consumer = $1), 0)
     or exists (select 1 from lake_committed_seqs c where c.consumer = $1 and c.seq = s)`;

/** Which of `seqs` are already in a committed file of this consumer. */
export async function committedAmong(
  pool: pg.Pool | pg.PoolClient,
  consumer: string,
  seqs: number[],
): Promise<Set<number>> {
  if (!seqs.length) return new Set();
  const { rows } = await pool.query<{ seq: string }>(COMMITTED_AMONG, [consumer, seqs]);
  return new Set(rows.map((r) => Number(r.seq)));
}

/**
 * Forgets committed sequences at or below the consumer's ack floor, and raises the prune floor to
 * it so they still count as committed. A floor is not a promise that JetStream never delivers
 * below it again: a consumer replica that missed acks can take over in a cluster (or a consumer be
 * recreated) and redeliver acked messages, which must then be skipped, not written twice. Every
 * sequence below the ack floor was committed or dead-lettered before its ack, so skipping is right.
 */
export async function pruneCommittedSeqs(pool: pg.Pool, consumer: string, ackFloor: number): Promise<number> {
  // One statement, so the floor is raised no later than the sequences below it are forgotten.
  const { rowCount } = await pool.query(
    `with floor as (
       update lake_watermarks set pruned_through = greatest(pruned_through, $2) where consumer = $1 returning 1
     )
     delete from lake_committed_seqs where consumer = $1 and seq <= $2 and exists (select 1 from floor)`,
    [consumer, ackFloor],
  );
  return rowCount ?? 0;
}

function eventOf(f: CommittedFile, replaces: string[], at: Date): LakeCommitted {
  return {
    schema_version: SCHEMA_VERSION,
    dataset: f.dataset,
    file_key: f.fileKey,
    partition_date: f.partitionDate,
    first_seq: f.firstSeq,
    last_seq: f.lastSeq,
    rows: f.rows,
    bytes: f.bytes,
    checksum: f.checksum,
    replaces,
    committed_at: at.toISOString(),
  };
}

/** Inserts a file's catalog row and queues its commit event, inside the caller's transaction. */
async function insertFile(
  client: pg.PoolClient,
  f: CommittedFile,
  replaces: string[],
  at: Date,
): Promise<void> {
  await client.query(
    `insert into lake_files (file_key, dataset, partition_date, first_seq, last_seq, rows, bytes, checksum, schema_version, writer, committed_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      f.fileKey,
      f.dataset,
      f.partitionDate,
      f.firstSeq,
      f.lastSeq,
      f.rows,
      f.bytes,
      f.checksum,
      SCHEMA_VERSION,
      f.writer,
      at,
    ],
  );
  await client.query('insert into lake_outbox (subject, msg_id, payload) values ($1, $2, $3)', [
    subjects.lakeCommitted(f.dataset),
    `commit:${f.fileKey}:${f.checksum}`,
    JSON.stringify(eventOf(f, replaces, at)),
  ]);
}

/**
 * THE commit: in one transaction the files become visible, every RAW sequence they hold is recorded
 * as committed for this consumer, the watermark (highest committed sequence) advances, and one
 * outbox event per file is queued. Idempotent: a retry after an ambiguous failure (the commit went
 * through, the answer was lost) finds its sequences committed and returns `already`. A batch that
 * partly overlaps committed sequences (another writer, or a redelivery raced a commit) changes
 * nothing and returns `conflict`: the caller hands its messages back, and on redelivery the
 * committed ones are skipped and the rest batched again.
 */
export function commitBatch(
  pool: pg.Pool,
  consumer: string,
  dataset: Dataset,
  files: { file: CommittedFile; seqs: number[] }[],
): Promise<'committed' | 'already' | 'conflict'> {
  const allSeqs = files.flatMap((f) => f.seqs);
  const maxSeq = allSeqs.reduce((a, b) => Math.max(a, b), 0);
  return withTransaction(pool, async (client) => {
    await client.query(
      'insert into lake_watermarks (consumer, dataset, last_seq) values ($1, $2, 0) on conflict (consumer) do nothing',
      [consumer, dataset],
    );
    // Serialises writers of this consumer.
    await client.query('select last_seq from lake_watermarks where consumer = $1 for update', [consumer]);
    const overlap = (await committedAmong(client, consumer, allSeqs)).size;
    if (overlap === allSeqs.length) return 'already';
    if (overlap > 0) return 'conflict';
    const at = new Date();
    for (const { file, seqs } of files) {
      await insertFile(client, file, [], at);
      await client.query(
        'insert into lake_committed_seqs (consumer, seq, file_key) select $1, s, $3 from unnest($2::bigint[]) as s',
        [consumer, seqs, file.fileKey],
      );
    }
    await client.query(
      'update lake_watermarks set last_seq = greatest(last_seq, $2), updated_at = now() where consumer = $1',
      [consumer, maxSeq],
    );
    return 'committed';
  });
}

/**
 * Swaps merged files in for their inputs in one transaction (like Iceberg's rewrite); changes
 * nothing and returns false if any input is no longer active (another merge won the race).
 */
export function commitMerge(pool: pg.Pool, outputs: CommittedFile[], inputs: string[]): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `update lake_files set status = 'replaced', replaced_by = $1, replaced_at = now()
       where file_key = any($2) and status = 'active'`,
      [outputs.map((o) => o.fileKey).join(','), inputs],
    );
    if (rowCount !== inputs.length) throw mergeRaceLost();
    const at = new Date();
    for (const f of outputs) await insertFile(client, f, inputs, at);
    return true;
  }).catch((err) => {
    if (isHarbourError(err, ErrorCodes.MergeRaceLost)) return false;
    throw err;
  });
}

/** Rolls a merge back when one of its inputs was replaced meanwhile. */
const mergeRaceLost = () =>
  new HarbourError(ErrorCodes.MergeRaceLost, 'a merge input was replaced meanwhile; merge rolled back');

export interface OutboxItem {
  id: number;
  subject: string;
  msgId: string;
  payload: unknown;
}

export async function unsentOutbox(pool: pg.Pool, limit = 500): Promise<OutboxItem[]> {
  const { rows } = await pool.query<{ id: string; subject: string; msg_id: string; payload: unknown }>(
    'select id, subject, msg_id, payload from lake_outbox where sent_at is null order by id limit $1',
    [limit],
  );
  return rows.map((r) => ({ id: Number(r.id), subject: r.subject, msgId: r.msg_id, payload: r.payload }));
}

export async function markSent(pool: pg.Pool, ids: number[]): Promise<void> {
  if (ids.length) await pool.query('update lake_outbox set sent_at = now() where id = any($1)', [ids]);
}
