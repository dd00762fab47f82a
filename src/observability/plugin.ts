// The observability layer as one Fastify plugin: `app.register(observability, options)`
// brings request ids and the request logger's context, the `request_completed` line
// (with the server options), server spans, HTTP metrics and `GET /metrics`, the probes
// with the checks the service hands it, 5xx error reporting, span-loss warnings, load
// shedding under pressure, a per-tenant rate limit, and `slow_request` lines.
//
// Register it first: its onRoute hook wraps the handlers of routes registered after it
// (so they run inside their span), and its hooks come before the service's own.
// It imports nothing of the service: what it observes is handed to it (readiness checks,
// a metrics facade the database feeds, an error reporting object).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { errorHooks } from './errors/error-hooks.ts';
import { NO_ERROR_REPORTING } from './errors/error-reporting.ts';
import { healthRoutes } from './health/health.routes.ts';
import { childLoggerFactory, genRequestId } from './logging/request-logging.ts';
import { isObservabilityLogger } from './logging/logger.ts';
import { httpMetrics } from './metrics/http-metrics.ts';
import { createMetrics } from './metrics/metrics.ts';
import type { ObservabilityOptions } from './options.ts';
import { DEFAULT_SLOW_REQUEST_MS, slowRequestLog } from './logging/slow-request.ts';
import { OverloadEpisodes } from './overload/overload-episodes.ts';
import { overloadProtection, pressureReadinessCheck } from './overload/overload-protection.ts';
import { PressureGate, resolveOverload } from './overload/pressure.ts';
import { tenantRateLimit } from './rate-limit/tenant-rate-limit.ts';
import { adminRoutes } from './profiling/admin-routes.ts';
import { profileLabels } from './profiling/profile-labels.ts';
import { httpServerSpans } from './tracing/http-server-spans.ts';
import { tracingRuntime } from './tracing/sdk.ts';
import { watchTelemetryLoss } from './tracing/telemetry-loss-watch.ts';

export const observability = fp(
  async function observabilityPlugin(app: FastifyInstance, options: ObservabilityOptions) {
    if (!isObservabilityLogger(app.log)) {
      // Without our logger and log controller the lines would lack the CONTRACT's fields and
      // Fastify would log its own two lines a request: fail at startup, not in production logs.
      throw new Error('observability: build Fastify with observabilityServerOptions(logger), e.g. Fastify({ ...observabilityServerOptions(logger) })');
    }
    const runtime = tracingRuntime();
    const lifecycle = options.lifecycle ?? { started: true, shuttingDown: false };

    // Request ids (a caller's safe x-request-id, else a UUID) and the request logger's bindings.
    app.setGenReqId(genRequestId);
    app.setChildLoggerFactory(childLoggerFactory);
    app.decorateRequest('identity', null);
    app.addHook('onRequest', (request, reply, done) => {
      void reply.header('x-request-id', request.id);
      done();
    });

    // First, so its onRoute hook sees (and wraps) every route registered after it.
    if (options.tracing ?? runtime.enabled) await app.register(httpServerSpans);
    // After the span plugin, so the latency exemplar can read the request's trace id.
    const metrics =
      options.metrics === false
        ? undefined
        : (options.metrics ??
          createMetrics({
            maxTenants: options.maxTenants ?? 100,
            telemetry: () => runtime.loss(),
            ...(runtime.enabled ? { exportBlocking: () => runtime.exportBlocking() } : {}),
          }));
    if (metrics?.enabled) await app.register(httpMetrics, { metrics });

    await app.register(errorHooks, { reporting: options.errors ?? NO_ERROR_REPORTING });

    // While draining, every answer closes its connection: keep-alive clients reconnect
    // elsewhere and the server's close() is not held open by idle sockets.
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (lifecycle.shuttingDown) void reply.header('connection', 'close');
      done(null, payload);
    });

    // After the request-id, span and metrics hooks, so a shed 503 or a 429 still carries its
    // x-request-id, its span and its count. Each registers nothing when off.
    const limits = resolveOverload(options.overload);
    const overload = limits && { gate: new PressureGate(limits), episodes: new OverloadEpisodes(app.log) };
    if (overload) await app.register(overloadProtection, overload);
    if (options.rateLimit && options.rateLimit.perMinute > 0) {
      await app.register(tenantRateLimit, { ...options.rateLimit, ...(metrics ? { metrics } : {}) });
    }
    const slowRequestMs = options.slowRequestMs ?? DEFAULT_SLOW_REQUEST_MS;
    if (slowRequestMs > 0) await app.register(slowRequestLog, { thresholdMs: slowRequestMs });

    const checks = [...(options.readiness ?? []), ...(overload ? [pressureReadinessCheck(app, overload.gate, overload.episodes)] : [])];
    await app.register(healthRoutes, { checks, state: lifecycle, ...options.health });

    // Operator endpoints, only with a token (unknown routes, 404, otherwise); the label hook
    // (route and trace id on pprof samples) only where a profile can be asked for.
    if (options.adminToken) {
      await app.register(profileLabels);
      await app.register(adminRoutes, { token: options.adminToken });
    }

    const interval = options.telemetryLossIntervalMs ?? 60_000;
    if (runtime.enabled && interval > 0) {
      const stop = watchTelemetryLoss({ loss: () => runtime.loss(), log: app.log, intervalMs: interval });
      app.addHook('onClose', (_instance, done) => {
        stop();
        done();
      });
    }
  },
  { name: 'observability', fastify: '5.x' },
);
