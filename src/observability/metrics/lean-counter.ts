// A counter with two labels kept in nested Maps and turned into samples only when scraped,
// for a counter every authenticated request touches (api_calls_total). prom-client's Counter
// validates and hashes the label object on each inc(): ~1 µs a request (profiled), most of
// what this metric cost. The callers keep both labels bounded (a capped tenant, a route
// template), so the Maps are bounded too.
//
// Nested rather than one Map keyed by a joined string: no separator can collide with a
// label value (a tenant id comes from whatever identity a service binds), and an increment
// builds no key string.
import type { OpenMetricsContentType, Registry } from 'prom-client';
import { registerCollected, type Sample } from './lean-histogram.ts';

interface Series {
  labels: Record<string, string>;
  value: number;
}

export class TwoLabelCounter {
  private readonly series = new Map<string, Map<string, Series>>();
  private readonly names: readonly [string, string];

  constructor(names: readonly [string, string]) {
    this.names = names;
  }

  inc(first: string, second: string): void {
    let inner = this.series.get(first);
    if (!inner) this.series.set(first, (inner = new Map()));
    const s = inner.get(second);
    if (s) s.value += 1;
    else inner.set(second, { labels: { [this.names[0]]: first, [this.names[1]]: second }, value: 1 });
  }

  register(registry: Registry<OpenMetricsContentType>, name: string, help: string): void {
    registerCollected(registry, {
      name,
      help,
      type: 'counter',
      values: () => {
        const out: Sample[] = [];
        for (const inner of this.series.values()) for (const s of inner.values()) out.push({ labels: s.labels, value: s.value });
        return out;
      },
    });
  }
}
