// A fair-use limit per tenant: each tenant may make `perMinute` API requests per fixed
// one-minute window; past it the answer is 429 `too_many_requests` (the CONTRACT's error
// body, built here so a service without Glassbox's error handler answers the same) with
// Retry-After, and the refusal is counted in rate_limited_requests_total{tenant_id}.
// Every counted request carries the IETF draft headers RateLimit-Limit, RateLimit-Remaining
// and RateLimit-Reset (seconds until the window ends).
//
// - Keyed by the tenant the request acts for (`request.identity`, bound by authentication
//   in the routes' onRequest hooks), so the check runs in preValidation: after them, and
//   before the body is validated, so malformed requests count too. Requests with no tenant
//   (signup, login, the probes, /metrics, the docs) are not limited here.
// - @fastify/rate-limit keeps the counts: in Redis when a client is given (one Lua script
//   a request, so every replica shares one count and the limit holds for the service, not
//   per pod), else in memory. Its `createRateLimit()` gives the decision without its route
//   hook, so the answer and the headers are ours.
// - Redis down never fails a request: a store error lets it through, with a
//   `rate_limit_store_failed` warning at most once a minute (fail open: the limit protects
//   fairness, and refusing everyone because Redis blinked would be the outage it prevents).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { context } from '@opentelemetry/api';
import fp from 'fastify-plugin';
import type { Metrics } from '../metrics/metrics-types.ts';

export interface TenantRateLimitOptions {
  perMinute: number;
  /** An ioredis client (fail-fast options recommended: `enableOfflineQueue: false`, `maxRetriesPerRequest: 1`). */
  redis?: unknown;
  metrics?: Pick<Metrics, 'rateLimited'>;
}

const WINDOW_MS = 60_000;
const STORE_WARNING_INTERVAL_MS = 60_000;
/** Tenants the in-memory store remembers (least recently seen dropped first); plenty for one replica. */
const MEMORY_STORE_TENANTS = 10_000;

export const tenantRateLimit = fp(
  async function tenantRateLimitPlugin(app: FastifyInstance, opts: TenantRateLimitOptions) {
    const { perMinute } = opts;
    await app.register(rateLimit, {
      global: false, // no route hook of its own: the hook below decides which requests count
      max: perMinute,
      timeWindow: WINDOW_MS,
      keyGenerator: (request) => request.identity?.tenant_id ?? '',
      nameSpace: 'rate-limit:tenant:',
      cache: MEMORY_STORE_TENANTS,
      ...(opts.redis ? { redis: opts.redis } : {}),
    });
    const limiter = app.createRateLimit();

    let lastWarning = -Infinity;
    let failures = 0;
    const storeFailed = (request: FastifyRequest, error: unknown) => {
      failures++;
      const now = Date.now();
      if (now - lastWarning < STORE_WARNING_INTERVAL_MS) return;
      lastWarning = now;
      request.log.warn({ error, failed_checks: failures }, 'rate_limit_store_failed');
      failures = 0;
    };

    app.addHook('preValidation', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const identity = request.identity;
      if (!identity) {
        done();
        return;
      }
      // In the request's trace context, so the Redis command is a child span of the request.
      const ctx = request.otelContext;
      const decision = ctx ? context.with(ctx, limiter, undefined, request) : limiter(request);
      decision.then(
        (limit) => {
          if (limit.isAllowed) {
            done();
            return;
          }
          void reply.header('ratelimit-limit', limit.max).header('ratelimit-remaining', limit.remaining).header('ratelimit-reset', limit.ttlInSeconds);
          if (!limit.isExceeded) {
            done();
            return;
          }
          opts.metrics?.rateLimited(identity.tenant_id);
          void reply
            .code(429)
            .header('retry-after', limit.ttlInSeconds)
            .send({
              error: 'too_many_requests',
              message: `Rate limit of ${limit.max} requests per minute for this tenant exceeded; retry in ${limit.ttlInSeconds} s`,
              request_id: request.id,
            });
        },
        (error: unknown) => {
          storeFailed(request, error);
          done();
        },
      );
    });
  },
  { name: 'observability-tenant-rate-limit' },
);
