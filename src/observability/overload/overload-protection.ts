// Load shedding with @fastify/under-pressure: while the event loop's mean delay, the heap or
// the RSS is past its limit, every request but the probes, /metrics and the operator
// endpoints is answered at once with 503 `service_unavailable` (the CONTRACT's error body,
// built here so a service without Glassbox's error handler answers the same) and
// Retry-After. Answering early is the point: an overloaded process that keeps accepting
// work gets slower for everyone; one that refuses fast lets clients retry elsewhere.
//
// - Liveness stays 200 (a restart would not help: the process is busy, not broken);
//   readiness reports the reason and answers 503 (pressureReadinessCheck), so the load
//   balancer moves traffic to the other replicas until the pressure is gone.
// - Those 503s are the service protecting itself, not failures: they are not sent to error
//   tracking (request.skipErrorReport); http_requests_total counts them by status.
// - `overload_started` and `overload_ended` bracket each episode (OverloadEpisodes: the
//   first to see the pressure, a look, a shed request or a probe, starts it);
//   `event_loop_blocked` logs single stalls.
// - Readings that cover startup do not count (PressureGate): a fresh replica is not shed for
//   its own migrations and schema compilation; the stall watch also starts once ready.
// - Registered only when a limit is set: with none, no hook and no sampling timer at all.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import underPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import type { ReadinessCheck } from '../health/health.routes.ts';
import { watchEventLoop } from './event-loop-watch.ts';
import type { OverloadEpisodes } from './overload-episodes.ts';
import type { PressureGate } from './pressure.ts';

/** Routes answered under pressure too: the probes and the scrape (they must say what is wrong) and the operator endpoints (profiling an overloaded process is what they are for). */
const EXEMPT_PREFIXES = ['/health/', '/admin/'];
const EXEMPT_ROUTES = new Set(['/metrics']);

function isExempt(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (route === undefined) return false; // unmatched: shed like any other request
  return EXEMPT_ROUTES.has(route) || EXEMPT_PREFIXES.some((prefix) => route.startsWith(prefix));
}

/** The readiness check `pressure`: fails with the reason while a limit is passed. */
export function pressureReadinessCheck(app: FastifyInstance, gate: PressureGate, episodes: OverloadEpisodes): ReadinessCheck {
  return {
    name: 'pressure',
    check: async () => {
      const reason = gate.reason(app.memoryUsage());
      if (reason) {
        episodes.over(reason);
        throw new Error(reason);
      }
    },
  };
}

export const overloadProtection = fp(
  async function overloadProtectionPlugin(app: FastifyInstance, opts: { gate: PressureGate; episodes: OverloadEpisodes }) {
    const { gate, episodes } = opts;
    const { limits } = gate;
    const retryAfter = String(limits.retryAfterSeconds);

    // Only called while under pressure. A nullish return lets the request through; any other
    // value is sent as the body (the plugin's types say void, its code and README say this).
    function shedRequest(request: FastifyRequest, reply: FastifyReply): object | undefined {
      if (isExempt(request)) return undefined;
      const reason = gate.reason(app.memoryUsage());
      if (reason === undefined) return undefined; // not armed yet
      episodes.over(reason);
      episodes.shed();
      request.skipErrorReport = true;
      void reply.code(503).header('retry-after', retryAfter);
      return { error: 'service_unavailable', message: 'The service is overloaded; retry later', request_id: request.id };
    }

    const options: FastifyUnderPressureOptions = {
      maxEventLoopDelay: limits.maxEventLoopDelayMs,
      maxHeapUsedBytes: limits.maxHeapUsedBytes,
      maxRssBytes: limits.maxRssBytes,
      retryAfter: limits.retryAfterSeconds,
      sampleInterval: limits.sampleIntervalMs,
      pressureHandler: shedRequest as unknown as FastifyUnderPressureOptions['pressureHandler'],
    };
    await app.register(underPressure, options);

    // One look per sample period: starts an episode nobody has sent a request into, and ends
    // each one once the readings are calm.
    const look = setInterval(() => {
      const reason = gate.reason(app.memoryUsage());
      if (reason) episodes.over(reason);
      else episodes.calm();
    }, limits.sampleIntervalMs);
    look.unref();

    let stopWatch: (() => void) | undefined;
    app.addHook('onReady', (done) => {
      gate.arm();
      if (limits.maxEventLoopDelayMs > 0)
        stopWatch = watchEventLoop({ log: app.log, limitMs: limits.maxEventLoopDelayMs, intervalMs: limits.sampleIntervalMs });
      done();
    });
    app.addHook('onClose', (_instance, done) => {
      clearInterval(look);
      stopWatch?.();
      done();
    });
  },
  { name: 'observability-overload', dependencies: ['observability-error-hooks'] },
);
