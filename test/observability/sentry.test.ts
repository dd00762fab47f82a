// Error tracking with Sentry, against a local stand-in for Sentry (test/helpers/sentry-receiver.ts)
// and a local OTLP receiver: a 5xx (a thrown 500, a 503 from a payment provider that is down)
// arrives once, with the request's ids, route template, release, environment and the trace
// and span ids of the server span that was exported over OTLP; no planted secret is in the
// bytes sent; a 4xx never arrives; a failed job arrives once; a Sentry that is down or
// stuck never holds a request and its flush stays bounded. The server process itself (crash,
// SENTRY_TRACES_SAMPLE_RATE, no DSN) is sentry-process.test.ts's.
import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindRequestIdentity } from '../../src/observability/logging/request-logging.ts';
import { tracer } from '../../src/observability/tracing/tracer.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { bearer, createProduct, signup } from '../helpers/api.ts';
import { freePort } from '../helpers/child-server.ts';
import { eventually, startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import { startSentryReceiver, type SentryReceiver } from '../helpers/sentry-receiver.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing, traceIdOf } from '../helpers/tracing.ts';

// Spans go to a real OTLP receiver (and to memory, to read the server span's ids at once).
const otlp = await startOtlpReceiver();
// The OTLP exporter reads its endpoint from process.env itself (as in a server); this file's process is its own.
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.endpoint;
const tracing = startTestTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' });

/** Values planted in requests, errors and jobs; none may be found in what reaches Sentry. */
const PLANTED = {
  bearer: `bearer-${randomUUID()}`,
  cookie: `cookie-${randomUUID()}`,
  query: `query-${randomUUID()}`,
  body: `body-${randomUUID()}`,
  message: `message-${randomUUID()}`,
  extra: `extra-${randomUUID()}`,
  job: `job-${randomUUID()}`,
};
const COMMIT = 'abcdef0123456789abcdef0123456789abcdef01';
/** `work`, or a rejection naming `what` once `ms` passed (a bounded wait, not a speed check). */
function bounded<T>(what: string, work: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

function expectNoSecret(receiver: SentryReceiver, secrets: string[]) {
  expect(receiver.envelopes.length).toBeGreaterThan(0);
  for (const envelope of receiver.envelopes) {
    const raw = envelope.raw.toString('utf8');
    for (const secret of secrets) expect(raw, `"${secret}" sent to Sentry`).not.toContain(secret);
  }
}

/** Registers the routes that fail on purpose. */
function failingRoutes(app: TestApp['app']) {
  app.post('/test/explode/:id', { onRequest: async (request) => bindRequestIdentity(request, { tenant_id: 'tenant-7', user_id: 'user-7' }) }, async () => {
    throw Object.assign(new Error(`charge failed: password=${PLANTED.message}`), { api_key: PLANTED.extra, code: 'E_CHARGE' });
  });
  app.get('/test/ok', async () => ({ ok: true }));
}

afterAll(async () => {
  await tracing.runtime.shutdown();
  await otlp.close();
});

describe(`Sentry error tracking, in process (${backend})`, () => {
  let receiver: SentryReceiver;
  let t: TestApp;
  let gatewayPort: number;

  beforeAll(async () => {
    receiver = await startSentryReceiver();
    gatewayPort = await freePort();
    t = await startTestApp({
      tracing: true,
      env: {
        SENTRY_DSN: receiver.dsn,
        SENTRY_ENVIRONMENT: 'staging-eu',
        GIT_COMMIT: COMMIT,
        // A payment provider that is down: orders answer 503.
        PAYMENT_GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
        PAYMENT_GATEWAY_TIMEOUT_MS: '1000',
        // The embedded database blocks this process's event loop at times: no load shedding here.
        MAX_EVENT_LOOP_DELAY_MS: '0',
      },
      beforeReady: failingRoutes,
    });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('logs that Sentry is on, with the release and environment', () => {
    expect(t.logs.find('error_tracking_enabled')).toMatchObject([
      { trackers: ['sentry'], environment: 'staging-eu', release: `${packageJson.name}@${packageJson.version}+${COMMIT}`, sentry_tracing: 'off' },
    ]);
  });

  it('sends a 500 once, with request id, route template, ids, release, environment and the trace ids of the span exported over OTLP', async () => {
    receiver.envelopes.length = 0;
    const res = await t.app.inject({
      method: 'POST',
      url: `/test/explode/42?token=${PLANTED.query}&page=2`,
      headers: { 'x-request-id': 'sentry-500', authorization: `Bearer ${PLANTED.bearer}`, cookie: `session=${PLANTED.cookie}` },
      payload: { password: PLANTED.body, note: 'hello' },
    });
    expect(res.statusCode).toBe(500);
    expect(await t.deps.errors.flush(5000)).toEqual([]);
    const events = receiver.events();
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event).toMatchObject({
      level: 'error',
      release: `glassbox@${packageJson.version}+${COMMIT}`,
      environment: 'staging-eu',
      tags: { source: 'request', request_id: 'sentry-500', route: '/test/explode/:id', method: 'POST', status_code: '500', tenant_id: 'tenant-7' },
      user: { id: 'user-7' },
    });
    expect(Object.keys(event.user!)).toEqual(['id']);
    expect(event.exception?.values?.[0]).toMatchObject({
      type: 'Error',
      value: 'charge failed: password=[REDACTED]',
      mechanism: { type: 'glassbox.request', handled: true },
    });

    // The event's trace context is the server span's, and that span reached the OTLP receiver.
    const traceId = traceIdOf(res.headers);
    const serverSpan = tracing.trace(traceId).find((s) => s.name === 'POST /test/explode/:id');
    expect(event.contexts?.trace).toMatchObject({ trace_id: traceId, span_id: serverSpan?.spanContext().spanId });
    await tracing.runtime.forceFlush();
    const exported = await eventually('the server span over OTLP', () => otlp.spans.find((s) => s.traceId === traceId && s.name === 'POST /test/explode/:id'));
    expect(exported.spanId).toBe(event.contexts?.trace?.span_id);

    // One tracer: none of Sentry's tracing, no framework or global-handler integration.
    expect(event.sdk?.integrations).toEqual(['LinkedErrors', 'ExtraErrorData', 'OpenTelemetry', 'Context']);
    expect(receiver.items('span')).toEqual([]);
    expect(receiver.items('transaction')).toEqual([]);
  });

  it('sends none of the secrets planted in the header, cookie, query, body, exception message and error fields', async () => {
    // The error's own fields did travel (ExtraErrorData), with the secret one redacted.
    const event = receiver.events()[0]!;
    expect(event.contexts?.Error).toMatchObject({ api_key: '[REDACTED]', code: 'E_CHARGE' });
    expectNoSecret(receiver, [PLANTED.bearer, PLANTED.cookie, PLANTED.query, PLANTED.body, PLANTED.message, PLANTED.extra]);
  });

  it('sends a 503 from a dependency failure with the tenant and user of the token, and never a 4xx', async () => {
    const owner = await signup(t.app);
    const product = await createProduct(t.app, owner.token);
    receiver.envelopes.length = 0;
    const key = randomUUID();
    const order = (quantity: number) =>
      t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { ...bearer(owner.token), 'idempotency-key': key },
        payload: { items: [{ product_id: product.id, quantity }] },
      });
    const unavailable = await order(1);
    expect(unavailable.statusCode).toBe(503);
    expect(await t.deps.errors.flush(5000)).toEqual([]);
    expect(receiver.events()).toMatchObject([
      {
        tags: { route: '/api/orders', status_code: '503', tenant_id: owner.tenantId, request_id: unavailable.headers['x-request-id'] },
        user: { id: owner.userId },
        contexts: { trace: { trace_id: traceIdOf(unavailable.headers) } },
      },
    ]);
    expectNoSecret(receiver, [owner.token]);

    receiver.envelopes.length = 0;
    const answers = [
      await order(2), // the same Idempotency-Key with another body
      await t.app.inject('/nowhere'),
      await t.app.inject({ method: 'POST', url: '/api/tenants', payload: { name: '' } }),
      await t.app.inject('/api/me'),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([422, 404, 400, 401]);
    expect(await t.deps.errors.flush(5000)).toEqual([]);
    expect(receiver.events()).toEqual([]);
  });

  it('sends a failed background job once, from inside its span', async () => {
    receiver.envelopes.length = 0;
    const queue = `sentry-test-${randomUUID().slice(0, 8)}`;
    const boss = t.deps.jobs.boss;
    await boss.createQueue(queue, { retryLimit: 0 });
    try {
      await t.deps.jobs.work(queue, async () => {
        throw new Error(`sync failed: secret=${PLANTED.job}`);
      });
      const root = tracer.startSpan('test_enqueue');
      const jobId = await context.with(trace.setSpan(context.active(), root), () =>
        t.deps.jobs.send(queue, { tenant_id: 'tenant-9', user_id: 'user-9', request_id: 'job-req-9' }),
      );
      root.end();
      // Wait for pg-boss to record the failure (no retries): every report the job caused is sent by then.
      const deadline = Date.now() + 20_000;
      while ((await boss.getJobById(queue, jobId!))?.state !== 'failed') {
        if (Date.now() > deadline) throw new Error('the job never failed');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await t.deps.errors.flush(5000)).toEqual([]);
      const events = receiver.events();
      expect(events).toHaveLength(1);
      const jobSpan = tracing.trace(root.spanContext().traceId).find((s) => s.name === `process ${queue}`);
      expect(events[0]).toMatchObject({
        tags: { source: 'job', job: queue, request_id: 'job-req-9', tenant_id: 'tenant-9' },
        user: { id: 'user-9' },
        exception: { values: [{ value: 'sync failed: secret=[REDACTED]', mechanism: { type: 'glassbox.job' } }] },
        contexts: { trace: { trace_id: root.spanContext().traceId, span_id: jobSpan?.spanContext().spanId } },
      });
      expectNoSecret(receiver, [PLANTED.job]);
    } finally {
      await boss.offWork(queue).catch(() => {});
      await boss.deleteQueue(queue).catch(() => {});
    }
  });

  /** 20 failing requests and a healthy one, each answered as usual within a bound. */
  async function requestsStillAnswer(what: string) {
    const failing = await bounded(
      `failing requests while Sentry is ${what}`,
      Promise.all(Array.from({ length: 20 }, (_, i) => t.app.inject({ method: 'POST', url: `/test/explode/${i}` }))),
    );
    for (const res of failing) expect([res.statusCode, res.json().error]).toEqual([500, 'internal_server_error']);
    const ok = await bounded(`a healthy request while Sentry is ${what}`, t.app.inject('/test/ok'));
    expect([ok.statusCode, ok.json()]).toEqual([200, { ok: true }]);
  }

  it('answers every request as usual while Sentry accepts and never answers, and its flush gives up within its bound', async () => {
    receiver.hang = true;
    const before = receiver.requests;
    await requestsStillAnswer('stuck');
    // The reports really went out to the stuck Sentry (so the answers above did not wait on it).
    await eventually('a send to the stuck Sentry', () => (receiver.requests > before ? true : undefined));
    expect(await bounded('flush against a stuck Sentry', t.deps.errors.flush(300), 5000)).toEqual(['sentry']);
  });

  it('answers every request as usual while Sentry is down, and its flush returns within its bound', async () => {
    await receiver.close(); // the DSN's port now refuses connections
    await requestsStillAnswer('down');
    // Refused connections fail at once: nothing is left waiting, so the flush succeeds well within its bound.
    expect(await bounded('flush against a Sentry that is down', t.deps.errors.flush(2000), 5000)).toEqual([]);
  });
});
