// `slow_request` (warn): a request that took longer than SLOW_REQUEST_MS, with its route
// template, status and duration. request_completed already carries the duration at info;
// this line exists so that "show me the slow ones" is a level filter, and an alert on warn
// lines catches them, without a query on a number. Written through the request's logger,
// so it carries request_id, method, path, tenant_id and, for a traced request, trace_id
// (from the request logger's trace ids): the way from the line to the trace.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export const DEFAULT_SLOW_REQUEST_MS = 1000;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: this route is slow by design (a readiness probe waiting on its bounded round, a 10 s profile), never a `slow_request`. */
    slowRequestLog?: boolean;
  }
}

export const slowRequestLog = fp(
  async function slowRequestLogPlugin(app: FastifyInstance, opts: { thresholdMs: number }) {
    const { thresholdMs } = opts;
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const ms = reply.elapsedTime;
      if (ms > thresholdMs && request.routeOptions.config?.slowRequestLog !== false) {
        request.log.warn(
          { route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode, duration_ms: Math.round(ms * 100) / 100, threshold_ms: thresholdMs },
          'slow_request',
        );
      }
      done();
    });
  },
  { name: 'observability-slow-request' },
);
