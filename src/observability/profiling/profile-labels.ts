// Labels on the pprof samples: while a labelled profile runs, each request sets the
// profiler's context to its route template (and, for a sampled trace, its trace id) as it
// arrives; @datadog/pprof carries that context through the request's async work and stamps
// it on every sample taken while the request's code runs. When no profile runs, the hook
// is one boolean test a request.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isSampled } from '../tracing/tracer.ts';
import { datadogPprof, isLabelling, ROUTE_LABEL, TRACE_LABEL } from './pprof-runtime.ts';

function labelRequest(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  if (!isLabelling()) return done();
  const sc = request.otelSpan?.spanContext();
  const labels: Record<string, string> = { [ROUTE_LABEL]: request.routeOptions.url ?? 'unmatched' };
  if (sc && isSampled(sc)) labels[TRACE_LABEL] = sc.traceId;
  // The rest of the request (later hooks, the handler, every await in it) runs inside the
  // labelled context: it is created from here on, so it inherits it.
  datadogPprof().time.runWithContext(labels, done);
}

/** Registered after the server-span plugin, so the request's span is known. */
export const profileLabels = fp(
  async function profileLabelsPlugin(app: FastifyInstance) {
    app.addHook('onRequest', labelRequest);
  },
  { name: 'observability-profile-labels' },
);
