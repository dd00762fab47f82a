// The error contract: every error is {"error","message","request_id"[,"details"]}, a 500 says
// nothing about its cause, hostile bodies are refused, and x-request-id is on every response.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signup, type Tenant } from './helpers/api.ts';
import { backend, startTestApp, type TestApp } from './helpers/test-app.ts';
import { UUID, expectError } from './helpers/assertions.ts';
import { errorBody } from '../src/platform/http/app-error.ts';

const SECRET = 'planted-secret-5f3a9c';
const SQL = `SELECT password_hash FROM users WHERE email = 'victim@example.test'`;
const FAILURE = `connect postgres://app:${SECRET}@db.internal:5432/prod failed while running ${SQL}`;

describe(`error contract (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await startTestApp({
      beforeReady: (app) => {
        app.get('/test/fail', async () => {
          throw new Error(FAILURE);
        });
        app.get('/test/fail-sync', () => {
          throw Object.assign(new Error(FAILURE), { code: 'ECONNREFUSED', query: SQL, password: SECRET });
        });
        app.get('/test/fail-later', (_request, reply) => {
          setImmediate(() => reply.send(new Error(FAILURE)));
          return reply;
        });
        app.get('/test/fail-not-an-error', async () => {
          throw { message: FAILURE, statusCode: 500 };
        });
        app.get('/test/fail-client-status', async () => {
          // A library error that happens to carry a 4xx status must not leak its text either.
          throw Object.assign(new Error(FAILURE), { statusCode: 400 });
        });
      },
    });
    tenant = await signup(t.app);
  });
  afterAll(async () => t?.close());

  describe('500', () => {
    it.each(['/test/fail', '/test/fail-sync', '/test/fail-later', '/test/fail-not-an-error'])(
      '%s answers exactly the contract body, with no stack, SQL or secret',
      async (url) => {
        const res = await t.app.inject({ url });
        expect(res.statusCode).toBe(500);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        const requestId = res.headers['x-request-id'];
        expect(typeof requestId).toBe('string');
        expect(res.json()).toEqual({ error: 'internal_server_error', message: 'Internal server error', request_id: requestId });
        for (const leak of [SECRET, 'SELECT', 'password_hash', 'postgres://', ' at ', '.ts:', 'stack', 'ECONNREFUSED']) {
          expect(res.body).not.toContain(leak);
        }
        expect(JSON.stringify(res.headers)).not.toContain(SECRET);
      },
    );

    it('logs the failure for operators, tied to the request, with secret-named fields redacted', async () => {
      const res = await t.app.inject({ url: '/test/fail-sync', headers: { 'x-request-id': 'fail-sync-log-1' } });
      expect(res.statusCode).toBe(500);
      const lines = t.logs.lines.filter((l) => l.request_id === 'fail-sync-log-1');
      const failed = lines.find((l) => l.message === 'request_failed');
      expect(failed).toMatchObject({ level: 'error', method: 'GET', path: '/test/fail-sync' });
      expect((failed!.error as Record<string, unknown>).password).toBe('[REDACTED]');
      expect(lines.find((l) => l.message === 'request_completed')).toMatchObject({ status_code: 500 });
    });

    it('keeps serving after failures', async () => {
      for (let i = 0; i < 5; i++) expect((await t.app.inject({ url: '/test/fail' })).statusCode).toBe(500);
      expect((await t.app.inject({ url: '/health/live' })).statusCode).toBe(200);
      const me = await t.app.inject({ url: '/api/me', headers: bearer(tenant.token) });
      expect(me.statusCode).toBe(200);
    });

    it('turns an unexpected error carrying a 4xx status into a generic answer without its text', async () => {
      const res = await t.app.inject({ url: '/test/fail-client-status' });
      const body = expectError(res, 400, 'invalid_request');
      expect(res.body).not.toContain(SECRET);
      expect(body.message).not.toContain('SELECT');
    });
  });

  describe('hostile and malformed bodies', () => {
    const json = { 'content-type': 'application/json' };

    it('answers a body over 1 MiB with 413 payload_too_large', async () => {
      const payload = JSON.stringify({ name: 'a'.repeat(1024 * 1024), slug: 'big-body', email: 'a@b.test', password: 'long enough' });
      const res = await t.app.inject({ method: 'POST', url: '/api/tenants', headers: json, payload });
      expectError(res, 413, 'payload_too_large');
    });

    it('answers 413 on an authenticated route too', async () => {
      const payload = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10), price_cents: 1, stock: 1 });
      const res = await t.app.inject({ method: 'POST', url: '/api/products', headers: { ...json, ...bearer(tenant.token) }, payload });
      expectError(res, 413, 'payload_too_large');
    });

    it('accepts a body just under the limit up to validation', async () => {
      const payload = JSON.stringify({ name: 'a'.repeat(1024 * 1024 - 200) });
      const res = await t.app.inject({ method: 'POST', url: '/api/tenants', headers: json, payload });
      expectError(res, 400, 'validation_error');
    });

    it.each([
      ['__proto__', '{"__proto__":{"x":1}}'],
      ['nested __proto__', '{"name":"n","slug":"proto-nested","email":"a@b.test","password":"long enough","source":{"__proto__":{"isAdmin":true}}}'],
      ['constructor.prototype', '{"constructor":{"prototype":{}}}'],
      ['constructor.prototype with values', '{"constructor":{"prototype":{"polluted":"yes"}}}'],
    ])('refuses a %s body with 400 and pollutes nothing', async (_what, payload) => {
      for (const [url, headers] of [
        ['/api/tenants', json],
        ['/api/products', { ...json, ...bearer(tenant.token) }],
      ] as const) {
        const res = await t.app.inject({ method: 'POST', url, headers, payload });
        const body = expectError(res, 400, 'invalid_json');
        expect(body).not.toHaveProperty('details.0.x');
      }
      const probe = {} as Record<string, unknown>;
      expect(probe.x).toBeUndefined();
      expect(probe.isAdmin).toBeUndefined();
      expect(probe.polluted).toBeUndefined();
      expect((await t.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    });

    it.each([
      ['truncated JSON', '{"name": '],
      ['a trailing comma', '{"name":"x",}'],
      ['single quotes', "{'name':'x'}"],
      ['an empty body', ''],
    ])('answers %s with 400 invalid_json', async (_what, payload) => {
      expectError(await t.app.inject({ method: 'POST', url: '/api/tenants', headers: json, payload }), 400, 'invalid_json');
    });

    it('answers an unsupported content type with a JSON error', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/tenants', headers: { 'content-type': 'application/xml' }, payload: '<x/>' });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expectError(res, res.statusCode, res.json().error);
    });
  });

  describe('404', () => {
    it.each([
      ['GET', '/nope'],
      ['GET', '/api/nothing-here'],
      ['DELETE', '/api/products'],
      ['PUT', '/api/users'],
    ] as const)('%s %s answers 404 not_found with the contract body', async (method, url) => {
      const body = expectError(await t.app.inject({ method, url }), 404, 'not_found');
      expect(Object.keys(body).sort()).toEqual(['error', 'message', 'request_id']);
    });

    it('answers the body of the one error-body builder, as thrown errors do', async () => {
      const notFound = await t.app.inject({ url: '/nope?x=1' });
      const requestId = String(notFound.headers['x-request-id']);
      expect(notFound.body).toBe(JSON.stringify(errorBody({ requestId, code: 'not_found', message: 'Route GET /nope not found' })));
      const unauthorized = await t.app.inject({ url: '/api/me' });
      expect(unauthorized.json()).toEqual(
        errorBody({ requestId: String(unauthorized.headers['x-request-id']), code: 'unauthorized', message: 'Missing bearer token' }),
      );
    });

    it('does not echo the query string (it may carry tokens)', async () => {
      const res = await t.app.inject({ url: `/nope?token=${SECRET}` });
      expectError(res, 404, 'not_found');
      expect(res.body).not.toContain(SECRET);
    });
  });

  describe('x-request-id', () => {
    it('echoes a safe caller id on the response, in the error body and in every log line of the request', async () => {
      const id = 'client-req_01:abc.DEF-9';
      const res = await t.app.inject({ url: '/api/me', headers: { 'x-request-id': id } });
      expect(res.statusCode).toBe(401);
      expect(res.headers['x-request-id']).toBe(id);
      expect(res.json().request_id).toBe(id);
      const completed = t.logs.find('request_completed').filter((l) => l.request_id === id);
      expect(completed).toHaveLength(1);
      expect(completed[0]).toMatchObject({ status_code: 401, path: '/api/me', method: 'GET' });
    });

    it('uses a safe caller id on a 500 too', async () => {
      const res = await t.app.inject({ url: '/test/fail', headers: { 'x-request-id': 'trace-500-abc' } });
      expect(res.headers['x-request-id']).toBe('trace-500-abc');
      expect(res.json()).toEqual({ error: 'internal_server_error', message: 'Internal server error', request_id: 'trace-500-abc' });
      expect(t.logs.lines.filter((l) => l.request_id === 'trace-500-abc').map((l) => l.message)).toEqual(
        expect.arrayContaining(['request_failed', 'request_completed']),
      );
    });

    it('accepts an id of exactly 128 characters', async () => {
      const id = 'a'.repeat(128);
      const res = await t.app.inject({ url: '/health/live', headers: { 'x-request-id': id } });
      expect(res.headers['x-request-id']).toBe(id);
    });

    it.each([
      ['spaces', 'has some spaces'],
      ['more than 128 characters', 'a'.repeat(129)],
      ['markup', '<script>alert(1)</script>'],
      ['a JSON fragment', '","level":"fatal'],
      ['a comma list', 'a,b'],
      ['an empty value', ''],
    ])('replaces an id with %s by a fresh one', async (_what, unsafe) => {
      const res = await t.app.inject({ url: '/api/me', headers: { 'x-request-id': unsafe } });
      const id = res.headers['x-request-id'];
      expect(id).toMatch(UUID);
      expect(id).not.toBe(unsafe);
      expect(res.json().request_id).toBe(id);
      const line = t.logs.find('request_completed').find((l) => l.request_id === id);
      expect(line).toBeDefined();
      if (unsafe) expect(t.logs.raw.some((l) => l.includes(unsafe))).toBe(false);
    });

    it('gives each request a different fresh id', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) ids.add(String((await t.app.inject({ url: '/health/live' })).headers['x-request-id']));
      expect(ids.size).toBe(5);
    });

    it('is on every response: 200, 201, 400, 401, 404, 413, 500', async () => {
      const responses = await Promise.all([
        t.app.inject({ url: '/health/live' }),
        t.app.inject({ method: 'POST', url: '/api/products', headers: bearer(tenant.token), payload: { name: 'Id', price_cents: 1, stock: 1 } }),
        t.app.inject({ method: 'POST', url: '/api/tenants', headers: { 'content-type': 'application/json' }, payload: '{bad' }),
        t.app.inject({ method: 'POST', url: '/api/tenants', payload: {} }),
        t.app.inject({ url: '/api/me' }),
        t.app.inject({ url: '/nope' }),
        t.app.inject({ method: 'POST', url: '/api/tenants', headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(1024 * 1024 + 1)}"` }),
        t.app.inject({ url: '/test/fail' }),
      ]);
      expect(responses.map((r) => r.statusCode)).toEqual([200, 201, 400, 400, 401, 404, 413, 500]);
      for (const res of responses) expect(res.headers['x-request-id'], `${res.statusCode}`).toMatch(UUID);
    });

    it('answers a malformed URL with the contract body and x-request-id', async () => {
      // Router-level errors (bad percent-encoding) bypass the error handler unless Fastify's
      // `frameworkErrors` option routes them there.
      for (const url of ['/api/users/%', '/api/users/%E0%A4%A']) {
        const res = await t.app.inject({ url });
        expect(res.headers['x-request-id'], url).toBeDefined();
        expectError(res, 400, 'invalid_request');
      }
    });
  });
});

describe('errorBody', () => {
  it('builds the contract body with the keys in the contract order, and details only when given', () => {
    expect(JSON.stringify(errorBody({ requestId: 'r-1', code: 'not_found', message: 'Order not found' }))).toBe(
      '{"error":"not_found","message":"Order not found","request_id":"r-1"}',
    );
    expect(
      JSON.stringify(errorBody({ requestId: 'r-2', code: 'validation_error', message: 'Bad', details: [{ field: 'body.name', message: 'is required' }] })),
    ).toBe('{"error":"validation_error","message":"Bad","request_id":"r-2","details":[{"field":"body.name","message":"is required"}]}');
    expect(errorBody({ requestId: 'r-3', code: 'conflict', message: 'Taken', details: undefined })).not.toHaveProperty('details');
  });
});
