/**
 * Small typed builders for Grafana dashboards (JSON model, schemaVersion 42) on top of the types of
 * `@grafana/schema`: the dashboard, panel, variable and field config shapes, and each panel
 * plugin's own options (timeseries, stat, bar gauge, table).
 */
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BarGaugeSizing,
  BarGaugeValueMode,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  type Dashboard,
  DashboardCursorSync,
  type DataSourceRef,
  FieldColorModeId,
  type FieldConfigSource,
  GraphDrawStyle,
  LegendDisplayMode,
  type Panel,
  PercentChangeColorMode,
  type RowPanel,
  SortOrder,
  StackingMode,
  TableCellDisplayMode,
  TableCellHeight,
  type ThresholdsConfig,
  ThresholdsMode,
  TooltipDisplayMode,
  type VariableModel,
  VariableRefresh,
  VariableSort,
  VisibilityMode,
  VizOrientation,
} from '@grafana/schema';
import type * as BarGauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as Table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import { POSTGRES, PROMETHEUS } from './datasources.ts';

export const SCHEMA_VERSION = 42;

// ---------------------------------------------------------------- queries

// Object type aliases (not interfaces): a panel's `targets` are `Record<string, unknown>`.
export type PromTarget = {
  refId: string;
  datasource: DataSourceRef;
  expr: string;
  legendFormat: string;
  range: boolean;
  instant: boolean;
  editorMode: 'code';
};

export type SqlTarget = {
  refId: string;
  datasource: DataSourceRef;
  rawSql: string;
  format: 'time_series' | 'table';
  rawQuery: true;
  editorMode: 'code';
};

export type Target = PromTarget | SqlTarget;
export type Query = Omit<PromTarget, 'refId'> | Omit<SqlTarget, 'refId'>;

/** PromQL over the dashboard range; `legend` uses `{{label}}`. */
export function prom(expr: string, legend = ''): Omit<PromTarget, 'refId'> {
  return {
    datasource: PROMETHEUS,
    expr: dedent(expr),
    legendFormat: legend,
    range: true,
    instant: false,
    editorMode: 'code',
  };
}

/** SQL on the Harbour Postgres; `time_series` wants columns `time`, optional `metric`, values. */
export function sql(rawSql: string, format: SqlTarget['format'] = 'table'): Omit<SqlTarget, 'refId'> {
  return { datasource: POSTGRES, rawSql: dedent(rawSql), format, rawQuery: true, editorMode: 'code' };
}

function dedent(text: string): string {
  const lines = text.replace(/^\n+|\s+$/g, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

function withRefIds(targets: Query[]): Target[] {
  return targets.map((t, i) => ({ ...t, refId: String.fromCharCode(65 + i) }) as Target);
}

function datasourceOf(targets: Query[]): DataSourceRef {
  const uids = new Set(targets.map((t) => t.datasource.uid));
  if (uids.size !== 1)
    throw new Error(`a panel's queries must share one data source, got ${[...uids].join(', ')}`);
  return targets[0]!.datasource;
}

// ---------------------------------------------------------------- field config

export interface FieldOptions {
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  /** Steps above the base colour: `[[value, colour], …]`, base green. */
  thresholds?: [number, string][];
  noValue?: string;
}

function thresholds(steps: [number, string][] = []): ThresholdsConfig {
  // The base step's value is null: -Infinity in Grafana's model.
  return {
    mode: ThresholdsMode.Absolute,
    steps: [{ value: null, color: 'green' }, ...steps.map(([value, color]) => ({ value, color }))],
  };
}

function fieldConfig<C extends Record<string, unknown>>(
  o: FieldOptions,
  custom: C,
  colorMode = FieldColorModeId.PaletteClassic,
): FieldConfigSource<C> {
  return {
    defaults: {
      color: { mode: colorMode },
      custom,
      thresholds: thresholds(o.thresholds),
      ...(o.unit ? { unit: o.unit } : {}),
      ...(o.min !== undefined ? { min: o.min } : {}),
      ...(o.max !== undefined ? { max: o.max } : {}),
      ...(o.decimals !== undefined ? { decimals: o.decimals } : {}),
      ...(o.noValue ? { noValue: o.noValue } : {}),
    },
    overrides: [],
  };
}

// ---------------------------------------------------------------- panels

export interface PanelSpec extends FieldOptions {
  title: string;
  description?: string;
  targets: Query[];
  /** Grid width (of 24) and height; the layout places panels left to right. */
  w?: number;
  h?: number;
}

type Built = Panel & { targets: Target[] };

function panel(type: string, spec: PanelSpec, options: object, fc: FieldConfigSource): Built {
  return {
    type,
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    datasource: datasourceOf(spec.targets),
    targets: withRefIds(spec.targets),
    options: { ...options },
    fieldConfig: fc,
    gridPos: { x: 0, y: 0, w: spec.w ?? 12, h: spec.h ?? 8 },
  };
}

export interface TimeSeriesSpec extends PanelSpec {
  style?: 'line' | 'bars' | 'points';
  stack?: boolean;
  legend?: 'list' | 'table';
}

export function timeseries(spec: TimeSeriesSpec): Built {
  const options: TimeSeries.Options = {
    legend: {
      showLegend: true,
      displayMode: spec.legend === 'table' ? LegendDisplayMode.Table : LegendDisplayMode.List,
      placement: 'bottom',
      calcs: spec.legend === 'table' ? ['lastNotNull', 'max'] : [],
    },
    tooltip: { mode: TooltipDisplayMode.Multi, sort: SortOrder.Descending },
  };
  const drawStyle =
    spec.style === 'bars'
      ? GraphDrawStyle.Bars
      : spec.style === 'points'
        ? GraphDrawStyle.Points
        : GraphDrawStyle.Line;
  const custom: TimeSeries.FieldConfig = {
    drawStyle,
    lineWidth: 1,
    fillOpacity: spec.style === 'bars' ? 80 : 10,
    showPoints: spec.style === 'points' ? VisibilityMode.Always : VisibilityMode.Auto,
    pointSize: 4,
    spanNulls: false,
    stacking: { mode: spec.stack ? StackingMode.Normal : StackingMode.None, group: 'A' },
  };
  return panel('timeseries', spec, options, fieldConfig(spec, { ...custom }));
}

export interface StatSpec extends PanelSpec {
  /** Colour the background by thresholds (default: the value only). */
  background?: boolean;
  graph?: boolean;
}

export function stat(spec: StatSpec): Built {
  const options: Stat.Options = {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    orientation: VizOrientation.Auto,
    textMode: BigValueTextMode.Auto,
    colorMode: spec.background ? BigValueColorMode.Background : BigValueColorMode.Value,
    graphMode: spec.graph ? BigValueGraphMode.Area : BigValueGraphMode.None,
    justifyMode: BigValueJustifyMode.Auto,
    showPercentChange: false,
    percentChangeColorMode: PercentChangeColorMode.Standard,
    wideLayout: true,
  };
  return panel('stat', { h: 5, ...spec }, options, fieldConfig(spec, {}, FieldColorModeId.Thresholds));
}

export function bargauge(spec: PanelSpec): Built {
  const options: BarGauge.Options = {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    orientation: VizOrientation.Horizontal,
    displayMode: BarGaugeDisplayMode.Gradient,
    valueMode: BarGaugeValueMode.Color,
    namePlacement: BarGaugeNamePlacement.Auto,
    showUnfilled: true,
    sizing: BarGaugeSizing.Auto,
    minVizHeight: 16,
    minVizWidth: 8,
    maxVizHeight: 300,
    legend: { showLegend: false, displayMode: LegendDisplayMode.List, placement: 'bottom', calcs: [] },
  };
  return panel('bargauge', spec, options, fieldConfig(spec, {}, FieldColorModeId.Thresholds));
}

export interface TableSpec extends PanelSpec {
  sortBy?: { column: string; desc?: boolean };
}

export function table(spec: TableSpec): Built {
  const options: Table.Options = {
    showHeader: true,
    frameIndex: 0,
    cellHeight: TableCellHeight.Sm,
    ...(spec.sortBy
      ? { sortBy: [{ displayName: spec.sortBy.column, desc: spec.sortBy.desc ?? false }] }
      : {}),
  };
  const custom: Table.FieldConfig = {
    align: 'auto',
    cellOptions: { type: TableCellDisplayMode.Auto },
    inspect: false,
    filterable: true,
  };
  return panel('table', spec, options, fieldConfig(spec, { ...custom }, FieldColorModeId.Thresholds));
}

// ---------------------------------------------------------------- variables

/** A variable filled by a SQL query (`__value`/`__text` columns, or one column). */
export function sqlVariable(v: {
  name: string;
  label: string;
  query: string;
  multi?: boolean;
}): VariableModel {
  return {
    type: 'query',
    name: v.name,
    label: v.label,
    datasource: POSTGRES,
    query: dedent(v.query),
    refresh: VariableRefresh.onDashboardLoad,
    sort: VariableSort.disabled,
    multi: v.multi ?? false,
    includeAll: false,
    options: [],
  };
}

/** A variable with fixed choices; the first is the default. */
export function customVariable(v: { name: string; label: string; values: string[] }): VariableModel {
  const [first] = v.values;
  return {
    type: 'custom',
    name: v.name,
    label: v.label,
    query: v.values.join(','),
    multi: false,
    includeAll: false,
    current: { text: first!, value: first! },
    options: v.values.map((value) => ({ text: value, value, selected: value === first })),
  };
}

// ---------------------------------------------------------------- dashboard

export interface RowSpec {
  title: string;
  panels: Built[];
}

/** Lays rows and panels out on the 24-column grid (panels wrap), numbers them, and builds the dashboard. */
export function dashboard(d: {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  from?: string;
  refresh?: string;
  variables?: VariableModel[];
  rows: RowSpec[];
}): Dashboard {
  const panels: (Panel | RowPanel)[] = [];
  let id = 1;
  let y = 0;
  for (const row of d.rows) {
    panels.push({
      type: 'row',
      id: id++,
      title: row.title,
      collapsed: false,
      panels: [],
      gridPos: { x: 0, y, w: 24, h: 1 },
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      const { w, h } = p.gridPos!;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push({ ...p, id: id++, gridPos: { x, y, w, h } });
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: d.tags,
    editable: false,
    graphTooltip: DashboardCursorSync.Crosshair,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: { from: d.from ?? 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    refresh: d.refresh ?? '',
    links: [
      {
        title: 'Harbour',
        type: 'dashboards',
        tags: ['harbour'],
        asDropdown: true,
        includeVars: false,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      },
    ],
    templating: { list: d.variables ?? [] },
    annotations: { list: [] },
    panels,
  };
}

/** The dashboard's panels, rows left out. */
export function panelsOf(d: Dashboard): (Panel & { targets?: Record<string, unknown>[] })[] {
  return (d.panels ?? []).filter((p): p is Panel => p.type !== 'row');
}
