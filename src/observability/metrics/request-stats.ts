// The per-request RED numbers (http_requests_total, http_request_duration_seconds and its
// exemplars), kept in plain arrays and turned into samples only when scraped.
//
// Why not prom-client's Counter and Histogram here: every request touches these two, and
// prom-client validates, copies and hashes the label object on each call. Profiled on the
// trivial /health/live route, that was ~6 % of the server's CPU; this keeps one Map lookup
// and a few increments per request (see the README's Performance section). The objects
// below have the shape prom-client's registry holds (name, help, type, get()), so they live
// in the same registry and render like the rest.
import type { MetricObjectWithValues, MetricValue, OpenMetricsContentType, Registry } from 'prom-client';

interface Exemplar {
  labelSet: { trace_id: string };
  value: number;
  timestamp: number;
}

interface Series {
  method: string;
  endpoint: string;
  /** Non-cumulative: counts[i] requests fell in (bounds[i-1], bounds[i]]; the last is +Inf. */
  counts: Float64Array;
  exemplars: (Exemplar | undefined)[];
  sum: number;
  count: number;
  statuses: Map<number, number>;
}

type Values = MetricObjectWithValues<MetricValue<string>>;

export class RequestStats {
  private readonly series = new Map<string, Series>();
  private readonly bounds: number[];

  constructor(bounds: number[]) {
    this.bounds = bounds;
  }

  record(method: string, endpoint: string, status: number, seconds: number, traceId: string | undefined): void {
    const key = `${method} ${endpoint}`;
    let s = this.series.get(key);
    if (!s) {
      s = { method, endpoint, counts: new Float64Array(this.bounds.length + 1), exemplars: [], sum: 0, count: 0, statuses: new Map() };
      this.series.set(key, s);
    }
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    s.counts[i]! += 1;
    s.sum += seconds;
    s.count += 1;
    s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
    // The latest sampled request of a bucket is its exemplar (OpenMetrics keeps one per bucket).
    if (traceId) s.exemplars[i] = { labelSet: { trace_id: traceId }, value: seconds, timestamp: Date.now() / 1000 };
  }

  /** Registers `http_requests_total` and `http_request_duration_seconds` in `registry`. */
  register(registry: Registry<OpenMetricsContentType>, names: { requests: string; duration: string }): void {
    // prom-client's registry holds anything with a name and get(); exposition.ts only calls get().
    const add = (name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue<string>[]) => {
      const get = async () => ({ name, help, type, aggregator: 'sum', values: values() }) as unknown as Values;
      (registry as unknown as { registerMetric(m: unknown): void }).registerMetric({ name, help, type, aggregator: 'sum', get });
    };
    add(names.requests, 'HTTP requests answered, by method, route template (or "unmatched") and status code.', 'counter', () => {
      const values: MetricValue<string>[] = [];
      for (const s of this.series.values()) {
        for (const [status, value] of s.statuses) values.push({ labels: { method: s.method, endpoint: s.endpoint, status }, value });
      }
      return values;
    });
    add(names.duration, 'Time from the request arriving to its response being sent, by method and route template.', 'histogram', () => {
      const values: (MetricValue<string> & { metricName: string; exemplar?: Exemplar })[] = [];
      for (const s of this.series.values()) {
        let cumulative = 0;
        for (let i = 0; i <= this.bounds.length; i++) {
          cumulative += s.counts[i]!;
          const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
          const exemplar = s.exemplars[i];
          values.push({ metricName: `${names.duration}_bucket`, labels: { le, method: s.method, endpoint: s.endpoint }, value: cumulative, ...(exemplar ? { exemplar } : {}) });
        }
        values.push({ metricName: `${names.duration}_sum`, labels: { method: s.method, endpoint: s.endpoint }, value: s.sum });
        values.push({ metricName: `${names.duration}_count`, labels: { method: s.method, endpoint: s.endpoint }, value: s.count });
      }
      return values;
    });
  }
}
