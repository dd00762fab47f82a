// The per-request RED numbers (http_requests_total, http_request_duration_seconds and its
// exemplars), kept in plain arrays and turned into samples only when scraped: every request
// touches them, so they skip prom-client's per-call label handling (lean-histogram.ts says
// what that cost). One Map lookup and a few increments per request.
import type { OpenMetricsContentType, Registry } from 'prom-client';
import { Buckets, registerCollected, type Sample } from './lean-histogram.ts';

interface Series {
  method: string;
  endpoint: string;
  latency: Buckets;
  statuses: Map<number, number>;
}

export class RequestStats {
  private readonly series = new Map<string, Series>();
  private readonly bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
  }

  record(method: string, endpoint: string, status: number, seconds: number, traceId: string | undefined): void {
    const key = `${method} ${endpoint}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { method, endpoint, latency: new Buckets(this.bounds), statuses: new Map() }));
    s.latency.observe(seconds, traceId);
    s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
  }

  /** Registers `http_requests_total` and `http_request_duration_seconds` in `registry`. */
  register(registry: Registry<OpenMetricsContentType>, names: { requests: string; duration: string }): void {
    registerCollected(registry, {
      name: names.requests,
      help: 'HTTP requests answered, by method, route template (or "unmatched") and status code.',
      type: 'counter',
      values: () => {
        const values: Sample[] = [];
        for (const s of this.series.values()) {
          for (const [status, value] of s.statuses) values.push({ labels: { method: s.method, endpoint: s.endpoint, status }, value });
        }
        return values;
      },
    });
    registerCollected(registry, {
      name: names.duration,
      help: 'Time from the request arriving to its response being sent, by method and route template.',
      type: 'histogram',
      values: () => {
        const values: Sample[] = [];
        for (const s of this.series.values()) s.latency.samples(names.duration, { method: s.method, endpoint: s.endpoint }, values);
        return values;
      },
    });
  }
}
