// Every option of the observability layer, documented in this one place. Fastify takes a
// logger only in its constructor, so the layer has two halves: `observabilityServerOptions`
// for `Fastify(…)` and the plugin for `app.register(observability, options)`.
import type { ErrorReporting } from './errors/error-reporting.ts';
import type { LifecycleState, ReadinessCheck } from './health/health.routes.ts';
import type { Metrics } from './metrics/metrics.ts';

export interface ObservabilityOptions {
  /**
   * A server span per request (`<METHOD> <route template>`), the handler run inside it.
   * Default: on when the `--import` entry started the OpenTelemetry SDK
   * (`OTEL_SDK_DISABLED=true` or no entry: off).
   */
  tracing?: boolean;
  /**
   * The metrics facade behind the HTTP metrics and `GET /metrics`. Default: one of the
   * layer's own with the HTTP, per-tenant API, runtime and span-export series; a service
   * with a database or business series of its own passes one made by `createMetrics`.
   * `false`: no metric hooks and no `/metrics` (METRICS_ENABLED=false).
   */
  metrics?: Metrics | false;
  /** Tenant label values per metric before `other`, for the default metrics (METRICS_MAX_TENANTS). Default 100. */
  maxTenants?: number;
  /** What `/health/ready` checks: each resolves when healthy, rejects with a short reason. Default none. */
  readiness?: ReadinessCheck[];
  /**
   * Shared with the process's lifecycle: `started` (false answers `/health/startup` 503),
   * `shuttingDown` (true answers `/health/ready` 503 and closes every connection after its
   * answer). Default: started, not shutting down.
   */
  lifecycle?: LifecycleState;
  /** Where every 5xx is reported, once per request (error trackers). Default: nowhere. */
  errors?: ErrorReporting;
  /**
   * How often lost spans (export queue full, failed exports) are logged as one
   * `telemetry_spans_dropped` warning; 0: never. They are counted in `/metrics` regardless.
   * Default 60000.
   */
  telemetryLossIntervalMs?: number;
}
