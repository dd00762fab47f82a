// Reports every 5xx answer exactly once, with the request's ids, route template and trace
// context. The error is caught where Fastify sees it (onError, before the error handler
// turns it into a body) and reported when the answer is known (onResponse), so a 503 a
// handler sends on purpose and a thrown 500 are both reported, and a 4xx never is.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ErrorContext, ErrorReporting } from './error-reporting.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The error Fastify's onError hook saw for this request, if any. */
    observedError: Error | undefined;
    /** Set by a hook whose 5xx is deliberate (load shedding's 503): not reported. */
    skipErrorReport: boolean;
  }
}

/**
 * Route config for a route whose 5xx is its answer, not a failure: a probe saying 503
 * `not_ready` every few seconds must not page through the error tracker (the failing
 * dependency's own errors are reported where they happen).
 */
export interface RouteReporting {
  reportErrors?: boolean;
}

/** An answer of 5xx without a thrown error (a handler that sent 503 itself). */
export class ServerErrorResponse extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, route: string) {
    super(`HTTP ${statusCode} from ${route}`);
    this.name = 'ServerErrorResponse';
    this.statusCode = statusCode;
  }
}

export function requestErrorContext(request: FastifyRequest, reply: FastifyReply): ErrorContext {
  const sc = request.otelSpan?.spanContext();
  const identity = request.identity;
  return {
    source: 'request',
    request_id: request.id,
    method: request.method,
    route: request.routeOptions.url ?? 'unmatched',
    status_code: reply.statusCode,
    ...(identity ? { tenant_id: identity.tenant_id, ...(identity.user_id ? { user_id: identity.user_id } : {}) } : {}),
    ...(sc ? { trace_id: sc.traceId, span_id: sc.spanId } : {}),
  };
}

export const errorHooks = fp(
  async function errorHooksPlugin(app: FastifyInstance, opts: { reporting: ErrorReporting }) {
    const { reporting } = opts;
    app.decorateRequest('observedError', undefined);
    app.decorateRequest('skipErrorReport', false);
    // No tracker listening: no hooks, so a service without one pays nothing per request.
    if (!reporting.active) return;
    app.addHook('onError', (request: FastifyRequest, _reply: FastifyReply, error: Error, done: () => void) => {
      request.observedError = error;
      done();
    });
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      if (reply.statusCode >= 500 && !request.skipErrorReport && (request.routeOptions.config as RouteReporting | undefined)?.reportErrors !== false) {
        const context = requestErrorContext(request, reply);
        reporting.report(request.observedError ?? new ServerErrorResponse(reply.statusCode, context.route ?? 'unmatched'), context);
      }
      done();
    });
  },
  { name: 'observability-error-hooks' },
);
