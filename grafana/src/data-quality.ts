import type { Dashboard } from '@grafana/schema';
import { bargauge, dashboard, prom, sql, table, timeseries } from './lib.ts';

/** Data quality: freshness against the schedule, row counts against expectations, failed model tests. */
export function dataQualityDashboard(): Dashboard {
  return dashboard({
    uid: 'harbour-data-quality',
    title: 'Harbour / Data quality',
    description:
      'Freshness of each dataset against its schedule, row counts against the expected per day, failed model tests.',
    tags: ['harbour', 'data-quality'],
    from: 'now-30d',
    refresh: '5m',
    rows: [
      {
        title: 'Freshness',
        panels: [
          bargauge({
            title: 'Behind schedule',
            description:
              'How far the latest business date in gold trails the date its schedule expects loaded by now (0 = on time). Alert HarbourDatasetStale fires after 30 minutes above 0.',
            unit: 's',
            w: 8,
            thresholds: [[1, 'red']],
            targets: [prom('harbour:dataset_behind_schedule:seconds', '{{dataset}}')],
          }),
          timeseries({
            title: 'Since the latest data was fetched',
            unit: 's',
            w: 8,
            targets: [
              prom('time() - max by (dataset) (harbour_dataset_loaded_timestamp_seconds)', '{{dataset}}'),
            ],
          }),
          timeseries({
            title: 'Load lag',
            description: 'Fetch time of the latest business date minus its 00:00 (Hong Kong).',
            unit: 's',
            w: 8,
            targets: [prom('max by (dataset) (harbour_dataset_load_lag_seconds)', '{{dataset}}')],
          }),
          table({
            title: 'Freshness by dataset',
            w: 24,
            h: 6,
            targets: [
              sql(`
                select dataset, latest_as_of, loaded_at,
                  round((extract(epoch from now() - loaded_at) / 3600)::numeric, 1) as hours_since_fetch,
                  round((lag_seconds / 3600)::numeric, 1) as load_lag_hours
                from gold.dq_freshness
                order by dataset
              `),
            ],
          }),
        ],
      },
      {
        title: 'Row counts',
        panels: [
          bargauge({
            title: 'Rows vs expected (latest day)',
            description:
              'Rows of the latest business date ÷ rows expected (quotes and fundamentals: the List of Securities; CCASS: the participants the pages announce).',
            unit: 'percentunit',
            min: 0,
            max: 1,
            w: 8,
            thresholds: [
              [0, 'red'],
              [0.9, 'orange'],
              [0.98, 'green'],
            ],
            targets: [prom('max by (dataset) (harbour_dataset_rows_ratio)', '{{dataset}}')],
          }),
          timeseries({
            title: 'Rows vs expected per day',
            unit: 'short',
            style: 'points',
            w: 16,
            targets: [
              sql(
                `
                select as_of::timestamp as time, dataset || ' rows' as metric, rows::float8 as value
                from gold.dq_row_counts
                where $__timeFilter(as_of)
                union all
                select as_of::timestamp, dataset || ' expected', expected::float8
                from gold.dq_row_counts
                where $__timeFilter(as_of) and expected is not null
                order by 1, 2
              `,
                'time_series',
              ),
            ],
          }),
          table({
            title: 'Days below expected',
            w: 24,
            h: 7,
            sortBy: { column: 'as_of', desc: true },
            targets: [
              sql(`
                select dataset, as_of, rows, expected, round(ratio::numeric, 3) as ratio
                from gold.dq_row_counts
                where ratio < 1 and $__timeFilter(as_of)
                order by as_of desc, dataset
                limit 200
              `),
            ],
          }),
        ],
      },
      {
        title: 'Model tests',
        panels: [
          timeseries({
            title: 'Failed model tests',
            description:
              'Model tests of severity error that failed (the run was rolled back; 0 per model that ran).',
            unit: 'short',
            style: 'bars',
            w: 8,
            targets: [
              prom(
                `
                sum by (model) (increase(harbour_transformer_model_test_failures_total[$__rate_interval]))
                or
                0 * sum by (model) (increase(harbour_transformer_model_runs_total[$__rate_interval]))
              `,
                '{{model}}',
              ),
            ],
          }),
          table({
            title: 'Failed model tests (run history)',
            description:
              'Every model test with failing rows: errors (the run failed) and warnings (the run went on).',
            w: 16,
            sortBy: { column: 'finished_at', desc: true },
            targets: [
              sql(`
                select r.finished_at, r.model, t->>'test' as test, t->>'severity' as severity,
                  (t->>'failures')::int as failing_rows, r.status, r.error
                from transform_runs r cross join lateral jsonb_array_elements(r.tests) as t
                where (t->>'failures')::int > 0 and $__timeFilter(r.finished_at)
                order by r.finished_at desc
                limit 200
              `),
            ],
          }),
        ],
      },
    ],
  });
}
