// The process as users run it: `node src/main.ts` in a child process. Startup, probes,
// SIGTERM with a request in flight, and startup failures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startChildServer, type ChildServer } from './helpers/child-server.ts';
import { backend, TEST_JWT_SECRET } from './helpers/test-app.ts';

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
    await server.waitForLine('server_started', 60_000);

    expect((await json(`${server.url}/health/live`)).body).toEqual({ status: 'ok' });
    expect(await json(`${server.url}/health/startup`)).toMatchObject({ status: 200, body: { status: 'started' } });
    const ready = await json(`${server.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { database: 'ok', redis: process.env.REDIS_URL ? 'ok' : 'disabled' } });

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
    expect(messages.indexOf('shutdown_complete')).toBeGreaterThan(messages.indexOf('shutdown_started'));
    // After exit nothing listens any more.
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow();
  });

  it('keeps data across a restart of the embedded database', { timeout: 90_000, skip: backend !== 'embedded' }, async () => {
    const first = await startChildServer({ ...backendEnv, JWT_SECRET: TEST_JWT_SECRET });
    started.push(first);
    await first.waitForLine('server_started', 60_000);
    const slug = `keep-${Date.now().toString(36)}`;
    const body = JSON.stringify({ name: 'Keep', slug, email: `o@${slug}.test`, password: 'long enough password' });
    expect((await json(`${first.url}/api/tenants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(201);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = await startChildServer({ ...backendEnv, JWT_SECRET: TEST_JWT_SECRET });
    started.push(second);
    await second.waitForLine('server_started', 60_000);
    const login = await json(`${second.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: slug, email: `o@${slug}.test`, password: 'long enough password' }),
    });
    expect(login.status).toBe(200);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('exits non-zero with a critical line when the database never answers', { timeout: 60_000 }, async () => {
    const server = await startChildServer({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', JWT_SECRET: TEST_JWT_SECRET });
    started.push(server);
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    const critical = server.lines().find((l) => l.level === 'critical');
    expect(critical?.message).toBe('startup_failed');
    // Retries were bounded and logged.
    expect(server.lines().filter((l) => l.message === 'dependency_unavailable').length).toBeGreaterThan(0);
  });

  it('refuses unsafe production defaults with one line naming the variable', { timeout: 30_000 }, async () => {
    const server = await startChildServer({ APP_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET });
    started.push(server);
    expect((await server.exited).code).toBe(1);
    expect(server.stderr).toHaveLength(1);
    expect(server.stderr[0]).toMatch(/DATABASE_URL/);
  });
});
