// The operator endpoints' gate: off (404) without ADMIN_TOKEN; 401 without the right bearer
// token; one profile at a time (409); parameters validated (400) with the CONTRACT's error
// body; every call logged with who and what, never the token; absent from the public API
// reference; a profile in progress does not hold the server's close.
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, observability, observabilityServerOptions } from '../../src/observability/index.ts';
import { bearerMatches } from '../../src/observability/profiling/admin-routes.ts';
import { backend, LogCapture, startTestApp, type TestApp } from '../helpers/test-app.ts';

const ADMIN_TOKEN = 'admin-test-token-0123456789';

describe(`/admin/* (${backend})`, () => {
  // Without a token: any service that adopts the layer with no adminToken.
  let off: FastifyInstance;
  let on: TestApp;
  beforeAll(async () => {
    off = Fastify(observabilityServerOptions(createLogger({ level: 'info', format: 'json', destination: new LogCapture() })));
    await off.register(observability, { metrics: false, overload: false });
    on = await startTestApp({ env: { ADMIN_TOKEN } });
  });
  afterAll(async () => {
    await Promise.all([off?.close(), on?.close()]);
  });

  it('answers 404 for every admin endpoint when no admin token is configured, even to a caller with one', async () => {
    for (const url of ['/admin/profile/cpu?seconds=1', '/admin/profile/heap?seconds=1', '/admin/heap-snapshot']) {
      const res = await off.inject({ method: 'POST', url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.statusCode, url).toBe(404);
    }
  });

  it('answers 401 without a token, with a wrong one, with the right one in the wrong scheme', async () => {
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      wrong: `Bearer ${ADMIN_TOKEN}x`,
      prefix: `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
      empty: 'Bearer ',
      basic: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
      bare: ADMIN_TOKEN,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const res = await on.app.inject({ method: 'POST', url: '/admin/profile/cpu?seconds=1', headers: authorization ? { authorization } : {} });
      expect(res.statusCode, name).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json()).toEqual({ error: 'unauthorized', message: expect.any(String), request_id: res.headers['x-request-id'] });
    }
    const denied = on.logs.find('admin_request_denied');
    expect(denied.length).toBeGreaterThanOrEqual(6);
    expect(denied[0]).toMatchObject({ level: 'warn', endpoint: '/admin/profile/cpu', client_ip: '127.0.0.1' });
    expect(on.logs.raw.join('\n')).not.toContain(ADMIN_TOKEN);
  });

  it('compares tokens through equal-length digests', () => {
    const expected = createHash('sha256').update(ADMIN_TOKEN).digest();
    expect(bearerMatches(`Bearer ${ADMIN_TOKEN}`, expected)).toBe(true);
    expect(bearerMatches(`bearer ${ADMIN_TOKEN}`, expected)).toBe(true);
    expect(bearerMatches(`Bearer ${'x'.repeat(10_000)}`, expected)).toBe(false);
    expect(bearerMatches(undefined, expected)).toBe(false);
  });

  it('validates its parameters with the CONTRACT error body', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    for (const url of ['/admin/profile/cpu?seconds=0', '/admin/profile/cpu?seconds=61', '/admin/profile/cpu?seconds=abc', '/admin/profile/cpu?format=svg']) {
      const res = await on.app.inject({ method: 'POST', url, headers: auth });
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toMatchObject({ error: 'validation_error', request_id: res.headers['x-request-id'] });
    }
    // Refused calls are logged too, with what was asked.
    const invalid = on.logs.find('admin_request_invalid');
    expect(invalid.map((l) => (l.query as { seconds?: unknown }).seconds)).toEqual(expect.arrayContaining([0, 61, 'abc']));
    expect(invalid[0]).toMatchObject({ level: 'warn', endpoint: '/admin/profile/cpu', client_ip: '127.0.0.1', reason: expect.stringContaining('seconds') });
    const cpuRoute = await on.app.inject({ method: 'POST', url: '/admin/profile/cpu?seconds=1&route=/api/orders', headers: auth });
    expect(cpuRoute.statusCode).toBe(400);
    expect(cpuRoute.json().message).toMatch(/format=pprof/);
  });

  it('runs one profile at a time: 409 while one runs, and logs who asked for what', { timeout: 20_000 }, async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'user-agent': 'oncall-laptop' };
    const first = on.app.inject({ method: 'POST', url: '/admin/profile/cpu?seconds=2', headers: auth });
    await new Promise((r) => setTimeout(r, 300));
    const second = await on.app.inject({ method: 'POST', url: '/admin/profile/heap?seconds=1', headers: auth });
    const snapshot = await on.app.inject({ method: 'POST', url: '/admin/heap-snapshot', headers: auth });
    expect([second.statusCode, snapshot.statusCode]).toEqual([409, 409]);
    expect(second.json()).toMatchObject({ error: 'profile_in_progress' });
    expect((await first).statusCode).toBe(200);
    // Free again once it ended.
    expect((await on.app.inject({ method: 'POST', url: '/admin/profile/cpu?seconds=1', headers: auth })).statusCode).toBe(200);

    const asked = on.logs.find('admin_request').filter((l) => l.user_agent === 'oncall-laptop');
    expect(asked[0]).toMatchObject({ level: 'info', endpoint: '/admin/profile/cpu', client_ip: '127.0.0.1', query: { seconds: 2, format: 'cpuprofile' } });
    expect(on.logs.raw.join('\n')).not.toContain(ADMIN_TOKEN);
  });

  it('ends a profile in progress early when the server closes, and sends what it sampled', { timeout: 20_000 }, async () => {
    const logs = new LogCapture();
    const app = Fastify(observabilityServerOptions(createLogger({ level: 'info', format: 'json', destination: logs })));
    await app.register(observability, { metrics: false, overload: false, adminToken: ADMIN_TOKEN });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const profile = fetch(`${base}/admin/profile/cpu?seconds=60`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    for (let i = 0; i < 100 && logs.find('admin_request').length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    // Without the early end, close() would wait for the 60 s profile, past this test's timeout.
    // The body is read meanwhile, as any client does: close() waits for it to be sent.
    const read = profile.then(async (res) => ({ status: res.status, body: (await res.json()) as { startTime: number; endTime: number } }));
    const [{ status, body }] = await Promise.all([read, app.close()]);
    expect(status).toBe(200);
    const { startTime, endTime } = body;
    expect((endTime - startTime) / 1e6).toBeLessThan(60);
    expect(logs.find('admin_profile_taken')).toMatchObject([{ profile: 'cpu cpuprofile', ended_early: 'server_closing' }]);
  });

  it('keeps the admin endpoints out of the public API reference', async () => {
    const spec = (await on.app.inject('/docs/openapi.json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
    expect(Object.keys(spec.paths)).toContain('/api/orders');
  });
});
