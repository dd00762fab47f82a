// A service that is not Glassbox: no database, no tenants, two routes. It adopts the
// observability layer with the --import entry (see package.json's start) and one register
// call, and gets request ids, JSON logs with trace ids, server spans over OTLP, /metrics
// and the probes.
import Fastify from 'fastify';
import { observability, observabilityServerOptions, tracingRuntime, withSpan } from '../../src/observability/index.ts';

const app = Fastify(observabilityServerOptions());
await app.register(observability, {
  // What readiness means for this service: here, that its (imaginary) upstream answers.
  readiness: [{ name: 'upstream', check: async () => {} }],
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

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void (async () => {
      await app.close(); // in-flight requests finish
      await tracingRuntime().shutdown(); // the last spans are exported
      process.exit(0);
    })();
  });
}
