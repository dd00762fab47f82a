// Error tracking in the server as `npm start` runs it (a child process), against a local
// stand-in for Sentry and a local OTLP receiver:
// - a 503 (the payment provider is down) arrives with the trace and span ids of the server
//   span the OTLP receiver got; a crash (an exception thrown from a timer) arrives once,
//   flushed before the process exits 1; no planted secret is in the bytes sent;
// - SENTRY_TRACES_SAMPLE_RATE turns Sentry's own tracing on (spans arrive, redacted) and
//   the error still carries our trace's ids; without it none of Sentry's tracing runs;
// - without SENTRY_DSN no module of @sentry/* is ever loaded;
// - a service adopting the layer (examples/bare-service) gets the same from its environment.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, START_ARGS, startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { eventually, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.ts';
import { startSentryReceiver, type SentryReceiver } from '../helpers/sentry-receiver.ts';
import { backend, createOwnDatabase, TEST_JWT_SECRET } from '../helpers/test-app.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'glassbox-sentry-'));
const started: ChildServer[] = [];
let otlp: OtlpReceiver;
let dropDatabase: (() => Promise<void>) | undefined;
let backendEnv: Record<string, string | undefined>;

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  // Each server here runs against a database of its own on real Postgres, so no other file's jobs or workers meet it.
  const own = process.env.DATABASE_URL ? await createOwnDatabase(process.env.DATABASE_URL) : undefined;
  dropDatabase = own?.drop;
  backendEnv = { DATABASE_URL: own?.url, REDIS_URL: process.env.REDIS_URL };
});
afterAll(async () => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await Promise.all(started.map((s) => s.exited));
  await otlp?.close();
  await dropDatabase?.();
  rmSync(dataDir, { recursive: true, force: true });
});

const fixture = (name: string) => ['--import', `./test/fixtures/${name}`];

async function start(name: string, env: Record<string, string>, fixtures: string[] = []): Promise<ChildServer> {
  const server = await startChildServer(
    {
      ...backendEnv,
      DATA_DIR: join(dataDir, name),
      APP_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      WORKER_ENABLED: 'false', // no background job may fail on its own and add an event
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      TELEMETRY_FLUSH_TIMEOUT_MS: '3000',
      MAX_EVENT_LOOP_DELAY_MS: '0', // a busy test machine must not shed the requests these tests make
      ...env,
    },
    { args: [...fixtures, ...START_ARGS], cwd: ROOT },
  );
  started.push(server);
  await server.waitForLine('application_started', 60_000);
  return server;
}

/** Signs up, adds a product, and orders it while the payment provider is down: a 503. */
async function orderWhileGatewayIsDown(server: ChildServer, extra: { query?: string; headers?: Record<string, string> } = {}) {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const slug = `sentry-${randomUUID().slice(0, 8)}`;
  const signup = await post('/api/tenants', { name: 'Sentry Co', slug, email: `o@${slug}.test`, password: 'long enough password' });
  expect(signup.status).toBe(201);
  const { access_token: token, tenant, user } = (await signup.json()) as { access_token: string; tenant: { id: string }; user: { id: string } };
  const product = await post('/api/products', { name: 'Widget', price_cents: 500, stock: 5 }, { authorization: `Bearer ${token}` });
  expect(product.status).toBe(201);
  const productId = ((await product.json()) as { id: string }).id;
  const order = await post(
    `/api/orders${extra.query ?? ''}`,
    { items: [{ product_id: productId, quantity: 1 }] },
    {
      authorization: `Bearer ${token}`,
      'idempotency-key': randomUUID(),
      ...extra.headers,
    },
  );
  expect(order.status).toBe(503);
  const traceId = (order.headers.get('traceresponse') ?? '').split('-')[1];
  return { token, tenantId: tenant.id, userId: user.id, traceId, requestId: order.headers.get('x-request-id') };
}

function probeLine(server: ChildServer) {
  return server.lines().find((l) => l.message === 'module_probe') as { sentry_modules: number } | undefined;
}

function expectNoSecret(receiver: SentryReceiver, secrets: string[]) {
  for (const envelope of receiver.envelopes) for (const secret of secrets) expect(envelope.raw.toString('utf8')).not.toContain(secret);
}

describe(`Sentry in the server process (${backend})`, () => {
  it('sends a 503 with the ids of the span exported over OTLP, then a crash once, flushed before the exit', { timeout: 120_000 }, async () => {
    const receiver = await startSentryReceiver();
    const crashSecret = `crash-${randomUUID()}`;
    try {
      const server = await start(
        'crash',
        {
          SENTRY_DSN: receiver.dsn,
          PAYMENT_GATEWAY_URL: `http://127.0.0.1:${await freePort()}`,
          PAYMENT_GATEWAY_TIMEOUT_MS: '1000',
          CRASH_SECRET: crashSecret,
        },
        [...fixture('module-probe.ts'), ...fixture('crash-on-signal.ts')],
      );
      expect(server.lines().find((l) => l.message === 'application_started')).toMatchObject({ error_tracking: 'on' });

      const order = await orderWhileGatewayIsDown(server);
      const [event] = await receiver.waitForEvents(1);
      expect(event).toMatchObject({
        tags: { source: 'request', route: '/api/orders', status_code: '503', tenant_id: order.tenantId, request_id: order.requestId },
        user: { id: order.userId },
        environment: 'test',
        contexts: { trace: { trace_id: order.traceId } },
      });
      const span = await eventually('the server span over OTLP', () => otlp.spans.find((s) => s.traceId === order.traceId && s.name === 'POST /api/orders'));
      expect(event!.contexts?.trace?.span_id).toBe(span.spanId);

      server.child.kill('SIGUSR2'); // the fixture throws from a timer
      expect((await server.exited).code).toBe(1);
      expect(server.lines().find((l) => l.message === 'uncaught_exception')).toMatchObject({ level: 'fatal' });
      // The exit went through the orderly shutdown, not a bare process.exit.
      const stopped = server.lines().find((l) => l.message === 'application_stopped');
      expect(stopped).toMatchObject({ reason: 'uncaught_exception', exit_code: 1 });
      const events = receiver.events();
      expect(events).toHaveLength(2);
      expect(events[1]).toMatchObject({
        level: 'fatal',
        tags: { source: 'crash' },
        exception: { values: [{ value: 'background refresh failed: token=[REDACTED]', mechanism: { type: 'glassbox.crash', handled: false } }] },
      });
      // Received while the process still ran: before its last line, not lost to the exit.
      const crashEnvelope = receiver.envelopes.find((e) => e.items.some((i) => i.type === 'event' && (i.payload as { level?: string }).level === 'fatal'));
      expect(crashEnvelope!.receivedAt).toBeLessThanOrEqual(Date.parse(String(stopped!.timestamp)));
      // Thrown outside any span: no trace id at all, rather than one Sentry made up that no trace has.
      expect(events[1]!.contexts?.trace).toBeUndefined();
      expect(crashEnvelope!.headers.trace).toBeUndefined();
      expectNoSecret(receiver, [crashSecret, order.token]);
      // Without SENTRY_TRACES_SAMPLE_RATE none of Sentry's tracing ran.
      expect(events[0]!.sdk?.integrations).not.toContain('Http');
      expect(receiver.items('span')).toEqual([]);
      // The control for the test below: with a DSN, the probe does see Sentry's modules.
      expect(probeLine(server)?.sentry_modules).toBeGreaterThan(0);
    } finally {
      await receiver.close();
    }
  });

  it("runs Sentry's tracing only with SENTRY_TRACES_SAMPLE_RATE, its spans redacted, the error still on our trace", { timeout: 120_000 }, async () => {
    const receiver = await startSentryReceiver();
    const planted = { query: `q-${randomUUID()}`, cookie: `c-${randomUUID()}`, note: `n-${randomUUID()}` };
    try {
      const server = await start('tracing', {
        SENTRY_DSN: receiver.dsn,
        SENTRY_TRACES_SAMPLE_RATE: '1',
        PAYMENT_GATEWAY_URL: `http://127.0.0.1:${await freePort()}`,
        PAYMENT_GATEWAY_TIMEOUT_MS: '1000',
      });
      const order = await orderWhileGatewayIsDown(server, {
        query: `?token=${planted.query}`,
        // Sentry filters some names itself (cookie, *key*); a header it keeps is left to our rule.
        headers: { cookie: `session=${planted.cookie}`, 'x-debug-note': `retry with password=${planted.note}` },
      });
      const [event] = await receiver.waitForEvents(1);
      expect(event).toMatchObject({ tags: { route: '/api/orders', status_code: '503' }, contexts: { trace: { trace_id: order.traceId } } });
      expect(event!.sdk?.integrations).toEqual(expect.arrayContaining(['Http', 'NodeFetch']));
      await eventually("Sentry's spans", () => (receiver.items('span').length > 0 ? true : undefined));
      server.child.kill('SIGTERM');
      expect((await server.exited).code).toBe(0);
      expectNoSecret(receiver, [order.token, planted.query, planted.cookie, planted.note]);
    } finally {
      await receiver.close();
    }
  });

  it('never loads @sentry/node without SENTRY_DSN', { timeout: 120_000 }, async () => {
    const server = await start('no-dsn', {}, fixture('module-probe.ts'));
    expect(server.lines().find((l) => l.message === 'application_started')).toMatchObject({ error_tracking: 'off' });
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(probeLine(server)).toMatchObject({ sentry_modules: 0 });
  });

  it('gives a service adopting the layer Sentry from its environment (errorReportingFromEnv), with its own release', { timeout: 60_000 }, async () => {
    const receiver = await startSentryReceiver();
    const commit = '0123456789abcdef0123456789abcdef01234567';
    try {
      const dir = join(ROOT, 'examples', 'bare-service');
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string; scripts: { start: string } };
      const server = await startChildServer(
        { SENTRY_DSN: receiver.dsn, APP_ENV: 'staging', GIT_COMMIT: commit, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' },
        { args: pkg.scripts.start.split(/\s+/).slice(1), cwd: dir },
      );
      started.push(server);
      await server.waitForLine('server_listening', 30_000);
      const release = `${pkg.name}@${pkg.version}+${commit}`;
      expect(server.lines().find((l) => l.message === 'error_tracking_enabled')).toMatchObject({ trackers: ['sentry'], environment: 'staging', release });

      const res = await fetch(`${server.url}/boom`, { headers: { 'x-request-id': 'bare-boom-1' } });
      expect(res.status).toBe(500);
      const traceId = res.headers.get('traceresponse')?.split('-')[1];
      const [event] = await receiver.waitForEvents(1);
      expect(event).toMatchObject({
        release,
        environment: 'staging',
        tags: { source: 'request', route: '/boom', request_id: 'bare-boom-1', status_code: '500' },
        contexts: { trace: { trace_id: traceId } },
        exception: { values: [{ value: 'something broke' }] },
      });
      server.child.kill('SIGTERM');
      expect((await server.exited).code).toBe(0);
      expect(receiver.events()).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });
});
