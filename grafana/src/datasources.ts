import type { DataSourceRef } from '@grafana/schema';

/**
 * The data sources every dashboard uses, by fixed uid. `grafana/provisioning/datasources/harbour.yaml`
 * is generated from this list, so a panel can only name a data source that is provisioned.
 */
export const PROMETHEUS = { type: 'prometheus', uid: 'harbour-prometheus' } as const satisfies DataSourceRef;
export const POSTGRES = {
  type: 'grafana-postgresql-datasource',
  uid: 'harbour-postgres',
} as const satisfies DataSourceRef;

/** Grafana's provisioning entry for each data source (values starting with `$` are read from the environment by Grafana). */
export const provisionedDatasources = [
  {
    name: 'Harbour Prometheus',
    uid: PROMETHEUS.uid,
    type: PROMETHEUS.type,
    access: 'proxy',
    url: '$HARBOUR_PROMETHEUS_URL',
    isDefault: true,
    editable: false,
    jsonData: {
      // The scrape interval: Grafana derives $__rate_interval from it.
      timeInterval: '15s',
      httpMethod: 'POST',
    },
  },
  {
    name: 'Harbour Postgres',
    uid: POSTGRES.uid,
    type: POSTGRES.type,
    access: 'proxy',
    // host:port
    url: '$HARBOUR_GRAFANA_PG_HOST',
    user: '$HARBOUR_GRAFANA_PG_USER',
    editable: false,
    jsonData: {
      database: '$HARBOUR_GRAFANA_PG_DATABASE',
      sslmode: '$HARBOUR_GRAFANA_PG_SSLMODE',
      postgresVersion: 1500,
      timescaledb: false,
      maxOpenConns: 5,
    },
    secureJsonData: {
      password: '$HARBOUR_GRAFANA_PG_PASSWORD',
    },
  },
] as const;

/** Dashboards provider: every JSON file of `grafana/dashboards/` in the folder "Harbour". */
export const dashboardProviders = [
  {
    name: 'harbour',
    orgId: 1,
    folder: 'Harbour',
    folderUid: 'harbour',
    type: 'file',
    disableDeletion: true,
    allowUiUpdates: false,
    updateIntervalSeconds: 30,
    options: {
      // The directory grafana/dashboards of this repository (mounted or copied next to Grafana).
      path: '$HARBOUR_GRAFANA_DASHBOARDS_DIR',
      foldersFromFilesStructure: false,
    },
  },
] as const;
