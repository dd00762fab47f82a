// Renders one registry in either exposition format, chosen per scrape by the Accept header:
// - Prometheus text 0.0.4 (the default), which has no exemplars;
// - OpenMetrics 1.0 (`Accept: application/openmetrics-text`, what Prometheus asks for
//   first), which carries the latency histogram's exemplars (trace_id).
//
// The text is written here from prom-client's collected values rather than by
// `registry.metrics()`, for two reasons:
// - In OpenMetrics mode prom-client renames every counter in place
//   (`http_requests_total` → `http_requests`), corrupting every later Prometheus-format
//   scrape; and it accepts exemplars only on an OpenMetrics registry, so one registry
//   cannot serve both formats through it.
// - Its formatter spends most of a scrape escaping and re-spreading label objects: with 100
//   tenants × every route it took ~30 ms a scrape; this one escapes only when a value needs
//   it (see the README's Performance section for the figures).
import { Registry, type MetricObjectWithValues, type MetricValue, type OpenMetricsContentType } from 'prom-client';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
};

/** OpenMetrics when the scraper lists it at all (Prometheus sends it with q=1, text/plain lower). */
export function formatFor(accept: string | undefined): ExpositionFormat {
  return accept?.includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus';
}

interface Exemplar {
  labelSet: Record<string, string | number>;
  value: number | null;
  timestamp?: number;
}
type Sample = MetricValue<string> & { metricName?: string; exemplar?: Exemplar | null };

const NEEDS_ESCAPE = /[\\"\n]/;
/** A label value: backslash, double quote and newline escaped (both formats). */
const labelValue = (value: string | number) => {
  const s = String(value);
  return NEEDS_ESCAPE.test(s) ? s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : s;
};
/** HELP text: backslash and newline escaped (OpenMetrics escapes the double quote too). */
const helpText = (help: string, openMetrics: boolean) => {
  const s = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? s.replace(/"/g, '\\"') : s;
};
const number = (value: number) => (Number.isNaN(value) ? 'NaN' : value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value));

function labels(set: Record<string, string | number | undefined>): string {
  let out = '';
  for (const key in set) {
    const value = set[key];
    if (value === undefined) continue;
    out += `${out ? ',' : ''}${key}="${labelValue(value)}"`;
  }
  return out ? `{${out}}` : '';
}

function family(metric: MetricObjectWithValues<MetricValue<string>>, openMetrics: boolean): string {
  const isCounter = String(metric.type) === 'counter';
  // OpenMetrics names a counter family without `_total`; its samples keep the suffix.
  const name = openMetrics && isCounter ? metric.name.replace(/_total$/, '') : metric.name;
  let out = `# HELP ${name} ${helpText(metric.help, openMetrics)}\n# TYPE ${name} ${metric.type}\n`;
  for (const sample of metric.values as Sample[]) {
    const sampleName = sample.metricName ?? (openMetrics && isCounter ? `${name}_total` : name);
    out += `${sampleName}${labels(sample.labels)} ${number(sample.value)}`;
    const exemplar = sample.exemplar;
    if (openMetrics && exemplar && exemplar.value !== null && Object.keys(exemplar.labelSet).length > 0) {
      out += ` # ${labels(exemplar.labelSet)} ${number(exemplar.value)}${exemplar.timestamp === undefined ? '' : ` ${exemplar.timestamp}`}`;
    }
    out += '\n';
  }
  return out;
}

export async function renderExposition(registry: Registry<OpenMetricsContentType>, format: ExpositionFormat): Promise<string> {
  const openMetrics = format === 'openmetrics';
  // get() runs each metric's collect() (pool, Redis, runtime gauges) and returns its values.
  const metrics = await Promise.all(
    registry.getMetricsAsArray().map((m) => (m as unknown as { get(): Promise<MetricObjectWithValues<MetricValue<string>>> }).get()),
  );
  let out = '';
  for (const metric of metrics) out += family(metric, openMetrics) + (openMetrics ? '' : '\n');
  return openMetrics ? `${out}# EOF\n` : out;
}
