// RED metrics from two Fastify hooks, the per-tenant API-call and active-user counts, and
// the GET /metrics route. Registered only when METRICS_ENABLED is true, so "metrics off"
// really costs nothing per request.
//
// - `endpoint` is the route template (`/api/products/:id`), or `unmatched` when no route
//   matched: 10,000 requests to random paths make one series, not 10,000.
// - The latency comes from Fastify's own clock (reply.elapsedTime, started before any hook).
// - A sampled request's trace id becomes the latency bucket's exemplar, so a dashboard can
//   jump from a slow bucket to the trace behind it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isSampled } from '../tracing/tracer.ts';
import { CONTENT_TYPES, formatFor } from './exposition.ts';
import type { Metrics } from './metrics.ts';

export const UNMATCHED = 'unmatched';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when onRequest counted this request in flight (framework errors skip onRequest). */
    metricsInFlight: boolean;
  }
}

export const httpMetrics = fp(
  async function httpMetricsPlugin(app: FastifyInstance, opts: { metrics: Metrics }) {
    const { metrics } = opts;
    app.decorateRequest('metricsInFlight', false);

    app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      request.metricsInFlight = true;
      metrics.requestStarted();
      done();
    });

    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const endpoint = request.routeOptions.url ?? UNMATCHED;
      const span = request.otelSpan?.spanContext();
      const traceId = span && isSampled(span) ? span.traceId : undefined;
      if (request.metricsInFlight) request.metricsInFlight = false;
      else metrics.requestStarted(); // keep in-flight balanced for requests onRequest never saw
      metrics.requestFinished(request.method, endpoint, reply.statusCode, reply.elapsedTime / 1000, traceId);
      const identity = request.identity;
      if (identity) {
        metrics.apiCall(identity.tenant_id, endpoint);
        if (identity.user_id) metrics.userSeen(identity.user_id);
      }
      done();
    });

    // Scraped every few seconds: logged only when it fails and not traced, like the probes
    // (a span per scrape would be noise in every trace search).
    app.get('/metrics', { schema: { hide: true }, logLevel: 'warn', config: { untraced: true } }, async (request, reply) => {
      const format = formatFor(request.headers.accept);
      const body = await metrics.render(format);
      return reply.header('content-type', CONTENT_TYPES[format]).header('cache-control', 'no-store').send(body);
    });
  },
  { name: 'http-metrics' },
);
