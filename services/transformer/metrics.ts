import { Counter, Histogram, metric, type Registry } from '../runtime/index.ts';
import type { ModelRunResult } from './runner.ts';

export interface TransformerMetrics {
  runDuration: Histogram<'model' | 'trigger'>;
  runs: Counter<'model' | 'status'>;
  rowsWritten: Counter<'model'>;
  testFailures: Counter<'model' | 'test'>;
  eventToGold: Histogram<'dataset'>;
  events: Counter<'dataset' | 'outcome'>;
  silverRows: Counter<'dataset'>;
  dlq: Counter<'stage' | 'code'>;
  observeRun(r: ModelRunResult, trigger: 'event' | 'rebuild'): void;
}

/** The transformer's metrics (idempotent per registry: the service and `rebuild()` share them). */
export function transformerMetrics(r: Registry): TransformerMetrics {
  const runDuration = metric(
    r,
    'harbour_transformer_model_run_duration_seconds',
    () =>
      new Histogram({
        name: 'harbour_transformer_model_run_duration_seconds',
        help: 'duration of one model run (scoped delete + insert + tests)',
        labelNames: ['model', 'trigger'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        registers: [r],
      }),
  );
  const runs = metric(
    r,
    'harbour_transformer_model_runs_total',
    () =>
      new Counter({
        name: 'harbour_transformer_model_runs_total',
        help: 'model runs by outcome (succeeded, failed)',
        labelNames: ['model', 'status'],
        registers: [r],
      }),
  );
  const rowsWritten = metric(
    r,
    'harbour_transformer_model_rows_written_total',
    () =>
      new Counter({
        name: 'harbour_transformer_model_rows_written_total',
        help: 'gold rows written by model runs',
        labelNames: ['model'],
        registers: [r],
      }),
  );
  const testFailures = metric(
    r,
    'harbour_transformer_model_test_failures_total',
    () =>
      new Counter({
        name: 'harbour_transformer_model_test_failures_total',
        help: 'model tests of severity error that failed (the run was rolled back, nothing published)',
        labelNames: ['model', 'test'],
        registers: [r],
      }),
  );
  const eventToGold = metric(
    r,
    'harbour_transformer_event_to_gold_seconds',
    () =>
      new Histogram({
        name: 'harbour_transformer_event_to_gold_seconds',
        help: 'from the lake commit (event committed_at) to the gold tables committed',
        labelNames: ['dataset'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
        registers: [r],
      }),
  );
  const events = metric(
    r,
    'harbour_transformer_events_total',
    () =>
      new Counter({
        name: 'harbour_transformer_events_total',
        help: 'lake events handled: loaded, duplicate (file already loaded), replaced (file merged away), failed',
        labelNames: ['dataset', 'outcome'],
        registers: [r],
      }),
  );
  const silverRows = metric(
    r,
    'harbour_transformer_silver_rows_total',
    () =>
      new Counter({
        name: 'harbour_transformer_silver_rows_total',
        help: 'lake rows loaded into silver',
        labelNames: ['dataset'],
        registers: [r],
      }),
  );
  const dlq = metric(
    r,
    'harbour_dlq_messages_total',
    () =>
      new Counter({
        name: 'harbour_dlq_messages_total',
        help: 'messages sent to the DLQ',
        labelNames: ['stage', 'code'],
        registers: [r],
      }),
  );
  return {
    runDuration,
    runs,
    rowsWritten,
    testFailures,
    eventToGold,
    events,
    silverRows,
    dlq,
    observeRun(run, trigger) {
      runDuration.observe({ model: run.model, trigger }, run.durationMs / 1000);
      runs.inc({ model: run.model, status: 'succeeded' });
      rowsWritten.inc({ model: run.model }, run.rowsWritten);
    },
  };
}
