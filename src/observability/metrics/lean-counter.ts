// A counter with two labels kept in a Map and turned into samples only when scraped, for a
// counter every authenticated request touches (api_calls_total). prom-client's Counter
// validates and hashes the label object on each inc(): ~1 µs a request (profiled), most of
// what this metric cost. The callers keep both labels bounded (a capped tenant, a route
// template), so the Map is bounded too.
import type { OpenMetricsContentType, Registry } from 'prom-client';
import { registerCollected, type Sample } from './lean-histogram.ts';

export class TwoLabelCounter {
  private readonly series = new Map<string, { labels: Record<string, string>; value: number }>();
  private readonly names: readonly [string, string];

  constructor(names: readonly [string, string]) {
    this.names = names;
  }

  inc(first: string, second: string): void {
    const key = `${first}\u0000${second}`;
    const s = this.series.get(key);
    if (s) s.value += 1;
    else this.series.set(key, { labels: { [this.names[0]]: first, [this.names[1]]: second }, value: 1 });
  }

  register(registry: Registry<OpenMetricsContentType>, name: string, help: string): void {
    registerCollected(registry, {
      name,
      help,
      type: 'counter',
      values: () => {
        const out: Sample[] = [];
        for (const s of this.series.values()) out.push({ labels: s.labels, value: s.value });
        return out;
      },
    });
  }
}
