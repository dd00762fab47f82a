// SIGTERM as an orchestrator sends it: to the real server process (`npm start`'s command),
// while 50 connections keep sending requests and a prober polls readiness. Nothing the
// server accepted may fail, readiness must say 503 before the listener closes, the last
// spans must reach the OTLP receiver, and the exit code is 0. Then the same stop with a
// collector that accepts and never answers: exit 0 within the deadline, and a warning.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startChildServer, type ChildServer } from './helpers/child-server.ts';
import { startOtlpReceiver, type OtlpReceiver } from './helpers/otlp-receiver.ts';
import { backend, TEST_JWT_SECRET } from './helpers/test-app.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'glassbox-shutdown-'));
const servers: ChildServer[] = [];
const receivers: OtlpReceiver[] = [];
afterAll(async () => {
  for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await Promise.all(receivers.map((r) => r.close()));
  rmSync(dataDir, { recursive: true, force: true });
});

const CONNECTIONS = 50;

async function startServer(receiver: OtlpReceiver, env: Record<string, string> = {}): Promise<ChildServer> {
  const server = await startChildServer({
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    DATA_DIR: join(dataDir, String(servers.length)),
    JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMIT_PER_MINUTE: '0',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    ...env,
  });
  servers.push(server);
  await server.waitForLine('application_started', 60_000);
  return server;
}

/** A tenant with one product; returns the product's URL and the auth header. */
async function seed(server: ChildServer): Promise<{ url: string; headers: Record<string, string> }> {
  const slug = `stop-${Date.now().toString(36)}`;
  const signup = await fetch(`${server.url}/api/tenants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Stop', slug, email: `o@${slug}.test`, password: 'long enough password' }),
  });
  const { access_token: token } = (await signup.json()) as { access_token: string };
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const product = await fetch(`${server.url}/api/products`, { method: 'POST', headers, body: JSON.stringify({ name: 'P', price_cents: 100, stock: 5 }) });
  const { id } = (await product.json()) as { id: string };
  return { url: `${server.url}/api/products/${id}`, headers };
}

interface Outcome {
  at: number;
  status?: number;
  traceId?: string;
  requestId?: string | null;
  error?: string;
}

const reason = (error: unknown) => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? String(error);
};

describe(`shutdown of the server process (${backend})`, () => {
  it(
    `on SIGTERM under load from ${CONNECTIONS} connections: readiness 503 first, nothing accepted fails, last spans exported, exit 0`,
    { timeout: 120_000 },
    async () => {
      const receiver = await startOtlpReceiver();
      receivers.push(receiver);
      const server = await startServer(receiver, { SHUTDOWN_DELAY_MS: '1000', LOG_LEVEL: 'info' });
      const { url, headers } = await seed(server);

      let signalledAt = Infinity;
      const deadline = Date.now() + 20_000;
      // Each worker sends one request after another on its connection, until the server is gone
      // (the first connection error after SIGTERM) or the bounded time is up.
      const worker = async (): Promise<Outcome[]> => {
        const outcomes: Outcome[] = [];
        while (Date.now() < deadline) {
          try {
            const res = await fetch(url, { headers });
            await res.arrayBuffer();
            outcomes.push({
              at: Date.now(),
              status: res.status,
              traceId: res.headers.get('traceresponse')?.split('-')[1],
              requestId: res.headers.get('x-request-id'),
            });
          } catch (error) {
            outcomes.push({ at: Date.now(), error: reason(error) });
            if (Date.now() >= signalledAt) break;
          }
        }
        return outcomes;
      };
      const probes: Outcome[] = [];
      const prober = (async () => {
        while (Date.now() < deadline) {
          try {
            const res = await fetch(`${server.url}/health/ready`);
            const body = (await res.json()) as { status: string };
            probes.push({ at: Date.now(), status: res.status, error: body.status });
          } catch (error) {
            probes.push({ at: Date.now(), error: reason(error) });
            if (Date.now() >= signalledAt) break;
          }
          await new Promise((r) => setTimeout(r, 25));
        }
      })();

      const load = Promise.all(Array.from({ length: CONNECTIONS }, worker));
      await new Promise((r) => setTimeout(r, 1500));
      signalledAt = Date.now();
      server.child.kill('SIGTERM');
      const outcomes = (await load).flat();
      await prober;
      const exit = await server.exited;
      const output = [...server.stdout.slice(-20), ...server.stderr].join('\n');
      expect(exit.code, output).toBe(0);

      // Load ran on both sides of the signal.
      const answered = outcomes.filter((o) => o.status !== undefined);
      expect(answered.filter((o) => o.at < signalledAt).length).toBeGreaterThan(CONNECTIONS);
      expect(answered.filter((o) => o.at > signalledAt).length).toBeGreaterThan(CONNECTIONS);
      // Every answer the clients got is a success. Failures come only after the signal, and only at
      // the connection: refused by the closed listener, or reset when the kernel had queued a
      // connection the listener then never accepted (the server never read that request; the
      // server-side count below proves no request it read went unanswered).
      expect(answered.filter((o) => o.status !== 200)).toEqual([]);
      const failed = outcomes.filter((o) => o.error !== undefined);
      expect(failed.filter((o) => o.at < signalledAt)).toEqual([]);
      expect([...new Set(failed.map((o) => o.error))].filter((e) => e !== 'ECONNREFUSED' && e !== 'ECONNRESET')).toEqual([]);
      // Accepted = the server finished it: every request it logged as completed reached its client, as a 200.
      const completed = server
        .lines()
        .filter((l) => l.message === 'request_completed' && l.path !== '/health/ready' && typeof l.path === 'string' && l.path.startsWith('/api/products/'));
      expect(completed.filter((l) => l.status_code !== 200)).toEqual([]);
      const received = new Set(answered.map((o) => o.requestId));
      expect(completed.filter((l) => !received.has(l.request_id as string))).toEqual([]);
      expect(completed.length).toBe(answered.length);

      // Readiness said shutting_down after the signal and before the listener refused connections.
      const firstRefusal = probes.find((p) => p.at > signalledAt && p.status === undefined);
      const shuttingDown = probes.filter((p) => p.status === 503 && p.error === 'shutting_down');
      expect(shuttingDown.length).toBeGreaterThan(0);
      expect(shuttingDown[0]!.at).toBeGreaterThan(signalledAt);
      expect(firstRefusal).toBeDefined();
      expect(shuttingDown[0]!.at).toBeLessThan(firstRefusal!.at);
      expect(probes.filter((p) => p.at < signalledAt).every((p) => p.status === 200)).toBe(true);

      // The last request answered before the exit has its server span at the receiver.
      const last = answered.reduce((a, b) => (b.at > a.at ? b : a));
      expect(receiver.spans.some((s) => s.traceId === last.traceId && s.name === 'GET /api/products/:id')).toBe(true);
      const messages = server.lines().map((l) => l.message);
      expect(messages.indexOf('application_stopped')).toBeGreaterThan(messages.indexOf('shutdown_started'));
      expect(messages).not.toContain('telemetry_flush_failed');
    },
  );

  it('with a collector that accepts and never answers: exit 0 within the deadline, and a telemetry_flush_failed warning', { timeout: 90_000 }, async () => {
    const receiver = await startOtlpReceiver({ hang: true });
    receivers.push(receiver);
    const server = await startServer(receiver, { TELEMETRY_FLUSH_TIMEOUT_MS: '1000', SHUTDOWN_TIMEOUT_MS: '8000' });
    // Serving is unaffected by the hung collector.
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    const { url, headers } = await seed(server);
    expect((await fetch(url, { headers })).status).toBe(200);

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    const took = Date.now() - signalled;
    expect(exit.code, server.stdout.slice(-10).join('\n')).toBe(0);
    // The flush's own bound (1 s) and the rest of the stop, well inside the 8 s deadline.
    expect(took).toBeLessThan(8000);
    expect(receiver.requests).toBeGreaterThan(0);
    const warning = server.lines().find((l) => l.message === 'telemetry_flush_failed');
    expect(warning).toMatchObject({ level: 'warn', telemetry: 'traces', timeout_ms: 1000 });
    expect(server.lines().at(-1)).toMatchObject({ message: 'application_stopped', exit_code: 0 });
    expect(server.lines().map((l) => l.message)).not.toContain('shutdown_deadline_exceeded');
  });
});
