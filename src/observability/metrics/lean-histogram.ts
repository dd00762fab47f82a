// Histograms kept in typed arrays and turned into samples only when scraped, for the
// metrics every request or query touches.
//
// Why not prom-client's Histogram there: it validates, copies and hashes the label object
// on each observe(). Profiled, that was ~6 % of the server's CPU on /health/live (the RED
// series, request-stats.ts) and ~1 % on an authenticated read (db_query_duration_seconds,
// one observe per query). Here an observation is a Map lookup and a few increments. The
// objects registered have the shape prom-client's registry holds (name, help, type, get()),
// so they live in the same registry and render like the rest (exposition.ts calls get()).
import type { MetricObjectWithValues, MetricValue, OpenMetricsContentType, Registry } from 'prom-client';

export interface Exemplar {
  labelSet: { trace_id: string };
  value: number;
  timestamp: number;
}

export type Sample = MetricValue<string> & { metricName?: string; exemplar?: Exemplar };

/** One histogram series: non-cumulative bucket counts, their exemplars, sum and count. */
export class Buckets {
  /** counts[i] observations fell in (bounds[i-1], bounds[i]]; the last is +Inf. */
  private readonly counts: Float64Array;
  private readonly exemplars: (Exemplar | undefined)[] = [];
  private sum = 0;
  private count = 0;
  private readonly bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number, traceId?: string): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
    // The latest sampled observation of a bucket is its exemplar (OpenMetrics keeps one per bucket).
    if (traceId) this.exemplars[i] = { labelSet: { trace_id: traceId }, value, timestamp: Date.now() / 1000 };
  }

  /** Appends `<name>_bucket` (cumulative), `_sum` and `_count` samples with `labels`. */
  samples(name: string, labels: Record<string, string | number>, out: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      const exemplar = this.exemplars[i];
      out.push({
        metricName: `${name}_bucket`,
        labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf', ...labels },
        value: cumulative,
        ...(exemplar ? { exemplar } : {}),
      });
    }
    out.push({ metricName: `${name}_sum`, labels, value: this.sum });
    out.push({ metricName: `${name}_count`, labels, value: this.count });
  }
}

/** Registers a hand-kept metric whose samples `values()` computes at scrape time. */
export function registerCollected(
  registry: Registry<OpenMetricsContentType>,
  metric: { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; values: () => Sample[] },
): void {
  const { name, help, type, values } = metric;
  const get = async () => ({ name, help, type, aggregator: 'sum', values: values() }) as unknown as MetricObjectWithValues<MetricValue<string>>;
  (registry as unknown as { registerMetric(m: unknown): void }).registerMetric({ name, help, type, aggregator: 'sum', get });
}

/** A histogram with one label whose values the caller keeps bounded (an operation name). */
export class LabeledHistogram {
  private readonly series = new Map<string, Buckets>();
  private readonly label: string;
  private readonly bounds: readonly number[];

  constructor(label: string, bounds: readonly number[]) {
    this.label = label;
    this.bounds = bounds;
  }

  observe(labelValue: string, value: number): void {
    let buckets = this.series.get(labelValue);
    if (!buckets) this.series.set(labelValue, (buckets = new Buckets(this.bounds)));
    buckets.observe(value);
  }

  register(registry: Registry<OpenMetricsContentType>, name: string, help: string): void {
    registerCollected(registry, {
      name,
      help,
      type: 'histogram',
      values: () => {
        const out: Sample[] = [];
        for (const [value, buckets] of this.series) buckets.samples(name, { [this.label]: value }, out);
        return out;
      },
    });
  }
}
