// Liveness, readiness and startup probes (CONTRACT "HTTP surface").
//  live    – the process runs and the event loop answers.
//  ready   – every dependency answers within its timeout; 503 once shutdown began.
//  startup – 503 until migrations ran and dependencies answered once.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';

export interface ReadinessCheck {
  name: string;
  /** Resolves when healthy, rejects with a short reason otherwise; or 'disabled'. */
  check: () => Promise<void | 'disabled'>;
}

export interface LifecycleState {
  started: boolean;
  shuttingDown: boolean;
}

const CHECK_TIMEOUT_MS = 2000;

async function runCheck(c: ReadinessCheck): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await Promise.race([
      c.check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return outcome === 'disabled' ? 'disabled' : 'ok';
  } catch (error) {
    // The reason is for operators; keep it short and free of connection strings.
    const message = ((error as Error).message || 'failed').replace(/\w+:\/\/\S+/g, '<url>').slice(0, 200);
    return `error: ${message}`;
  } finally {
    clearTimeout(timer);
  }
}

const Checks = Type.Record(Type.String(), Type.String());
const Probe = Type.Object({ status: Type.String(), checks: Type.Optional(Checks) });

export async function healthRoutes(app: FastifyInstance, opts: { checks: ReadinessCheck[]; state: LifecycleState }) {
  const schema = (summary: string) => ({ tags: ['health'], summary, response: { 200: Probe, 503: Probe } });

  app.get('/health/live', { schema: schema('Liveness: the process is running'), logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { schema: schema('Readiness: dependencies answer'), logLevel: 'warn', config: { reportErrors: false } }, async (_request, reply) => {
    const results = await Promise.all(opts.checks.map(async (c) => [c.name, await runCheck(c)] as const));
    const checks = Object.fromEntries(results);
    if (opts.state.shuttingDown) return reply.code(503).send({ status: 'shutting_down', checks });
    const healthy = results.every(([, r]) => r === 'ok' || r === 'disabled');
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ready' : 'not_ready', checks });
  });

  app.get(
    '/health/startup',
    { schema: schema('Startup: migrations ran and dependencies answered once'), logLevel: 'warn', config: { reportErrors: false } },
    async (_request, reply) => (opts.state.started ? { status: 'started' } : reply.code(503).send({ status: 'starting' })),
  );
}
