// The process as users run it: `npm start`'s command in a child process. Startup and its
// events, probes, SIGTERM with a request in flight, and startup failures (a dependency that
// refuses, one that never answers, unsafe production settings).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startChildServer, type ChildServer } from './helpers/child-server.ts';
import { backend, TEST_JWT_SECRET } from './helpers/test-app.ts';
import packageJson from '../package.json' with { type: 'json' };

/** A TCP server that accepts every connection and never answers (a hung database or Redis). */
async function silentServer(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const dataDir = mkdtempSync(join(tmpdir(), 'glassbox-lifecycle-'));
const started: ChildServer[] = [];
afterAll(() => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const backendEnv = {
  DATABASE_URL: process.env.DATABASE_URL,
  REDIS_URL: process.env.REDIS_URL,
  DATA_DIR: dataDir,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies of several shapes
type Json = Record<string, any>;

async function json(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

describe(`lifecycle of the server process (${backend})`, () => {
  it('starts, answers its probes, finishes an in-flight request on SIGTERM and exits 0', { timeout: 90_000 }, async () => {
    const server = await startChildServer({ ...backendEnv, JWT_SECRET: TEST_JWT_SECRET, PAYMENT_SIMULATOR_LATENCY_MS: '1500', LOG_LEVEL: 'info' });
    started.push(server);
    await server.waitForLine('application_started', 60_000);

    expect((await json(`${server.url}/health/live`)).body).toEqual({ status: 'ok' });
    expect(await json(`${server.url}/health/startup`)).toMatchObject({ status: 200, body: { status: 'started' } });
    const ready = await json(`${server.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { database: 'ok', redis: process.env.REDIS_URL ? 'ok' : 'disabled', pressure: 'ok' } });

    const slug = `life-${Date.now().toString(36)}`;
    const signup = await json(`${server.url}/api/tenants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Life', slug, email: `o@${slug}.test`, password: 'long enough password' }),
    });
    const auth = { authorization: `Bearer ${signup.body.access_token}`, 'content-type': 'application/json' };
    const product = await json(`${server.url}/api/products`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'P', price_cents: 100, stock: 5 }),
    });

    // The simulated gateway takes 1.5 s: SIGTERM arrives while the order is in flight.
    const inFlight = json(`${server.url}/api/orders`, {
      method: 'POST',
      headers: { ...auth, 'idempotency-key': 'lifecycle-1' },
      body: JSON.stringify({ items: [{ product_id: product.body.id, quantity: 1 }] }),
    });
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill('SIGTERM');

    const order = await inFlight;
    expect(order.status).toBe(201);
    expect(order.body.status).toBe('paid');
    const exit = await server.exited;
    expect(exit.code, [...server.stdout, ...server.stderr].join('\n')).toBe(0);
    const messages = server.lines().map((l) => l.message);
    expect(messages).toContain('shutdown_started');
    expect(messages.indexOf('application_stopped')).toBeGreaterThan(messages.indexOf('shutdown_started'));
    expect(server.lines().find((l) => l.message === 'application_stopped')).toMatchObject({ level: 'info', exit_code: 0, duration_ms: expect.any(Number) });
    // After exit nothing listens any more.
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow();
  });

  it('keeps data across a restart of the embedded database', { timeout: 90_000, skip: backend !== 'embedded' }, async () => {
    const first = await startChildServer({ ...backendEnv, JWT_SECRET: TEST_JWT_SECRET });
    started.push(first);
    await first.waitForLine('application_started', 60_000);
    const slug = `keep-${Date.now().toString(36)}`;
    const body = JSON.stringify({ name: 'Keep', slug, email: `o@${slug}.test`, password: 'long enough password' });
    expect((await json(`${first.url}/api/tenants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(201);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = await startChildServer({ ...backendEnv, JWT_SECRET: TEST_JWT_SECRET });
    started.push(second);
    await second.waitForLine('application_started', 60_000);
    const login = await json(`${second.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: slug, email: `o@${slug}.test`, password: 'long enough password' }),
    });
    expect(login.status).toBe(200);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it("logs the guide's startup events, application_started with version, port, backends and trace exporters", { timeout: 90_000 }, async () => {
    const server = await startChildServer({ ...backendEnv, JWT_SECRET: TEST_JWT_SECRET });
    started.push(server);
    const startedLine = await server.waitForLine('application_started', 60_000);
    const messages = server.lines().map((l) => l.message);
    const expected = ['application_starting', 'database_connection_ok', ...(process.env.REDIS_URL ? ['redis_connection_ok'] : []), 'application_started'];
    expect(messages.filter((m) => expected.includes(String(m)))).toEqual(expected);
    expect(startedLine).toMatchObject({
      level: 'info',
      version: packageJson.version,
      port: server.port,
      backends: { database: process.env.DATABASE_URL ? 'postgres' : 'embedded', cache: process.env.REDIS_URL ? 'redis' : 'memory' },
      tracing: 'enabled',
      trace_exporters: [],
    });
    server.child.kill('SIGINT');
    expect((await server.exited).code).toBe(0);
    expect(server.lines().at(-1)).toMatchObject({ message: 'application_stopped', reason: 'SIGINT' });
  });

  it('exits non-zero with a critical line when the database refuses connections', { timeout: 60_000 }, async () => {
    const server = await startChildServer({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', JWT_SECRET: TEST_JWT_SECRET, STARTUP_ATTEMPTS: '3' });
    started.push(server);
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    const critical = server.lines().filter((l) => l.level === 'critical');
    expect(critical.map((l) => l.message)).toEqual(['database_connection_failed']);
    // Retries were bounded and logged: one warning between each of the three tries.
    expect(server.lines().filter((l) => l.message === 'dependency_unavailable')).toHaveLength(2);
    expect(server.lines().map((l) => l.message)).not.toContain('application_started');
  });

  // A server that accepts the connection and never says a word: the pg driver would wait
  // forever; each try is bounded instead, and the whole start within the configured tries.
  for (const dependency of ['database', 'redis'] as const) {
    it(`exits non-zero within its bound with ${dependency}_connection_failed when the ${dependency} never answers`, { timeout: 60_000 }, async () => {
      const silent = await silentServer();
      try {
        const target =
          dependency === 'database'
            ? { DATABASE_URL: `postgres://postgres@127.0.0.1:${silent.port}/silent` }
            : { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: `redis://127.0.0.1:${silent.port}` };
        const begun = Date.now();
        const server = await startChildServer({
          DATA_DIR: dataDir,
          ...target,
          JWT_SECRET: TEST_JWT_SECRET,
          STARTUP_ATTEMPTS: '2',
          STARTUP_CONNECT_TIMEOUT_MS: '700',
          STARTUP_RETRY_MAX_MS: '300',
        });
        started.push(server);
        const exit = await server.exited;
        const output = server.stdout.join('\n');
        expect(exit.code, output).toBe(1);
        const critical = server.lines().filter((l) => l.level === 'critical');
        expect(critical, output).toHaveLength(1);
        expect(critical[0]).toMatchObject({ message: `${dependency}_connection_failed`, dependency, attempts: 2 });
        // The database's second try times out too; ioredis, still connecting, refuses the ping at once.
        expect(String(critical[0]!.error)).toMatch(dependency === 'database' ? /no answer within 700 ms/ : /no answer within 700 ms|isn't writeable/);
        // Two tries of 0.7 s and one pause of 0.25 s, plus the process's own start (PGlite's on the embedded backend).
        expect(Number(critical[0]!.duration_ms)).toBeGreaterThanOrEqual(dependency === 'database' ? 1400 : 700);
        expect(Number(critical[0]!.duration_ms)).toBeLessThan(5000);
        expect(Date.now() - begun).toBeLessThan(45_000);
        // pg opens a connection a try; ioredis keeps its one connection attempt open between tries.
        expect(silent.connections()).toBeGreaterThanOrEqual(dependency === 'database' ? 2 : 1);
      } finally {
        await silent.close();
      }
    });
  }

  it('refuses unsafe production defaults with one line naming the variable', { timeout: 30_000 }, async () => {
    const server = await startChildServer({ APP_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET });
    started.push(server);
    expect((await server.exited).code).toBe(1);
    expect(server.stderr).toHaveLength(1);
    expect(server.stderr[0]).toMatch(/DATABASE_URL/);
  });
});
