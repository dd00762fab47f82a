// The few panel shapes Glassbox's dashboards use, on @grafana/grafana-foundation-sdk 0.0.21
// (pinned exactly: the builder API changes between pre-1.0 releases). Every query runs on the
// `$datasource` variable and every dashboard has the same three variables.
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
/** The trace data source (provisioning/datasources/datasources.yml) that exemplars and the latency links open. */
export const TRACES = { uid: 'tempo', name: 'Tempo' } as const;

/** This service's series on the chosen instances: the filter of every non-SLO query. */
export const SERVICE = 'job="glassbox",instance=~"$instance"';
/** ... and on the chosen routes, for the series with an `endpoint` label. */
export const ROUTE = `${SERVICE},endpoint=~"$route"`;
/** ... the requests callers make: probes and scrapes left out, as the RED recording rules and the SLOs do. */
export const CALLERS = `${ROUTE},endpoint!~"/health/.*|/metrics"`;

/** `rate()` over Grafana's rate interval (at least four scrapes, whatever the zoom). */
export const rate = (selector: string) => `rate(${selector}[$__rate_interval])`;

export interface Query {
  expr: string;
  legend?: string;
  /** Ask Prometheus for the exemplars (trace_id) of the histogram this query reads. */
  exemplar?: boolean;
  instant?: boolean;
}

/** Threshold steps above a base colour: the lines and colours of the alerting thresholds. */
export type Steps = { base: string; steps: [value: number, color: string][] };

function target(q: Query, i: number) {
  const t = new prometheus.DataqueryBuilder()
    .datasource(DATASOURCE)
    .refId(String.fromCharCode(65 + i))
    .expr(q.expr)
    .legendFormat(q.legend ?? '__auto');
  if (q.exemplar) t.exemplar(true);
  if (q.instant) t.instant();
  return t;
}

function thresholds({ base, steps }: Steps) {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]);
}

/**
 * A field data link to the trace of a point's `trace_id` (an exemplar carries one) in the
 * trace data source. Grafana's field links are DataLinks, which may be "internal" (open a
 * query of another data source in Explore, as the exemplar destinations do); the SDK 0.0.21
 * types field links as DashboardLink, which lacks `internal`, hence the cast.
 */
const traceLink: cog.Builder<dashboard.DashboardLink> = {
  build: () =>
    ({
      title: 'Trace ${__data.fields.trace_id}',
      url: '',
      internal: {
        datasourceUid: TRACES.uid,
        datasourceName: TRACES.name,
        query: { queryType: 'traceql', query: '${__data.fields.trace_id}' },
      },
    }) as unknown as dashboard.DashboardLink,
};

interface SeriesOptions {
  description?: string;
  w?: number;
  /** Dashed lines at these thresholds (an alert's, an SLO's). */
  thresholds?: Steps;
  /** Links a point to its trace by trace_id. */
  traces?: boolean;
  min?: number;
}

export function series(title: string, unit: string, queries: Query[], options: SeriesOptions = {}) {
  const panel = new timeseries.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(options.w ?? 12)
    .height(8)
    .fillOpacity(10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Bottom)
        .showLegend(true)
        .calcs(['mean', 'max', 'lastNotNull']),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (options.description) panel.description(options.description);
  if (options.min !== undefined) panel.min(options.min);
  if (options.thresholds) {
    panel
      .thresholds(thresholds(options.thresholds))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  }
  if (options.traces) panel.dataLinks([traceLink]);
  queries.forEach((q, i) => panel.withTarget(target(q, i)));
  return panel;
}

interface SingleOptions {
  description?: string;
  w?: number;
  /** The panel's own time range, e.g. `now/d` for "today". */
  timeFrom?: string;
  decimals?: number;
  thresholds?: Steps;
  mappings?: dashboard.ValueMapping[];
}

export function single(title: string, unit: string, query: Query, options: SingleOptions = {}) {
  const panel = new stat.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(options.w ?? 6)
    .height(8)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(options.thresholds || options.mappings ? common.BigValueColorMode.Background : common.BigValueColorMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .withTarget(target(query, 0));
  if (options.description) panel.description(options.description);
  if (options.timeFrom) panel.timeFrom(options.timeFrom);
  if (options.decimals !== undefined) panel.decimals(options.decimals);
  if (options.thresholds) panel.thresholds(thresholds(options.thresholds));
  if (options.mappings) panel.mappings(options.mappings);
  return panel;
}

/** Horizontal bars of an instant query: a top-N. */
export function bars(title: string, unit: string, query: Query, options: { description?: string; w?: number } = {}) {
  const panel = new bargauge.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(options.w ?? 12)
    .height(8)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .withTarget(target({ ...query, instant: true }, 0));
  if (options.description) panel.description(options.description);
  return panel;
}

export const row = (title: string) => new dashboard.RowBuilder(title);

function queryVariable(name: string, label: string, query: string) {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .sort(dashboard.VariableSort.AlphabeticalAsc);
}

/** A dashboard with what all four share: tags, links to the others, the data source, instance and route variables. */
export function newDashboard(uid: string, title: string, description: string) {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['glassbox', 'generated'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .link(
      new dashboard.DashboardLinkBuilder('Glassbox')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['glassbox'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(queryVariable('instance', 'Instance', 'label_values(up{job="glassbox"}, instance)'))
    .withVariable(queryVariable('route', 'Route', 'label_values(http_requests_total{job="glassbox"}, endpoint)'));
}
