// The metrics facade: modules call `metrics.revenue(…)` and never touch prom-client. One
// registry per app instance, so a test can build an app and read exactly what its own
// requests counted. Names and labels are the CONTRACT's (its Metrics section), which
// dashboards and alert rules depend on.
//
// The series come in groups, so any service can adopt the layer (observability/plugin.ts),
// even one with no database: the core ones always (core-metrics.ts), the others only when
// asked for (database-, cache-, business-, telemetry-metrics.ts). A group not asked for
// registers nothing, so its series are absent from /metrics, and its methods do nothing:
// the facade has one shape whatever the service has.
//
// Cardinality is bounded by construction:
// - tenant_id values are capped per metric at METRICS_MAX_TENANTS (the rest: `other`);
// - products per tenant, decline reasons and signup sources are capped the same way;
// - `endpoint` is a route template or `unmatched`, never a raw path (http-metrics.ts);
// - histograms carry no tenant label at all.
import { Registry, type OpenMetricsContentType } from 'prom-client';
import { businessMetrics } from './business-metrics.ts';
import { cacheMetrics } from './cache-metrics.ts';
import { coreMetrics } from './core-metrics.ts';
import { databaseMetrics } from './database-metrics.ts';
import { renderExposition } from './exposition.ts';
import type { Metrics, MetricsOptions } from './metrics-types.ts';
import { registerRuntimeMetrics } from './runtime-metrics.ts';
import { registerExportBlockingMetric, registerTelemetryMetrics } from './telemetry-metrics.ts';

export { ACTIVE_USERS_WINDOW_MS, HTTP_DURATION_BUCKETS } from './core-metrics.ts';
export { DB_DURATION_BUCKETS } from './database-metrics.ts';
export { MAX_FAILURE_REASONS, MAX_PRODUCTS_PER_TENANT } from './business-metrics.ts';

export type { Metrics, MetricsOptions, PoolStats } from './metrics-types.ts';

const noop = () => {};

/** METRICS_ENABLED=false: the same calls, doing nothing (and no /metrics route). */
export const DISABLED_METRICS: Metrics = {
  enabled: false,
  requestStarted: noop,
  requestFinished: noop,
  apiCall: noop,
  userSeen: noop,
  rateLimited: noop,
  queryFinished: noop,
  slowQuery: noop,
  cacheLookup: noop,
  watch: noop,
  revenue: noop,
  signup: noop,
  order: noop,
  paymentFailed: noop,
  render: () => Promise.resolve(''),
  registry: undefined,
};

export function createMetrics(options: MetricsOptions): Metrics {
  // OpenMetrics-typed because prom-client allows exemplars on no other; exposition.ts renders both formats.
  // (prom-client's declarations omit the constructor's content-type parameter.)
  const registry = new (Registry as unknown as new (contentType: OpenMetricsContentType) => Registry<OpenMetricsContentType>)(
    Registry.OPENMETRICS_CONTENT_TYPE,
  );

  const core = coreMetrics(registry, { maxTenants: options.maxTenants, now: options.now ?? Date.now });
  const database = options.database ? databaseMetrics(registry) : undefined;
  const cache = options.cache ? cacheMetrics(registry, options.cache.names) : undefined;
  const business = options.business ? businessMetrics(registry, { maxTenants: options.maxTenants }) : undefined;
  if (options.telemetry) registerTelemetryMetrics(registry, options.telemetry);
  if (options.exportBlocking) registerExportBlockingMetric(registry, options.exportBlocking);
  if (options.runtime !== false) registerRuntimeMetrics(registry);

  return {
    // A group not asked for keeps DISABLED_METRICS' no-ops.
    ...DISABLED_METRICS,
    ...core,
    ...database,
    ...cache,
    ...business,
    enabled: true,
    registry,
    watch(sources) {
      database?.watch(sources);
      cache?.watch(sources);
    },
    render: (format) => renderExposition(registry, format),
  };
}
