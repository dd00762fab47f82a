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

/**
 * Overload protection (@fastify/under-pressure): while a limit is passed, every route but
 * `/health/*`, `/metrics` and `/admin/*` answers 503 `service_unavailable` with Retry-After
 * (not reported to error tracking), `/health/ready` answers 503 with the reason under
 * `checks.pressure`, and `/health/live` stays 200. 0 leaves a limit unwatched; with all three
 * at 0 nothing is registered. Uses the `memoryUsage` and `isUnderPressure` decorators, so a
 * service must not register @fastify/under-pressure itself.
 */
export interface OverloadOptions {
  /**
   * MAX_EVENT_LOOP_DELAY_MS: shedding starts when the *mean* event-loop delay over one sample
   * interval passes it; a single stall longer than it logs `event_loop_blocked` (warn, delay_ms).
   * Default 1000.
   */
  maxEventLoopDelayMs?: number;
  /** MAX_HEAP_USED_MB, in bytes. Default 0 (unwatched). */
  maxHeapUsedBytes?: number;
  /** MAX_RSS_MB, in bytes. Default 0 (unwatched). */
  maxRssBytes?: number;
  /** The Retry-After of a 503 under pressure, in seconds. Default 10. */
  retryAfterSeconds?: number;
  /** How often the event loop, heap and RSS are read (so how fast pressure starts and ends). Default 1000. */
  sampleIntervalMs?: number;
}

/**
 * A per-tenant rate limit (@fastify/rate-limit) on the requests that act for a tenant
 * (`request.identity`, bound in an onRequest hook); others are not limited. Fixed one-minute
 * windows; every counted answer carries RateLimit-Limit, RateLimit-Remaining and
 * RateLimit-Reset, a refusal is 429 `too_many_requests` with Retry-After, counted in
 * `rate_limited_requests_total{tenant_id}`. A failing store lets requests through (one
 * `rate_limit_store_failed` warning a minute).
 */
export interface RateLimitOptions {
  /** Requests per tenant per minute (RATE_LIMIT_PER_MINUTE); 0: off. */
  perMinute: number;
  /**
   * An ioredis client: the count is kept in Redis, so the limit holds across replicas. Give it
   * fail-fast options (`enableOfflineQueue: false`, `maxRetriesPerRequest: 1`), or a Redis
   * outage holds requests until ioredis gives up. Default: in memory, per process.
   */
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
  /** Per-tenant rate limit; `false` or absent: off. */
  rateLimit?: RateLimitOptions | false;
  /** Bearer token of the operator endpoints `/admin/*` (ADMIN_TOKEN); unset: they answer 404. */
  adminToken?: string;
}
