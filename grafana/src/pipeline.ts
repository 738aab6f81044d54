import type { Dashboard } from '@grafana/schema';
import { bargauge, dashboard, prom, stat, timeseries } from './lib.ts';

/** Pipeline: lag, throughput, dead letters, the lake, scraping, latency. Everything from Prometheus. */
export function pipelineDashboard(): Dashboard {
  return dashboard({
    uid: 'harbour-pipeline',
    title: 'Harbour / Pipeline',
    description:
      'JetStream lag per consumer, throughput per stage, dead letters, the lake, scraping outcomes and event-to-gold latency.',
    tags: ['harbour', 'pipeline'],
    from: 'now-6h',
    refresh: '30s',
    rows: [
      {
        title: 'Lag',
        panels: [
          timeseries({
            title: 'Consumer lag',
            description:
              'Per durable consumer: messages not yet delivered (pending) and delivered but not yet acknowledged (unacked). The compactor holds its batch unacked until the file is committed.',
            unit: 'short',
            legend: 'table',
            targets: [
              prom(
                'max by (stream, consumer) (harbour_jetstream_consumer_pending_messages)',
                '{{stream}}/{{consumer}} pending',
              ),
              prom(
                'max by (stream, consumer) (harbour_jetstream_consumer_ack_pending_messages)',
                '{{stream}}/{{consumer}} unacked',
              ),
            ],
          }),
          timeseries({
            title: 'Consumer idle for',
            description: 'Time since each consumer last delivered a message or had one acknowledged.',
            unit: 's',
            w: 6,
            targets: [
              prom(
                'max by (stream, consumer) (harbour_jetstream_consumer_last_active_age_seconds)',
                '{{stream}}/{{consumer}}',
              ),
            ],
          }),
          timeseries({
            title: 'Redelivered messages',
            description: 'Messages currently redelivered at least once, per consumer.',
            unit: 'short',
            w: 6,
            targets: [
              prom(
                'max by (stream, consumer) (harbour_jetstream_consumer_redelivered_messages)',
                '{{stream}}/{{consumer}}',
              ),
            ],
          }),
        ],
      },
      {
        title: 'Throughput',
        panels: [
          timeseries({
            title: 'Rows per second by stage',
            description:
              'Rows published to RAW by the scrapers, committed to the lake by the compactor, loaded into silver and written to gold by the transformer.',
            unit: 'rowsps',
            targets: [
              prom('sum(rate(harbour_scraper_records_published_total[$__rate_interval]))', 'scrapers → RAW'),
              prom('sum(rate(harbour_compactor_rows_committed_total[$__rate_interval]))', 'compactor → lake'),
              prom(
                'sum(rate(harbour_transformer_silver_rows_total[$__rate_interval]))',
                'transformer → silver',
              ),
              prom(
                'sum(rate(harbour_transformer_model_rows_written_total[$__rate_interval]))',
                'models → gold',
              ),
            ],
          }),
          timeseries({
            title: 'Messages published per stream',
            unit: 'mps',
            w: 6,
            targets: [
              prom(
                'max by (stream) (rate(harbour_jetstream_stream_last_sequence[$__rate_interval]))',
                '{{stream}}',
              ),
            ],
          }),
          timeseries({
            title: 'Stream size',
            unit: 'bytes',
            w: 6,
            targets: [prom('max by (stream) (harbour_jetstream_stream_bytes)', '{{stream}}')],
          }),
          timeseries({
            title: 'Lake events handled',
            description:
              'Committed-file events by outcome: loaded, duplicate, replaced (merged away), failed.',
            unit: 'ops',
            w: 8,
            targets: [
              prom(
                'sum by (dataset, outcome) (rate(harbour_transformer_events_total[$__rate_interval]))',
                '{{dataset}} {{outcome}}',
              ),
            ],
          }),
          timeseries({
            title: 'Model runs',
            unit: 'ops',
            w: 8,
            targets: [
              prom(
                'sum by (model, status) (rate(harbour_transformer_model_runs_total[$__rate_interval]))',
                '{{model}} {{status}}',
              ),
            ],
          }),
          timeseries({
            title: 'Model run duration (p95)',
            unit: 's',
            w: 8,
            targets: [
              prom(
                'histogram_quantile(0.95, sum by (le, model) (rate(harbour_transformer_model_run_duration_seconds_bucket[$__rate_interval])))',
                '{{model}}',
              ),
            ],
          }),
        ],
      },
      {
        title: 'Dead letters',
        panels: [
          stat({
            title: 'Messages in the DLQ',
            unit: 'short',
            w: 6,
            background: true,
            thresholds: [[1, 'red']],
            targets: [prom('max(harbour_jetstream_stream_messages{stream="DLQ"})', 'DLQ')],
          }),
          timeseries({
            title: 'DLQ messages by stage',
            description: 'Messages kept in the DLQ stream per subject harbour.dlq.<stage>.',
            unit: 'short',
            w: 9,
            targets: [
              prom(
                'max by (subject) (harbour_jetstream_stream_subject_messages{stream="DLQ"})',
                '{{subject}}',
              ),
            ],
          }),
          timeseries({
            title: 'Dead-lettered by stage and error code',
            unit: 'short',
            style: 'bars',
            stack: true,
            w: 9,
            targets: [
              prom(
                'sum by (stage, code) (increase(harbour_dlq_messages_total[$__rate_interval]))',
                '{{stage}} {{code}}',
              ),
            ],
          }),
        ],
      },
      {
        title: 'Lake',
        panels: [
          timeseries({
            title: 'Files in the lake',
            description: 'Active Parquet files per dataset (lake catalog).',
            unit: 'short',
            w: 6,
            targets: [prom('max by (dataset) (harbour_lake_files)', '{{dataset}}')],
          }),
          timeseries({
            title: 'Lake size',
            unit: 'bytes',
            w: 6,
            targets: [prom('max by (dataset) (harbour_lake_size_bytes)', '{{dataset}}')],
          }),
          timeseries({
            title: 'Average file size',
            unit: 'bytes',
            w: 6,
            targets: [
              prom(
                'max by (dataset) (harbour_lake_size_bytes) / max by (dataset) (harbour_lake_files)',
                '{{dataset}}',
              ),
            ],
          }),
          timeseries({
            title: 'Most files in one partition',
            description: 'Merging rewrites partitions with many small files; this stays low when it works.',
            unit: 'short',
            w: 6,
            targets: [prom('max by (dataset) (harbour_lake_max_files_per_partition)', '{{dataset}}')],
          }),
          timeseries({
            title: 'Committed file size (median)',
            unit: 'bytes',
            w: 6,
            style: 'points',
            targets: [
              prom(
                'histogram_quantile(0.5, sum by (le, dataset) (rate(harbour_compactor_file_size_bytes_bucket[$__rate_interval])))',
                '{{dataset}}',
              ),
            ],
          }),
          timeseries({
            title: 'Compactor flush duration (p95)',
            unit: 's',
            w: 6,
            style: 'points',
            targets: [
              prom(
                'histogram_quantile(0.95, sum by (le, dataset) (rate(harbour_compactor_flush_duration_seconds_bucket[$__rate_interval])))',
                '{{dataset}}',
              ),
            ],
          }),
          timeseries({
            title: 'Rows buffered by the compactor',
            unit: 'short',
            w: 6,
            targets: [prom('sum by (dataset) (harbour_compactor_buffered_rows)', '{{dataset}}')],
          }),
          bargauge({
            title: 'Since the last lake commit',
            unit: 's',
            w: 6,
            thresholds: [
              [86_400 * 2, 'orange'],
              [86_400 * 4, 'red'],
            ],
            targets: [
              prom('time() - max by (dataset) (harbour_lake_last_commit_timestamp_seconds)', '{{dataset}}'),
            ],
          }),
        ],
      },
      {
        title: 'Scraping',
        panels: [
          timeseries({
            title: 'Scrape job outcomes',
            description:
              'done, no_data, unknown_stock (answers), retrying, dlq (failures), aborted (shutdown).',
            unit: 'short',
            style: 'bars',
            stack: true,
            w: 8,
            targets: [
              prom(
                'sum by (dataset, outcome) (increase(harbour_scraper_jobs_total[$__rate_interval]))',
                '{{dataset}} {{outcome}}',
              ),
            ],
          }),
          timeseries({
            title: 'Scrape job error ratio (30 min)',
            description:
              'Share of job outcomes that were failures; alert HarbourScrapeErrorRatioHigh fires above 20 % for 15 minutes.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            w: 8,
            thresholds: [[0.2, 'red']],
            targets: [prom('harbour:scraper_job_error_ratio:rate30m', '{{dataset}}')],
          }),
          timeseries({
            title: 'Scrape jobs waiting',
            unit: 'short',
            w: 8,
            targets: [prom('max(harbour_scraper_jobs_pending)', 'JOBS queue')],
          }),
          timeseries({
            title: 'HTTP attempts by outcome',
            unit: 'reqps',
            w: 8,
            targets: [
              prom(
                'sum by (host, outcome) (rate(harbour_http_requests_total[$__rate_interval]))',
                '{{host}} {{outcome}}',
              ),
            ],
          }),
          timeseries({
            title: 'HTTP attempt duration (p95)',
            unit: 's',
            w: 8,
            targets: [
              prom(
                'histogram_quantile(0.95, sum by (le, host) (rate(harbour_http_request_duration_seconds_bucket[$__rate_interval])))',
                '{{host}}',
              ),
            ],
          }),
          timeseries({
            title: 'Polite delay per host',
            unit: 'ms',
            w: 8,
            targets: [prom('max by (host) (harbour_http_host_delay_ms)', '{{host}}')],
          }),
          bargauge({
            title: 'Since the last tick',
            description: 'Scheduled time of the last tick each job published.',
            unit: 's',
            w: 12,
            targets: [
              prom('time() - max by (job) (harbour_scheduler_last_tick_timestamp_seconds)', '{{job}}'),
            ],
          }),
          stat({
            title: 'Scheduler leaders',
            description: 'Schedulers holding the lease: 1 is right, 0 means no ticks.',
            w: 12,
            h: 8,
            background: true,
            thresholds: [
              [1, 'green'],
              [2, 'red'],
            ],
            targets: [prom('sum(harbour_scheduler_leader)', 'leaders')],
          }),
        ],
      },
      {
        title: 'Latency and health',
        panels: [
          timeseries({
            title: 'Event to gold latency',
            description: 'From the lake commit of a file to the gold tables committed by the transformer.',
            unit: 's',
            targets: [
              prom(
                'histogram_quantile(0.5, sum by (le, dataset) (rate(harbour_transformer_event_to_gold_seconds_bucket[$__rate_interval])))',
                '{{dataset}} p50',
              ),
              prom(
                'histogram_quantile(0.95, sum by (le, dataset) (rate(harbour_transformer_event_to_gold_seconds_bucket[$__rate_interval])))',
                '{{dataset}} p95',
              ),
            ],
          }),
          timeseries({
            title: 'Run completed → in lake / in gold (p95)',
            description:
              'Freshness service level: from the last job of a scrape run ending to every record of the run committed to the lake, and to the transformer having loaded every file of its partitions.',
            unit: 's',
            targets: [
              prom(
                'histogram_quantile(0.95, sum by (le, dataset) (rate(harbour_run_to_lake_seconds_bucket[$__rate_interval])))',
                '{{dataset}} in lake',
              ),
              prom(
                'histogram_quantile(0.95, sum by (le, dataset) (rate(harbour_run_to_gold_seconds_bucket[$__rate_interval])))',
                '{{dataset}} in gold',
              ),
            ],
          }),
          timeseries({
            title: 'Oldest completed run not in gold',
            description:
              'Age of the oldest completed run whose data has not reached gold (0 = none), against the service level (monitor.runInGoldWithinMs); above it, HarbourRunNotInGold fires.',
            unit: 's',
            min: 0,
            targets: [
              prom('max by (dataset) (harbour_run_gold_pending_seconds)', '{{dataset}}'),
              prom('max(harbour_run_gold_slo_seconds)', 'service level'),
            ],
          }),
          timeseries({
            title: 'Processes up',
            unit: 'short',
            w: 6,
            min: 0,
            max: 1,
            targets: [prom('up{job="harbour"}', '{{instance}}')],
          }),
          timeseries({
            title: 'Monitor sources readable',
            unit: 'short',
            w: 6,
            min: 0,
            max: 1,
            targets: [prom('max by (source) (harbour_monitor_source_up)', '{{source}}')],
          }),
        ],
      },
    ],
  });
}
