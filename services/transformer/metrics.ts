import { type Counter, counter, type Histogram, histogram, type Registry } from '../runtime/index.ts';
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
  const runDuration = histogram(
    r,
    'harbour_transformer_model_run_duration_seconds',
    'duration of one model run (scoped delete + insert + tests)',
    ['model', 'trigger'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  );
  const runs = counter(
    r,
    'harbour_transformer_model_runs_total',
    'model runs by outcome (succeeded, failed)',
    ['model', 'status'],
  );
  const rowsWritten = counter(
    r,
    'harbour_transformer_model_rows_written_total',
    'gold rows written by model runs',
    ['model'],
  );
  const testFailures = counter(
    r,
    'harbour_transformer_model_test_failures_total',
    'model tests of severity error that failed (the run was rolled back, nothing published)',
    ['model', 'test'],
  );
  const eventToGold = histogram(
    r,
    'harbour_transformer_event_to_gold_seconds',
    'from the lake commit (event committed_at) to the gold tables committed',
    ['dataset'],
    [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
  );
  const events = counter(
    r,
    'harbour_transformer_events_total',
    'lake events handled: loaded, duplicate (file already loaded), replaced (file merged away), failed',
    ['dataset', 'outcome'],
  );
  const silverRows = counter(r, 'harbour_transformer_silver_rows_total', 'lake rows loaded into silver', [
    'dataset',
  ]);
  const dlq = counter(r, 'harbour_dlq_messages_total', 'messages sent to the DLQ', ['stage', 'code']);
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
