// Liveness, readiness and startup probes (CONTRACT "HTTP surface").
//  live    – the process runs and the event loop answers: a constant, no dependency, nothing
//            shared awaited, so overload or a sick database never turns it into a restart loop.
//  ready   – every dependency answers within its timeout (readiness.ts: one round in flight,
//            its result reused); 503 `shutting_down` at once once shutdown began.
//  startup – 503 until migrations ran and dependencies answered once.
// Probes are untraced (a span every few seconds per pod says nothing), logged only at warn
// and above, never reported as errors, and still counted in the HTTP metrics.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { createReadiness, type ReadinessCheck } from './readiness.ts';

export type { ReadinessCheck } from './readiness.ts';

export interface LifecycleState {
  started: boolean;
  shuttingDown: boolean;
}

export interface HealthRoutesOptions {
  checks: ReadinessCheck[];
  state: LifecycleState;
  /** Each check's bound; default 1000. */
  checkTimeoutMs?: number;
  /** How long one round's result is reused; default 1000. */
  cacheMs?: number;
}

const Checks = Type.Record(Type.String(), Type.String());
const Probe = Type.Object({ status: Type.String(), checks: Type.Optional(Checks) });

const LIVE = { status: 'ok' } as const;

const MALFORMED_REQUEST = { description: 'Malformed request or headers too large (400, 431), answered by the HTTP parser with no body', type: 'null' } as const;

export async function healthRoutes(app: FastifyInstance, opts: HealthRoutesOptions) {
  const readiness = createReadiness(opts.checks, { checkTimeoutMs: opts.checkTimeoutMs ?? 1000, cacheMs: opts.cacheMs ?? 1000 });
  // Probes take no token (an orchestrator calls them): `security: []` says so to client generators.
  // The only 4xx a probe answers comes from Node's HTTP parser, before any route: a malformed
  // request (400) or headers past the size limit (431), with no body. Declared so generated
  // clients and linters know a probe can fail that way too.
  const schema = (operationId: string, summary: string) => ({
    operationId,
    tags: ['health'],
    summary,
    security: [],
    response: { 200: Probe, '4xx': MALFORMED_REQUEST, 503: Probe },
  });
  // untraced: read once by the span plugin when the route is added. reportErrors: a probe's
  // 503 is its answer, not a failure to page on.
  const probe = { logLevel: 'warn', config: { untraced: true, reportErrors: false, slowRequestLog: false } } as const;

  app.get('/health/live', { schema: schema('getLiveness', 'Liveness: the process is running'), ...probe }, async () => LIVE);

  app.get('/health/ready', { schema: schema('getReadiness', 'Readiness: dependencies answer'), ...probe }, async (_request, reply) => {
    if (opts.state.shuttingDown) {
      // At once: no new checks, no wait on a round that may hang; the last round's detail if any.
      const last = readiness.last();
      return reply.code(503).send(last ? { status: 'shutting_down', checks: last.checks } : { status: 'shutting_down' });
    }
    const { healthy, checks } = await readiness.current();
    // Shutdown may have begun while the round ran: it wins.
    if (opts.state.shuttingDown) return reply.code(503).send({ status: 'shutting_down', checks });
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ready' : 'not_ready', checks });
  });

  app.get('/health/startup', { schema: schema('getStartup', 'Startup: migrations ran and dependencies answered once'), ...probe }, async (_request, reply) =>
    opts.state.started ? { status: 'started' } : reply.code(503).send({ status: 'starting' }),
  );
}
