// Node runtime and process metrics under prom-client's usual names (process_cpu_*,
// process_resident_memory_bytes, nodejs_heap_*, nodejs_eventloop_lag_*, nodejs_gc_duration_seconds…).
//
// Dropped: nodejs_active_handles_total, nodejs_active_requests_total and
// nodejs_active_resources_total. They are gauges with a counter's `_total` suffix, which
// `promtool check metrics` rejects; their per-type siblings (nodejs_active_handles{type},
// nodejs_active_requests{type}, nodejs_active_resources{type}) carry the same numbers, and
// `sum()` over them gives the totals.
import { collectDefaultMetrics, type OpenMetricsContentType, type Registry } from 'prom-client';

const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function registerRuntimeMetrics(registry: Registry<OpenMetricsContentType>): void {
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
}
