// A service that is not Glassbox: no database, no tenants, two routes. It adopts the
// observability layer with the --import entry (see package.json's start) and one register
// call, and gets request ids, JSON logs with trace ids, server spans over OTLP, /metrics
// and the probes.
import Fastify from 'fastify';
import {
  errorReportingFromEnv,
  gracefulShutdown,
  installCrashHandlers,
  loggerFromEnv,
  observability,
  observabilityServerOptions,
  tracingRuntime,
  withSpan,
  type LifecycleState,
  type Shutdown,
} from '../../src/observability/index.ts';

const logger = loggerFromEnv();
// Shared with the probes: startup flips `started`, the stop flips `shuttingDown`.
const lifecycle: LifecycleState = { started: false, shuttingDown: false };
// Set once the server exists; the crash handler reads it through the closure before then.
let shutdown: Shutdown | undefined = undefined;
// Sentry when SENTRY_DSN is set (every 5xx and crash, once); otherwise nothing is loaded.
const errors = await errorReportingFromEnv(logger);
installCrashHandlers({ log: logger, errors: () => errors, shutdown: () => shutdown, flushTimeoutMs: 5000 });

const app = Fastify(observabilityServerOptions(logger));
await app.register(observability, {
  // What readiness means for this service: here, that its (imaginary) upstream answers.
  readiness: [{ name: 'upstream', check: async () => {} }],
  lifecycle,
  errors,
});

app.get<{ Params: { name: string } }>('/hello/:name', async (request) => {
  request.log.info({ name_length: request.params.name.length }, 'greeting_requested');
  // A manual span, a child of the request's server span.
  return withSpan('compose_greeting', { 'greeting.language': 'en' }, async () => ({ greeting: `Hello, ${request.params.name}!` }));
});

app.get('/boom', async () => {
  throw new Error('something broke');
});

// listenTextResolver: a snake_case event name, like every other line.
await app.listen({ port: Number(process.env.PORT ?? 3001), host: process.env.HOST ?? '127.0.0.1', listenTextResolver: () => 'server_listening' });

// SIGTERM/SIGINT: readiness 503, the listener closes, in-flight requests finish, the last
// spans are exported (bounded), exit 0.
const tracing = tracingRuntime();
shutdown = gracefulShutdown({
  log: logger,
  state: lifecycle,
  delayMs: Number(process.env.SHUTDOWN_DELAY_MS ?? 0),
  timeoutMs: 25_000,
  flushTimeoutMs: 5000,
  closeServer: () => app.close(),
  flush: [
    { name: 'traces', flush: async () => (await tracing.shutdown(), true) },
    { name: 'errors', flush: async (timeoutMs) => (await errors.flush(timeoutMs)).length === 0 },
  ],
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void shutdown?.(signal));
lifecycle.started = true;
