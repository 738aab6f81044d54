import type { Dashboard } from '@grafana/schema';
import { dataQualityDashboard } from './data-quality.ts';
import { marketDashboard } from './market.ts';
import { pipelineDashboard } from './pipeline.ts';

export { dashboardProviders, POSTGRES, PROMETHEUS, provisionedDatasources } from './datasources.ts';
export { type PromTarget, panelsOf, type SqlTarget } from './lib.ts';
export {
  expandPromQL,
  expandSql,
  promQueries,
  type SqlQuery,
  sqlQueries,
  type TimeRange,
} from './queries.ts';
export { toYaml } from './yaml.ts';

/** Every dashboard, by the file it is written to in grafana/dashboards/. */
export function dashboards(): { file: string; dashboard: Dashboard }[] {
  return [
    { file: 'pipeline.json', dashboard: pipelineDashboard() },
    { file: 'data-quality.json', dashboard: dataQualityDashboard() },
    { file: 'market.json', dashboard: marketDashboard() },
  ];
}
