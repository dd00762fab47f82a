// One SERVER span per request, made from Fastify hooks: name `<METHOD> <route template>`,
// HTTP semantic-convention attributes, tenant.id / user.id / request.id, error status for
// 5xx with the exception recorded. This replaces instrumentation-http + @fastify/otel, which
// together made several spans and context switches per request (see README, Performance).
//
// - The sampling decision is taken once, here: an unsampled request gets no span and its
//   handler runs in no trace context, so nothing below it creates spans either.
// - The route handler runs inside the span's context (wrapped at route registration), so
//   SQL, Redis, fetch and job spans become its children.
// - Every response carries `traceresponse` (W3C Trace Context Level 2) so a caller can
//   paste the trace id into a trace viewer.
// - The request logger gets the ids too, so lines logged outside the handler
//   (request_completed, auth failures) carry trace_id and span_id.
// - A route with `config: { untraced: true }` (the probes) gets no span, no trace context and
//   no traceresponse; its handler is left unwrapped when the route is added, so what it pays
//   a request is one flag test.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { recordFailure, SpanKind, traceparentOfContext, tracer } from './tracer.ts';
import { TRACE_IDS } from './log-correlation.ts';

declare module 'fastify' {
  interface FastifyRequest {
    otelSpan: Span | undefined;
    otelContext: Context | undefined;
  }
  interface FastifyContextConfig {
    /** No server span for this route (health probes: one every few seconds per pod, saying nothing). */
    untraced?: boolean;
  }
}

const getter = {
  keys: (carrier: FastifyRequest['headers']) => Object.keys(carrier),
  get: (carrier: FastifyRequest['headers'], key: string) => carrier[key],
};

function onRequest(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const routeOptions = request.routeOptions;
  const route = routeOptions.url;
  if (routeOptions.config?.untraced === true) {
    done();
    return;
  }
  const headers = request.headers;
  const parent = headers.traceparent ? propagation.extract(ROOT_CONTEXT, headers, getter) : ROOT_CONTEXT;
  // No attributes at start: the SDK validates and copies start attributes before its sampler
  // decides, and our samplers (the spec's) never read them, so an unsampled request would pay
  // for ten attributes it drops (~3 % of CPU at 10 % sampling, profiled). A recording span
  // gets them right after.
  const span = tracer.startSpan(route ? `${request.method} ${route}` : request.method, { kind: SpanKind.SERVER }, parent);
  const sc = span.spanContext();
  void reply.header('traceresponse', traceparentOfContext(sc));
  if (span.isRecording()) {
    span.setAttributes({
      'http.request.method': request.method,
      'url.path': request.url.split('?', 1)[0],
      'url.scheme': request.protocol,
      ...(route ? { 'http.route': route } : {}),
      'server.address': request.hostname,
      'server.port': request.port ?? undefined,
      'client.address': request.ip,
      'user_agent.original': headers['user-agent'],
      'network.protocol.version': request.raw.httpVersion,
      'request.id': request.id,
    });
    request.otelSpan = span;
    request.otelContext = trace.setSpan(parent, span);
    // Inherited by every child logger made from this one (pino children are prototype-linked).
    (request.log as unknown as Record<symbol, unknown>)[TRACE_IDS] = { trace_id: sc.traceId, span_id: sc.spanId };
  }
  done();
}

function onResponse(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const span = request.otelSpan;
  if (span) {
    // tenant.id and user.id are already set, by bindRequestIdentity once the token is verified.
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute('error.type', String(reply.statusCode));
    }
    span.end();
  }
  done();
}

function onError(request: FastifyRequest, reply: FastifyReply, error: Error, done: () => void): void {
  // Client errors are not span errors (semantic conventions); a 500's exception is recorded.
  const status = (error as { statusCode?: number }).statusCode ?? 500;
  if (request.otelSpan && status >= 500) recordFailure(request.otelSpan, error);
  done();
}

/** Runs a route's handler inside its request's span context, unless the route is untraced. */
function wrapHandler(route: RouteOptions): void {
  if (route.config?.untraced === true) return;
  const handler = route.handler;
  route.handler = function tracedHandler(this: FastifyInstance, request, reply) {
    const ctx = request.otelContext;
    return ctx ? otelWith(ctx, handler, this, request, reply) : handler.call(this, request, reply);
  };
}

const otelWith = context.with.bind(context);

export const httpServerSpans = fp(
  async function httpServerSpansPlugin(app: FastifyInstance) {
    app.decorateRequest('otelSpan', undefined);
    app.decorateRequest('otelContext', undefined);
    app.addHook('onRoute', wrapHandler);
    app.addHook('onRequest', onRequest);
    app.addHook('onResponse', onResponse);
    app.addHook('onError', onError);
  },
  { name: 'http-server-spans' },
);
