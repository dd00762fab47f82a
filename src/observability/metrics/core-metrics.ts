// The series every service gets, whatever else it has: RED (http_requests_total,
// http_request_duration_seconds, http_requests_in_flight), authenticated calls per tenant
// (api_calls_total), active_users, and the rate limit's refusals per tenant
// (rate_limited_requests_total). The Fastify hooks that feed them are http-metrics.ts.
import { Counter, Gauge, type OpenMetricsContentType, type Registry } from 'prom-client';
import { BoundedLabel } from './bounded-label.ts';
import { TwoLabelCounter } from './lean-counter.ts';
import type { Metrics } from './metrics-types.ts';
import { RequestStats } from './request-stats.ts';

/** From 5 ms to 10 s: an API's fast reads and its slow payment calls both land in a bucket. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Distinct users seen within this window make `active_users`. */
export const ACTIVE_USERS_WINDOW_MS = 15 * 60 * 1000;

export type CoreMetrics = Pick<Metrics, 'requestStarted' | 'requestFinished' | 'apiCall' | 'userSeen' | 'rateLimited'>;

export function coreMetrics(registry: Registry<OpenMetricsContentType>, options: { maxTenants: number; now: () => number }): CoreMetrics {
  const registers = [registry];
  const { now } = options;

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

  // Once per authenticated request: kept lean like the RED series. The tenant cap is this
  // metric's own, so a tenant crowded out here still shows in the business series.
  const apiCalls = new TwoLabelCounter(['tenant_id', 'endpoint']);
  apiCalls.register(registry, 'api_calls_total', 'API calls whose tenant is known (a verified token, or a successful login), by tenant and route template.');
  const apiCallTenants = new BoundedLabel(options.maxTenants);

  // Only refusals touch it, so prom-client's own Counter is cheap enough. Its tenant cap is its
  // own too: a tenant hammering the API after the cap filled still shows, as `other`. No
  // series until the first refusal (there is no tenant to put at 0); `sum(…) or vector(0)`.
  const rateLimited = new Counter({
    name: 'rate_limited_requests_total',
    help: 'Requests refused with 429 by the per-tenant API rate limit, by tenant.',
    labelNames: ['tenant_id'],
    registers,
  });
  const rateLimitedTenants = new BoundedLabel(options.maxTenants);

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
    help: 'Distinct users identified by a request (a verified token, or a successful login) in the last 15 minutes.',
    registers,
    collect() {
      pruneUsers(now());
      this.set(lastSeen.size);
    },
  });

  return {
    requestStarted: () => {
      inFlight++;
    },
    requestFinished(method, endpoint, status, seconds, traceId) {
      inFlight--;
      requestStats.record(method, endpoint, status, seconds, traceId);
    },
    apiCall: (tenantId, endpoint) => apiCalls.inc(apiCallTenants.value(tenantId), endpoint),
    rateLimited: (tenantId) => rateLimited.inc({ tenant_id: rateLimitedTenants.value(tenantId) }),
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
  };
}
