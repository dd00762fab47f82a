// The shape of the metrics facade and of its options, apart from the code that builds it
// (metrics.ts), so each group's file can name the methods it implements without importing
// the file that composes the groups.
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { ExportBlockingCounts } from '../tracing/export-blocking.ts';
import type { TelemetryLoss } from '../tracing/telemetry-loss.ts';
import type { ExpositionFormat } from './exposition.ts';

export interface MetricsOptions {
  /** METRICS_MAX_TENANTS: tenant label values per metric before `other`. */
  maxTenants: number;
  /** Node runtime and process metrics (on unless false; tests of one module may skip them). */
  runtime?: boolean;
  /** Clock for the active-users window (tests). */
  now?: () => number;
  /** active_database_connections, db_pool_waiting_clients, db_query_duration_seconds, slow_queries_total. Default off. */
  database?: boolean;
  /** redis_connected, cache_hits_total{cache}, cache_misses_total{cache}; every name listed exists at 0 from the first scrape. Default off. */
  cache?: { names: readonly string[] };
  /** revenue_total_usd, user_signups_total, orders_total, payments_failed_total. Default off. */
  business?: boolean;
  /** The span export pipeline's losses (cumulative), read at scrape time: telemetry_spans_dropped_total{reason}, telemetry_span_exports_failed_total. Default off. */
  telemetry?: () => TelemetryLoss;
  /** How long span export held the event loop (cumulative), read at scrape time: telemetry_span_export_block_seconds. Default off; pass it when tracing runs. */
  exportBlocking?: () => ExportBlockingCounts;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  /** The pool's size (DATABASE_POOL_SIZE): what `total` can reach. */
  max: number;
}

export interface Metrics {
  readonly enabled: boolean;
  // HTTP (http-metrics.ts)
  requestStarted(): void;
  /** `traceId`: the request's sampled trace, kept as the latency bucket's exemplar. */
  requestFinished(method: string, endpoint: string, status: number, seconds: number, traceId?: string): void;
  apiCall(tenantId: string, endpoint: string): void;
  userSeen(userId: string): void;
  /** A request refused by the per-tenant rate limit (rate_limited_requests_total{tenant_id}). */
  rateLimited(tenantId: string): void;
  // Database and cache (no-ops without those groups)
  queryFinished(operation: string, seconds: number): void;
  slowQuery(): void;
  cacheLookup(cache: string, hit: boolean): void;
  /** Where the pool and Redis gauges read their values at scrape time. */
  watch(sources: { pool?: () => PoolStats; redisConnected?: () => boolean }): void;
  // Business events (no-ops without the business group)
  revenue(tenantId: string, product: string, usd: number): void;
  signup(tenantId: string, source: string): void;
  order(tenantId: string, status: string): void;
  paymentFailed(tenantId: string, reason: string): void;
  // Exposition
  render(format: ExpositionFormat): Promise<string>;
  readonly registry: Registry<OpenMetricsContentType> | undefined;
}
