import { createReadStream } from 'node:fs';
import type { JsMsg } from '@nats-io/jetstream';
import {
  type Dataset,
  decodeEnvelope,
  type Envelope,
  ErrorCodes,
  HarbourError,
} from '../../contracts/index.ts';
import { streamNames } from '../../streams/index.ts';
import { commitBatch, committedAmong, pruneCommittedSeqs } from '../catalog/index.ts';
import type { Lease } from '../runtime/index.ts';
import { dispositionFor, type Logger, type ServiceDeps, settle } from '../runtime/index.ts';
import { Batch, replyOf } from './batch.ts';
import type { CompactorConfig } from './config.ts';
import { committedFileOf } from './file-key.ts';
import type { CompactorMetrics } from './metrics.ts';
import { type FinishedFile, PartitionFile } from './partition-file.ts';
import { publishOutbox } from './schedule.ts';
import { untilDone } from './until-done.ts';

/** What one dataset's loop shares: settings, connections, its consumer, its lease. */
export interface DatasetContext {
  deps: ServiceDeps;
  config: CompactorConfig;
  m: CompactorMetrics;
  writerId: string;
  dataset: Dataset;
  consumer: string;
  dlog: Logger;
  /** Undefined without leases (`leaseTtlMs` 0): every compactor shares the consumer. */
  lease: Lease | undefined;
  /** Aborted when the compactor starts closing. */
  signal: AbortSignal;
  /** Marks the compactor failed (a timer's work threw), unless it is closing anyway. */
  onFailure: (err: unknown) => void;
  cleanSpoolDir: () => Promise<void>;
}

/** A message that can never be processed (not an envelope, not a run event): to the DLQ at once. */
export function refuse(ctx: DatasetContext, msg: JsMsg, err: unknown): Promise<void> {
  return settle(msg, dispositionFor(err, 1, 1), {
    js: ctx.deps.js,
    stage: 'compactor',
    logger: ctx.dlog,
    onDlq: (code) => ctx.m.dlq.inc({ stage: 'compactor', code }),
  });
}

/**
 * The batch of one dataset and its commit: messages are appended to the batch's partition files,
 * which are uploaded and made visible in ONE catalog transaction with their RAW sequences; only
 * then are the messages acked. Appends and flushes never interleave: both run through `serial`.
 */
export class Committer {
  /** Sequences at or below it may be committed already: checked before a message is buffered. */
  watermark: number;
  /** Called after each commit (a straggling run may be waiting for it). */
  onCommitted: () => void = () => {};
  /** Called with the highest sequence of a batch handed back for redelivery. */
  onHandedBack: (maxSeq: number) => void = () => {};

  constructor(
    private readonly ctx: DatasetContext,
    watermark: number,
  ) {
    this.watermark = watermark;
  }

  batch = new Batch();
  // The batch being committed: a redelivery of one of its messages must not enter the next batch.
  committing: Batch | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** Settles once every append and flush queued so far has finished (never rejects). */
  idle(): Promise<unknown> {
    return this.chain;
  }

  /** Runs `fn` after every append and flush queued before it. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }

  /** Commits the batch, or with `only` just those partitions (the rest keeps buffering). */
  async flush(reason: string, sig: AbortSignal = this.ctx.signal, only?: ReadonlySet<string>): Promise<void> {
    if (!this.batch.size) return;
    let current = this.batch;
    if (only && [...this.batch.files.keys()].some((d) => !only.has(d))) {
      current = this.batch.take(only);
      if (!current.size) return;
    } else {
      clearTimeout(current.ageTimer);
      this.batch = new Batch();
    }
    this.committing = current;
    try {
      await this.commitCurrent(current, reason, sig);
    } finally {
      this.committing = null;
      for (const f of current.files.values()) await f.discard();
      await this.ctx.cleanSpoolDir();
    }
    // A commit may be what held a straggling run's confirmation back (the ack floor).
    this.onCommitted();
  }

  private async commitCurrent(current: Batch, reason: string, sig: AbortSignal): Promise<void> {
    const { deps, config, m, dlog, consumer, dataset, writerId } = this.ctx;
    const t0 = performance.now();
    const finished: FinishedFile[] = [];
    for (const f of current.files.values()) finished.push(await f.finish());
    const files = finished.map((f) => ({ finished: f, file: committedFileOf(f, writerId, current.id) }));
    for (const { finished: f, file } of files) {
      await untilDone(() => deps.store.put(file.fileKey, createReadStream(f.spoolPath), { signal: sig }), {
        signal: sig,
        maxMs: config.commitRetryMaxMs,
        log: dlog,
        what: `upload ${file.fileKey}`,
        onRetry: () => m.retries.inc({ dataset, step: 'upload' }),
      });
    }
    const outcome = await untilDone(
      () =>
        commitBatch(
          deps.pool,
          consumer,
          dataset,
          files.map(({ file, finished: f }) => ({ file, seqs: f.seqs })),
        ),
      {
        signal: sig,
        maxMs: config.commitRetryMaxMs,
        log: dlog,
        what: 'catalog commit',
        onRetry: () => m.retries.inc({ dataset, step: 'commit' }),
      },
    );
    if (outcome === 'conflict') {
      // Some sequences were committed meanwhile: hand everything back; redelivery sorts it out.
      dlog.warn(
        { messages: current.size },
        'batch overlaps committed sequences; handing it back for redelivery',
      );
      current.nakAll(deps.nc);
      // They come back as redeliveries: runs must not count them as consumed meanwhile.
      this.onHandedBack(Math.max(...current.msgs.keys()));
      return;
    }
    current.ackAll(deps.nc);
    await deps.nc.flush();
    for (const { file } of files) {
      this.watermark = Math.max(this.watermark, file.lastSeq);
      m.filesCommitted.inc({ dataset, kind: 'batch' });
      m.rowsCommitted.inc({ dataset }, file.rows);
      m.fileBytes.observe({ dataset }, file.bytes);
    }
    m.flushSeconds.observe({ dataset }, (performance.now() - t0) / 1000);
    m.lastCommit.set({ dataset }, Date.now() / 1000);
    m.bufferedRows.set({ dataset }, this.batch.rows());
    m.bufferedBytes.set({ dataset }, this.batch.maxFileBytes());
    dlog.info(
      {
        reason,
        outcome,
        files: files.map((f) => ({ key: f.file.fileKey, rows: f.file.rows, bytes: f.file.bytes })),
        messages: current.size,
      },
      'batch committed',
    );
    await publishOutbox(deps).catch((err) =>
      dlog.warn({ err }, 'commit events not published yet; outbox will retry'),
    );
    await this.pruneSeqs();
  }

  private async pruneSeqs(): Promise<void> {
    const { deps, dlog, consumer } = this.ctx;
    try {
      const info = await deps.jsm.consumers.info(streamNames.raw, consumer);
      await pruneCommittedSeqs(deps.pool, consumer, info.ack_floor.stream_seq);
    } catch (err) {
      dlog.debug({ err }, 'pruning committed sequences skipped');
    }
  }

  async add(msg: JsMsg): Promise<void> {
    const { deps, config, m, dlog, consumer, dataset, writerId, signal } = this.ctx;
    const seq = msg.seq;
    // Redelivered while its batch is still open or committing: keep the newest handle for the ack.
    for (const b of [this.batch, this.committing]) {
      if (b?.msgs.has(seq)) {
        b.msgs.set(seq, replyOf(msg));
        return;
      }
    }
    if (
      seq <= this.watermark &&
      (
        await untilDone(() => committedAmong(deps.pool, consumer, [seq]), {
          signal,
          maxMs: config.commitRetryMaxMs,
          log: dlog,
          what: 'committed check',
        })
      ).has(seq)
    ) {
      m.skipped.inc({ dataset });
      msg.ack();
      return;
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(msg.data);
      if (env.dataset !== dataset) {
        throw new HarbourError(
          ErrorCodes.SchemaInvalid,
          `envelope of dataset ${env.dataset} on the ${dataset} subject`,
          { detail: { path: '/dataset' } },
        );
      }
    } catch (err) {
      await refuse(this.ctx, msg, err);
      return;
    }
    if (!env.rows.length) {
      msg.ack();
      return;
    }
    let file = this.batch.files.get(env.as_of);
    if (!file) {
      file = await PartitionFile.open({
        spoolDir: config.spoolDir,
        dataset,
        partitionDate: env.as_of,
        rowGroupRows: config.rowGroupRows,
        writerId,
      });
      this.batch.files.set(env.as_of, file);
    }
    if (!this.batch.size) {
      const started = this.batch;
      started.ageTimer = setTimeout(() => {
        this.serial(() => (this.batch === started ? this.flush('age') : Promise.resolve())).catch(
          this.ctx.onFailure,
        );
      }, config.flushAgeMs);
    }
    await file.append(seq, env);
    this.batch.msgs.set(seq, replyOf(msg));
    m.bufferedRows.set({ dataset }, this.batch.rows());
    m.bufferedBytes.set({ dataset }, this.batch.maxFileBytes());
    if (this.batch.maxFileBytes() >= config.targetFileBytes) await this.flush('bytes');
    else if (this.batch.maxFileRows() >= config.maxFileRows) await this.flush('rows');
    else if (this.batch.size >= config.maxBatchMessages) await this.flush('messages');
    else if (msg.info.pending === 0 && this.batch.rows() >= config.drainFlushMinRows)
      await this.flush('drained');
  }
}
