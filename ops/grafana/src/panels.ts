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
/** The trace data source the exemplars and the latency panels' data links open (provisioning/datasources). */
export const TRACES_UID = 'tempo';

/** The label filter of every query: this service's job and the chosen instances. */
export const F = 'job="glassbox",instance=~"$instance"';
/** Requests of the chosen routes, probes and scrapes left out. */
export const ROUTES = `${F},endpoint=~"$route",endpoint!~"/health/.*|/metrics"`;

export interface Query {
  expr: string;
  legend?: string;
  exemplar?: boolean;
  instant?: boolean;
}

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

/** A data link from a point (an exemplar carries trace_id) to its trace in the trace data source. */
const traceLink = () =>
  new dashboard.DashboardLinkBuilder('Open trace ${__data.fields.trace_id}')
    .url(
      '/explore?schemaVersion=1&panes={"trace":{"datasource":"' +
        TRACES_UID +
        '","queries":[{"refId":"A","datasource":{"type":"tempo","uid":"' +
        TRACES_UID +
        '"},"queryType":"traceql","query":"${__data.fields.trace_id}"}],"range":{"from":"now-1h","to":"now"}}}',
    )
    .targetBlank(true);

export function series(title: string, unit: string, queries: Query[], options: { description?: string; traces?: boolean; w?: number } = {}) {
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
        .calcs(['mean', 'max']),
    );
  if (options.description) panel.description(options.description);
  if (options.traces) panel.dataLinks([traceLink()]);
  queries.forEach((q, i) => panel.withTarget(target(q, i)));
  return panel;
}

export function single(title: string, unit: string, query: Query, options: { description?: string; w?: number; timeFrom?: string; decimals?: number } = {}) {
  const panel = new stat.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(options.w ?? 6)
    .height(6)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .withTarget(target(query, 0));
  if (options.description) panel.description(options.description);
  if (options.timeFrom) panel.timeFrom(options.timeFrom);
  if (options.decimals !== undefined) panel.decimals(options.decimals);
  return panel;
}

export function bars(title: string, unit: string, query: Query, options: { description?: string; w?: number } = {}) {
  const panel = new bargauge.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(options.w ?? 12)
    .height(8)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .withTarget(target({ ...query, instant: true }, 0));
  if (options.description) panel.description(options.description);
  return panel;
}

/** The three variables every Glassbox dashboard has: data source, instance, route. */
export function withVariables(builder: dashboard.DashboardBuilder): dashboard.DashboardBuilder {
  return builder
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new dashboard.QueryVariableBuilder('instance')
        .label('Instance')
        .datasource(DATASOURCE)
        .query('label_values(up{job="glassbox"}, instance)')
        .definition('label_values(up{job="glassbox"}, instance)')
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .sort(dashboard.VariableSort.AlphabeticalAsc),
    )
    .withVariable(
      new dashboard.QueryVariableBuilder('route')
        .label('Route')
        .datasource(DATASOURCE)
        .query('label_values(http_requests_total{job="glassbox"}, endpoint)')
        .definition('label_values(http_requests_total{job="glassbox"}, endpoint)')
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .sort(dashboard.VariableSort.AlphabeticalAsc),
    );
}

export function newDashboard(uid: string, title: string, description: string) {
  return withVariables(
    new dashboard.DashboardBuilder(title)
      .uid(uid)
      .description(description)
      .tags(['glassbox', 'generated'])
      .editable()
      .refresh('30s')
      .time({ from: 'now-1h', to: 'now' })
      .timezone('browser'),
  );
}

export type PanelBuilder = cog.Builder<dashboard.Panel>;
