// Every metric Glassbox exposes, named in this one file (the CONTRACT's Metrics section,
// which dashboards and alert rules depend on), behind one facade: modules call
// `metrics.revenue(…)` and never touch prom-client. One registry per app instance, so a
// test can build an app and read exactly what its own requests counted.
//
// Cardinality is bounded here, by construction:
// - tenant_id values are capped per metric at METRICS_MAX_TENANTS (the rest: `other`);
// - products per tenant, decline reasons and signup sources are capped the same way;
// - `endpoint` is a route template or `unmatched`, never a raw path (http-metrics.ts);
// - histograms carry no tenant label at all.
import { Counter, Gauge, Registry, type OpenMetricsContentType } from 'prom-client';
import { BoundedLabel, NestedBoundedLabel } from './bounded-label.ts';
import { TwoLabelCounter } from './lean-counter.ts';
import { LabeledHistogram } from './lean-histogram.ts';
import { RequestStats } from './request-stats.ts';
import { renderExposition, type ExpositionFormat } from './exposition.ts';
import { registerRuntimeMetrics } from './runtime-metrics.ts';

/** From 5 ms to 10 s: an API's fast reads and its slow payment calls both land in a bucket. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Queries are faster than requests: from 1 ms up to the slow-query range. */
export const DB_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Distinct users seen within this window make `active_users`. */
export const ACTIVE_USERS_WINDOW_MS = 15 * 60 * 1000;
/** Per tenant, product label values beyond this count as `other`. */
export const MAX_PRODUCTS_PER_TENANT = 50;
/** Decline reasons come from the gateway; a misbehaving one must not mint series. */
export const MAX_FAILURE_REASONS = 20;
/** SQL operations we label by; anything else is `OTHER`. */
const OPERATIONS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'BEGIN', 'COMMIT', 'ROLLBACK', 'SET', 'WITH', 'CREATE', 'ALTER', 'DROP', 'GRANT']);

export interface MetricsOptions {
  /** METRICS_MAX_TENANTS: tenant label values per metric before `other`. */
  maxTenants: number;
  /** Node runtime and process metrics (on in the app; tests of one module may skip them). */
  runtime?: boolean;
  /** Clock for the active-users window (tests). */
  now?: () => number;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Metrics {
  readonly enabled: boolean;
  // HTTP (http-metrics.ts)
  requestStarted(): void;
  /** `traceId`: the request's sampled trace, kept as the latency bucket's exemplar. */
  requestFinished(method: string, endpoint: string, status: number, seconds: number, traceId?: string): void;
  apiCall(tenantId: string, endpoint: string): void;
  userSeen(userId: string): void;
  // Database and cache
  queryFinished(operation: string, seconds: number): void;
  slowQuery(): void;
  cacheLookup(cache: string, hit: boolean): void;
  /** Where the pool and Redis gauges read their values at scrape time. */
  watch(sources: { pool?: () => PoolStats; redisConnected?: () => boolean }): void;
  // Business events
  revenue(tenantId: string, product: string, usd: number): void;
  signup(tenantId: string, source: string): void;
  order(tenantId: string, status: string): void;
  paymentFailed(tenantId: string, reason: string): void;
  // Exposition
  render(format: ExpositionFormat): Promise<string>;
  readonly registry: Registry<OpenMetricsContentType> | undefined;
}

const noop = () => {};

/** METRICS_ENABLED=false: the same calls, doing nothing (and no /metrics route). */
export const DISABLED_METRICS: Metrics = {
  enabled: false,
  requestStarted: noop,
  requestFinished: noop,
  apiCall: noop,
  userSeen: noop,
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
  const registers = [registry];
  const now = options.now ?? Date.now;
  /** One cap per metric, so a tenant crowded out of one metric still shows in the others. */
  const tenantCap = () => new BoundedLabel(options.maxTenants);

  // RED: counted in plain arrays (request-stats.ts), the hottest path of all.
  const requestStats = new RequestStats(HTTP_DURATION_BUCKETS);
  requestStats.register(registry, { requests: 'http_requests_total', duration: 'http_request_duration_seconds' });
  let inFlight = 0;
  new Gauge({
    name: 'http_requests_in_flight',
    help: 'HTTP requests being handled right now.',
    registers,
    collect() {
      this.set(inFlight);
    },
  });

  // Database and cache
  let poolStats: (() => PoolStats) | undefined;
  let redisConnected: (() => boolean) | undefined;
  new Gauge({
    name: 'active_database_connections',
    help: 'Database connections checked out of the pool (in use by a request or job).',
    registers,
    collect() {
      const s = poolStats?.();
      this.set(s ? s.total - s.idle : 0);
    },
  });
  new Gauge({
    name: 'db_pool_waiting_clients',
    help: 'Callers waiting for a database connection because the pool is exhausted.',
    registers,
    collect() {
      this.set(poolStats?.().waiting ?? 0);
    },
  });
  // One observation per SQL statement: kept lean like the RED series.
  const queryDuration = new LabeledHistogram('operation', DB_DURATION_BUCKETS);
  queryDuration.register(registry, 'db_query_duration_seconds', 'SQL statement time as the application sees it (round trip included), by operation.');
  const slowQueries = new Counter({ name: 'slow_queries_total', help: 'SQL statements slower than SLOW_QUERY_MS (each also logs slow_query).', registers });
  new Gauge({
    name: 'redis_connected',
    help: '1 while the Redis connection is ready, 0 otherwise (0 too when no REDIS_URL is configured).',
    registers,
    collect() {
      this.set(redisConnected?.() ? 1 : 0);
    },
  });
  const cacheHits = new Counter({
    name: 'cache_hits_total',
    help: 'Cache lookups answered from the cache, by cache.',
    labelNames: ['cache'] as const,
    registers,
  });
  const cacheMisses = new Counter({
    name: 'cache_misses_total',
    help: 'Cache lookups that had to go to the source, by cache.',
    labelNames: ['cache'] as const,
    registers,
  });

  // Business
  // A gauge that only ever goes up. The CONTRACT fixes the name, and a counter must end in
  // `_total` (promtool rejects it otherwise, and OpenMetrics would expose it as
  // `revenue_total_usd_total`); rate() and increase() work on it all the same.
  const revenue = new Gauge({
    name: 'revenue_total_usd',
    help: 'Revenue of captured payments in US dollars since the process started, by tenant and product (only increases).',
    labelNames: ['tenant_id', 'product'] as const,
    registers,
  });
  const signups = new Counter({
    name: 'user_signups_total',
    help: 'Users signed up, by tenant and source.',
    labelNames: ['tenant_id', 'source'] as const,
    registers,
  });
  // Once per authenticated request: kept lean like the RED series.
  const apiCalls = new TwoLabelCounter(['tenant_id', 'endpoint']);
  apiCalls.register(registry, 'api_calls_total', 'Authenticated API calls, by tenant and route template.');
  const orders = new Counter({
    name: 'orders_total',
    help: 'Orders settled, by tenant and final status (paid, failed).',
    labelNames: ['tenant_id', 'status'] as const,
    registers,
  });
  const paymentsFailed = new Counter({
    name: 'payments_failed_total',
    help: 'Payments that did not capture, by tenant and reason (a decline code, or gateway_unavailable).',
    labelNames: ['tenant_id', 'reason'] as const,
    registers,
  });
  const lastSeen = new Map<string, number>();
  let lastPrune = now();
  const pruneUsers = (at: number) => {
    lastPrune = at;
    const oldest = at - ACTIVE_USERS_WINDOW_MS;
    // Map iteration is insertion order and userSeen re-inserts, so the stale ones come first.
    for (const [user, seen] of lastSeen) {
      if (seen >= oldest) break;
      lastSeen.delete(user);
    }
  };
  new Gauge({
    name: 'active_users',
    help: 'Distinct users who made an authenticated request in the last 15 minutes.',
    registers,
    collect() {
      pruneUsers(now());
      this.set(lastSeen.size);
    },
  });

  if (options.runtime !== false) registerRuntimeMetrics(registry);

  const caps = {
    revenue: tenantCap(),
    revenueProduct: new NestedBoundedLabel(MAX_PRODUCTS_PER_TENANT),
    signups: tenantCap(),
    signupSource: new BoundedLabel(MAX_FAILURE_REASONS),
    apiCalls: tenantCap(),
    orders: tenantCap(),
    paymentsFailed: tenantCap(),
    failureReason: new BoundedLabel(MAX_FAILURE_REASONS),
  };

  return {
    enabled: true,
    registry,
    requestStarted: () => {
      inFlight++;
    },
    requestFinished(method, endpoint, status, seconds, traceId) {
      inFlight--;
      requestStats.record(method, endpoint, status, seconds, traceId);
    },
    apiCall: (tenantId, endpoint) => apiCalls.inc(caps.apiCalls.value(tenantId), endpoint),
    userSeen(userId) {
      const at = now();
      // Re-inserted at the end, so the map stays ordered by last sight; a user seen again
      // within the second keeps its entry (a 15-minute window does not need finer times,
      // and a busy user's every request skips two Map operations).
      const previous = lastSeen.get(userId);
      if (previous === undefined || at - previous >= 1000) {
        lastSeen.delete(userId);
        lastSeen.set(userId, at);
      }
      // Without scrapes the window must still be enforced, or the map grows with every user.
      if (at - lastPrune > 60_000) pruneUsers(at);
    },
    queryFinished: (operation, seconds) => queryDuration.observe(OPERATIONS.has(operation) ? operation : 'OTHER', seconds),
    slowQuery: () => slowQueries.inc(),
    cacheLookup: (cache, hit) => (hit ? cacheHits : cacheMisses).inc({ cache }),
    watch(sources) {
      poolStats = sources.pool ?? poolStats;
      redisConnected = sources.redisConnected ?? redisConnected;
    },
    revenue(tenantId, product, usd) {
      const tenant = caps.revenue.value(tenantId);
      revenue.inc({ tenant_id: tenant, product: caps.revenueProduct.value(tenant, product) }, usd);
    },
    signup: (tenantId, source) => signups.inc({ tenant_id: caps.signups.value(tenantId), source: caps.signupSource.value(source) }),
    order: (tenantId, status) => orders.inc({ tenant_id: caps.orders.value(tenantId), status }),
    paymentFailed: (tenantId, reason) => paymentsFailed.inc({ tenant_id: caps.paymentsFailed.value(tenantId), reason: caps.failureReason.value(reason) }),
    render: (format) => renderExposition(registry, format),
  };
}
