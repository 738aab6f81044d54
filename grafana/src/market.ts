import type { Dashboard } from '@grafana/schema';
import { customVariable, dashboard, sql, sqlVariable, table, timeseries } from './lib.ts';

/** One line per selected stock (`$code`): `column` of `table` by trade date, the line named by `metric`. */
function perStock(column: string, metric = 'code', table = 'gold.daily_prices') {
  return sql(
    `
    select trade_date::timestamp as time, ${metric} as metric, ${column} as value
    from ${table}
    where code in ($code) and $__timeFilter(trade_date) and ${column} is not null
    order by 1, 2
  `,
    'time_series',
  );
}

/** Market: prices, volume, directed volume, CCASS holders and the stock picker, from the gold tables. */
export function marketDashboard(): Dashboard {
  return dashboard({
    uid: 'harbour-market',
    title: 'Harbour / Market',
    description:
      'Prices and volume, directed volume, CCASS holders over time and the stock picker, from the gold tables in Postgres.',
    tags: ['harbour', 'market'],
    from: 'now-180d',
    variables: [
      sqlVariable({
        name: 'code',
        label: 'Stocks',
        multi: true,
        // Stocks from the monthly table (one row a month), each named by its latest daily row
        // through the key: a distinct-on over every daily row took a second on a year's market.
        query: `
          select c.code as __value, c.code || ' ' || coalesce(n.name, '') as __text
          from (select code from gold.monthly_high_low group by code) c
          left join lateral (
            select p.name from gold.daily_prices p where p.code = c.code order by p.trade_date desc limit 1
          ) n on true
          order by c.code
        `,
      }),
      sqlVariable({
        name: 'ccass_code',
        label: 'CCASS stock',
        query: 'select code from gold.ccass_concentration group by code order by code',
      }),
      customVariable({ name: 'top', label: 'Top holders', values: ['10', '5', '20'] }),
    ],
    rows: [
      {
        title: 'Prices and volume',
        panels: [
          timeseries({
            title: 'Close',
            unit: 'currencyHKD',
            targets: [perStock('close')],
          }),
          timeseries({
            title: 'Volume',
            unit: 'short',
            style: 'bars',
            targets: [perStock('volume')],
          }),
          timeseries({
            title: 'Directed volume',
            description:
              'volume × sign(close − previous close) per day (bars) and its sum over the stock’s last 30 trading days (line).',
            unit: 'short',
            style: 'bars',
            w: 24,
            targets: [
              perStock('directed_volume', "code || ' daily'"),
              perStock('dv_30d_trading', "code || ' 30 trading days'", 'gold.rolling_directed_volume'),
            ],
          }),
          table({
            title: 'Monthly high and low',
            w: 24,
            h: 7,
            sortBy: { column: 'month', desc: true },
            targets: [
              sql(`
                select code, to_char(month, 'YYYY-MM') as month, open, high, high_date, low, low_date, close, volume, trading_days
                from gold.monthly_high_low
                where code in ($code) and month >= date_trunc('month', $__timeFrom()::timestamptz)::date and month <= $__timeTo()::timestamptz::date
                order by month desc, code
              `),
            ],
          }),
        ],
      },
      {
        title: 'CCASS',
        panels: [
          timeseries({
            title: 'Top holders of $ccass_code over time',
            description:
              'Shareholding of the $top largest CCASS participants on the latest holding date, on every holding date in the range.',
            unit: 'short',
            legend: 'table',
            w: 24,
            h: 10,
            targets: [
              sql(
                `
                with latest as (
                  select max(holding_date) as d from gold.ccass_changes where code = '$ccass_code'
                ), top as (
                  select participant_key from gold.ccass_changes, latest
                  where code = '$ccass_code' and holding_date = latest.d
                  order by shareholding desc
                  limit $top
                )
                select c.holding_date::timestamp as time, c.participant_name as metric, c.shareholding as value
                from gold.ccass_changes c join top using (participant_key)
                where c.code = '$ccass_code' and $__timeFilter(c.holding_date) and c.kind <> 'exited'
                order by 1, 2
              `,
                'time_series',
              ),
            ],
          }),
          timeseries({
            title: 'Concentration of $ccass_code',
            description:
              'Percent of issued shares held by the top 5 / top 10 participants, intermediaries, consenting and non-consenting investors.',
            unit: 'percent',
            min: 0,
            targets: [
              sql(
                `
                select holding_date::timestamp as time, top5_pct as "top 5", top10_pct as "top 10",
                  intermediaries_pct as intermediaries, consenting_pct as consenting, non_consenting_pct as "non-consenting"
                from gold.ccass_concentration
                where code = '$ccass_code' and $__timeFilter(holding_date)
                order by 1
              `,
                'time_series',
              ),
            ],
          }),
          table({
            title: 'Largest changes on the latest holding date',
            targets: [
              sql(`
                select participant_id, participant_name, shareholding, change_shares,
                  round(change_pct_issued::numeric, 4) as change_pct_issued, kind
                from gold.ccass_changes
                where code = '$ccass_code'
                  and holding_date = (select max(holding_date) from gold.ccass_changes where code = '$ccass_code')
                  and kind <> 'unchanged'
                order by abs(change_shares) desc
                limit 25
              `),
            ],
          }),
        ],
      },
      {
        title: 'Stock picker',
        panels: [
          table({
            title: 'Stock picker',
            description:
              'Latest as-of date: valuation (P/E, dividend yield, market cap) and liquidity (20-day average turnover, turnover ÷ market cap).',
            w: 24,
            h: 12,
            sortBy: { column: 'avg_turnover_20d', desc: true },
            targets: [
              sql(`
                select code, name, as_of, close, eps, pe, dividend_yield, market_cap, avg_turnover_20d,
                  round((turnover_ratio * 100)::numeric, 4) as turnover_pct_of_cap
                from gold.stock_picker
                where as_of = (select max(as_of) from gold.stock_picker)
                order by avg_turnover_20d desc nulls last, code
              `),
            ],
          }),
        ],
      },
    ],
  });
}
