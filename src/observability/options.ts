// Every option of the observability layer, documented in this one place. Fastify takes a
// logger only in its constructor, so the layer has two halves: `observabilityServerOptions`
// for `Fastify(…)` and the plugin for `app.register(observability, options)`.
import type { ErrorReporting } from './errors/error-reporting.ts';
import type { LifecycleState, ReadinessCheck } from './health/health.routes.ts';
import type { Metrics } from './metrics/metrics.ts';

/** Readiness probing: how long each check may take, and how long one round's result is reused. */
export interface HealthOptions {
  /** Each readiness check's bound (HEALTH_CHECK_TIMEOUT_MS). Default 1000. */
  checkTimeoutMs?: number;
  /** One round of checks is in flight at a time and its result reused this long (HEALTH_CACHE_MS). Default 1000. */
  cacheMs?: number;
}

/** Overload protection (@fastify/under-pressure): past a limit every route but the probes answers 503 with Retry-After. 0 leaves a limit unwatched. */
export interface OverloadOptions {
  /** MAX_EVENT_LOOP_DELAY_MS; also the threshold of the `event_loop_blocked` warning. Default 1000. */
  maxEventLoopDelayMs?: number;
  /** MAX_HEAP_USED_MB, in bytes. Default 0 (unwatched). */
  maxHeapUsedBytes?: number;
  /** MAX_RSS_MB, in bytes. Default 0 (unwatched). */
  maxRssBytes?: number;
  /** The Retry-After of a 503 under pressure, in seconds. Default 10. */
  retryAfterSeconds?: number;
}

/** A per-tenant rate limit (@fastify/rate-limit) on the routes that identify a tenant. */
export interface RateLimitOptions {
  /** Requests per tenant per minute (RATE_LIMIT_PER_MINUTE). */
  perMinute: number;
  /** An ioredis client: the count is kept in Redis, so the limit holds across replicas. Default: in memory. */
  redis?: unknown;
}

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
  /** Readiness check bounds and caching. */
  health?: HealthOptions;
  /** Requests slower than this log `slow_request` (warn) with route, status, duration_ms, trace_id (SLOW_REQUEST_MS). Default 1000; 0: never. */
  slowRequestMs?: number;
  /** Overload protection; `false`: off. Default: on with the defaults of OverloadOptions. */
  overload?: OverloadOptions | false;
  /** Per-tenant rate limit; default off. */
  rateLimit?: RateLimitOptions | false;
  /** Bearer token of the operator endpoints `/admin/*` (ADMIN_TOKEN); unset: they answer 404. */
  adminToken?: string;
}
