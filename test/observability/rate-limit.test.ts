// The per-tenant API rate limit (@fastify/rate-limit, RATE_LIMIT_PER_MINUTE): a tenant past
// its budget gets 429 with Retry-After and the IETF RateLimit-* headers, other tenants and
// requests without a tenant are untouched, refusals are counted per tenant under the
// bounded tenant label, replicas sharing Redis share one count, and a Redis that does not
// answer lets requests through. On the embedded backend the count lives in memory; with
// REDIS_URL set the same tests run against the real Redis.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindRequestIdentity, createLogger, observability, observabilityServerOptions, type ObservabilityOptions } from '../../src/observability/index.ts';
import { bearer, signup, type Tenant } from '../helpers/api.ts';
import { startChildServer } from '../helpers/child-server.ts';
import { findPromtool, promtoolCheckMetrics, PROMTOOL_MISSING, runsWith, scrape } from '../helpers/metrics.ts';
import { eventually, startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import { backend, LogCapture, startTestApp, TEST_JWT_SECRET, type TestApp } from '../helpers/test-app.ts';

const store = process.env.REDIS_URL ? 'Redis store' : 'memory store';
const LIMIT = 5;
const NO_SHEDDING = { MAX_EVENT_LOOP_DELAY_MS: '0' };

const me = (app: FastifyInstance, tenant: Tenant) => app.inject({ method: 'GET', url: '/api/me', headers: bearer(tenant.token) });

/** A service that is not Glassbox (no error handler of ours): one route acting for the tenant named in x-tenant. */
async function bareService(options: ObservabilityOptions): Promise<{ app: FastifyInstance; logs: LogCapture }> {
  const logs = new LogCapture();
  const app = Fastify(observabilityServerOptions(createLogger({ level: 'info', format: 'json', destination: logs })));
  await app.register(observability, { tracing: false, overload: false, ...options });
  app.get('/work', {
    onRequest: (request, _reply, done) => {
      bindRequestIdentity(request, { tenant_id: String(request.headers['x-tenant'] ?? 'tenant-a') });
      done();
    },
    handler: async () => ({ ok: true }),
  });
  await app.ready();
  return { app, logs };
}

describe(`per-tenant rate limit (${backend}, ${store})`, () => {
  let t: TestApp;
  let first: Tenant;
  let second: Tenant;
  beforeAll(async () => {
    // One tenant label value per metric, so the second refused tenant shows as `other`.
    // Load shedding off: these tests are about the rate limit, and a loaded machine can stall the loop past 1 s.
    t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT), METRICS_MAX_TENANTS: '1', ...NO_SHEDDING } });
    first = await signup(t.app);
    second = await signup(t.app);
  });
  afterAll(async () => t?.close());

  it('counts a tenant down with RateLimit-* headers, then answers 429 too_many_requests with Retry-After', async () => {
    for (let i = 1; i <= LIMIT; i++) {
      const res = await me(t.app, first);
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe(String(LIMIT));
      expect(res.headers['ratelimit-remaining']).toBe(String(LIMIT - i));
      expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThan(0);
      expect(Number(res.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
    }
    const refused = await t.app.inject({ method: 'GET', url: '/api/me', headers: { ...bearer(first.token), 'x-request-id': 'rate-limited-1' } });
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({
      error: 'too_many_requests',
      message: expect.stringContaining(`${LIMIT} requests per minute`),
      request_id: 'rate-limited-1',
    });
    expect(refused.headers['ratelimit-limit']).toBe(String(LIMIT));
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-reset']).toBe(String(retryAfter));
    // Every route that acts for the tenant shares the budget, the invalid ones included.
    const invalid = await t.app.inject({ method: 'POST', url: '/api/products', headers: bearer(first.token), payload: { name: '' } });
    expect(invalid.statusCode).toBe(429);
    // A refusal is an answer, logged like any other request with the tenant it was for.
    const line = t.logs.find('request_completed').find((l) => l.request_id === 'rate-limited-1');
    expect(line).toMatchObject({ status_code: 429, tenant_id: first.tenantId, level: 'info' });
  });

  it('keeps each tenant to its own budget', async () => {
    const res = await me(t.app, second);
    expect(res.statusCode).toBe(200);
    expect(res.headers['ratelimit-remaining']).toBe(String(LIMIT - 1));
    // The exhausted tenant is still refused.
    expect((await me(t.app, first)).statusCode).toBe(429);
  });

  it('does not limit requests without a tenant: signup, login, probes, /metrics, the docs', async () => {
    const urls = ['/health/live', '/health/ready', '/health/startup', '/metrics', '/docs/openapi.json'];
    for (let i = 0; i < LIMIT + 2; i++) {
      for (const url of urls) {
        const res = await t.app.inject(url);
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['ratelimit-limit'], url).toBeUndefined();
      }
      // The exhausted tenant can still log in: login learns the tenant only in its handler.
      const login = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { tenant: first.slug, email: first.email, password: first.password },
      });
      expect(login.statusCode).toBe(200);
      expect(login.headers['ratelimit-limit']).toBeUndefined();
    }
    await signup(t.app);
  });

  it('counts refusals per tenant in /metrics, tenant values capped by METRICS_MAX_TENANTS, and promtool accepts it', async () => {
    const before = await scrape(t.app);
    for (let i = 0; i < LIMIT; i++) await me(t.app, second); // its remaining budget is LIMIT - 1: the last is refused
    await me(t.app, first);
    await me(t.app, first);
    const after = await scrape(t.app);
    expect(after.type('rate_limited_requests_total')).toBe('counter');
    // The first refused tenant took the one label value; the second counts as `other`.
    expect(
      after.value('rate_limited_requests_total', { tenant_id: first.tenantId }) - before.value('rate_limited_requests_total', { tenant_id: first.tenantId }),
    ).toBe(2);
    expect(after.value('rate_limited_requests_total', { tenant_id: 'other' }) - before.value('rate_limited_requests_total', { tenant_id: 'other' })).toBe(1);
    expect(after.labelValues('rate_limited_requests_total', 'tenant_id')).toEqual(new Set([first.tenantId, 'other']));
    const promtool = findPromtool();
    if (runsWith(promtool, 'promtool check metrics')) {
      expect(promtool, PROMTOOL_MISSING).toBeDefined();
      const result = await promtoolCheckMetrics(promtool!, after.text);
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
  });
});

describe(`rate limit off (${backend})`, () => {
  it('with RATE_LIMIT_PER_MINUTE=0 no request is limited and none carries RateLimit-* headers', async () => {
    const t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0', ...NO_SHEDDING } });
    try {
      const tenant = await signup(t.app);
      const res = await me(t.app, tenant);
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
      expect(res.headers['ratelimit-remaining']).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('rate limit in a service without Glassbox’s error handler', () => {
  it('answers the same 429 body and headers (memory store)', async () => {
    const { app } = await bareService({ rateLimit: { perMinute: 1 } });
    try {
      expect((await app.inject('/work')).statusCode).toBe(200);
      const refused = await app.inject({ url: '/work', headers: { 'x-request-id': 'bare-429' } });
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toEqual({ error: 'too_many_requests', message: expect.any(String), request_id: 'bare-429' });
      expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      expect((await app.inject({ url: '/work', headers: { 'x-tenant': 'tenant-b' } })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('lets requests through when the Redis store does not answer, with one rate_limit_store_failed warning', async () => {
    // A real ioredis client with the fail-fast options Glassbox's cache uses, at a port where nothing listens.
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const { app, logs } = await bareService({ rateLimit: { perMinute: 1, redis } });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await app.inject('/work');
        expect(res.statusCode).toBe(200);
        expect(res.headers['ratelimit-limit']).toBeUndefined();
      }
      const warnings = logs.find('rate_limit_store_failed');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warn', tenant_id: 'tenant-a', failed_checks: 1 });
    } finally {
      await app.close();
      redis.disconnect();
    }
  });
});

describe.skipIf(!process.env.REDIS_URL)('rate limit shared by replicas through Redis (needs REDIS_URL)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT), ...NO_SHEDDING } });
    b = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT), ...NO_SHEDDING } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('counts one tenant’s requests to two app instances against one budget', async () => {
    // Both instances verify the same signed token; on the embedded database the second one
    // does not know the tenant (404), which does not matter to the count taken before.
    const tenant = await signup(a.app);
    const replicas = [a.app, b.app];
    for (let i = 1; i <= LIMIT; i++) {
      const res = await me(replicas[i % 2]!, tenant);
      expect(res.statusCode).not.toBe(429);
      expect(res.headers['ratelimit-remaining']).toBe(String(LIMIT - i));
    }
    expect((await me(a.app, tenant)).statusCode).toBe(429);
    expect((await me(b.app, tenant)).statusCode).toBe(429);
  });

  it('checks the count with one Redis command, traced as a child span of the request (the server as npm start runs it)', async () => {
    const receiver = await startOtlpReceiver();
    const dataDir = mkdtempSync(join(tmpdir(), 'glassbox-rate-limit-'));
    const server = await startChildServer({
      DATA_DIR: dataDir,
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      JWT_SECRET: TEST_JWT_SECRET,
      RATE_LIMIT_PER_MINUTE: '100',
      ...NO_SHEDDING,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      await server.waitForLine('application_started', 30_000);
      const slug = `rl-${Date.now()}`;
      const created = await fetch(`${server.url}/api/tenants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Traced', slug, email: `owner@${slug}.test`, password: 'correct horse battery' }),
      });
      const token = ((await created.json()) as { access_token: string }).access_token;
      const res = await fetch(`${server.url}/api/me`, { headers: bearer(token) });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-remaining')).toBe('99');
      const traceId = res.headers.get('traceresponse')!.split('-')[1]!;
      const spans = await eventually('the request span and its Redis span', () => {
        const trace = receiver.spans.filter((s) => s.traceId === traceId);
        return trace.some((s) => s.name === 'GET /api/me') && trace.some((s) => s.name === 'evalsha') ? trace : undefined;
      });
      const request = spans.find((s) => s.name === 'GET /api/me')!;
      // The rate limit's Lua script (EVALSHA), the only Redis command of an authenticated read.
      const redis = spans.filter((s) => s.name === 'evalsha');
      expect(redis).toHaveLength(1);
      expect(redis[0]!.parentSpanId).toBe(request.spanId);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
