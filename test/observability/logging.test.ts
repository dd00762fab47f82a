// Logs as the CONTRACT says: captured from real requests (context fields on every line,
// request_completed, no planted secret), then `redact` and the pino logger on their own.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logging/logger.ts';
import { isSecretKey, REDACTED, redact } from '../../src/observability/logging/redact.ts';
import { bearer, createProduct, signup, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { ISO } from '../helpers/assertions.ts';

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'critical', 'fatal'];

describe(`request logs (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await startTestApp();
    tenant = await signup(t.app);
  });
  afterAll(async () => t?.close());

  const linesOf = (requestId: string) => t.logs.lines.filter((l) => l.request_id === requestId);

  function expectContractShape(line: Record<string, unknown>) {
    expect(line.timestamp).toMatch(ISO);
    expect(new Date(line.timestamp as string).toISOString()).toBe(line.timestamp);
    expect(LEVELS).toContain(line.level);
    expect(line.message).toMatch(SNAKE);
    for (const key of Object.keys(line)) expect(key, `field ${key}`).toMatch(SNAKE);
  }

  it('puts request_id, method, path, tenant_id and user_id on every line of an authenticated request', async () => {
    const requestId = `log-ctx-${randomUUID()}`;
    const before = t.logs.lines.length;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/products?ref=campaign',
      headers: { ...bearer(tenant.token), 'x-request-id': requestId },
      payload: { name: 'Logged Widget', price_cents: 500, stock: 2 },
    });
    expect(res.statusCode).toBe(201);

    const lines = linesOf(requestId);
    expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(['product_created', 'request_completed']));
    for (const line of lines) {
      expectContractShape(line);
      expect(line).toMatchObject({ request_id: requestId, method: 'POST', path: '/api/products', tenant_id: tenant.tenantId, user_id: tenant.userId });
    }
    // Every line logged while the request ran belongs to it (nothing logged without context).
    const during = t.logs.lines.slice(before);
    for (const line of during) expect(line.request_id, JSON.stringify(line)).toBe(requestId);

    const completed = lines.filter((l) => l.message === 'request_completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ level: 'info', status_code: 201 });
    expect(typeof completed[0]!.duration_ms).toBe('number');
    expect(completed[0]!.duration_ms as number).toBeGreaterThanOrEqual(0);
    expect(completed[0]!.duration_ms as number).toBeLessThan(30_000);
    expect(completed[0]!.path).toBe('/api/products'); // no query string
  });

  it('adds tenant_id and user_id from login on, not before', async () => {
    const requestId = `log-login-${randomUUID()}`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'x-request-id': requestId },
      payload: { tenant: tenant.slug, email: tenant.email, password: tenant.password },
    });
    expect(res.statusCode).toBe(200);
    const lines = linesOf(requestId);
    for (const line of lines) expectContractShape(line);
    expect(lines.find((l) => l.message === 'user_login_successful')).toMatchObject({
      tenant_id: tenant.tenantId,
      user_id: tenant.userId,
      method: 'POST',
      path: '/api/auth/login',
    });
    expect(lines.find((l) => l.message === 'request_completed')).toMatchObject({ tenant_id: tenant.tenantId, user_id: tenant.userId, status_code: 200 });
  });

  it('ends an unauthenticated or failed request with request_completed too', async () => {
    const requestId = `log-404-${randomUUID()}`;
    await t.app.inject({ url: '/no/such/route', headers: { 'x-request-id': requestId } });
    const completed = linesOf(requestId).filter((l) => l.message === 'request_completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ status_code: 404, method: 'GET', path: '/no/such/route' });
    expect(completed[0]).not.toHaveProperty('tenant_id');
    expectContractShape(completed[0]!);
  });

  it('prints no planted secret from a failed login body, an Authorization header or a cookie', async () => {
    const password = `planted-password-${randomUUID()}`;
    const requestId = `log-secret-${randomUUID()}`;
    const failed = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'x-request-id': requestId, cookie: `session=planted-cookie-${requestId}` },
      payload: { tenant: tenant.slug, email: tenant.email, password },
    });
    expect(failed.statusCode).toBe(401);
    expect(linesOf(requestId).find((l) => l.message === 'user_login_failed')).toMatchObject({ reason: 'wrong_password' });

    const forged = `${tenant.token.slice(0, -4)}AAAA`;
    await t.app.inject({ url: '/api/me', headers: bearer(tenant.token) });
    await t.app.inject({ url: '/api/me', headers: bearer(forged) });
    await t.app.inject({ url: '/api/me', headers: { authorization: `Basic ${Buffer.from(`owner:${password}`).toString('base64')}` } });
    // A signup whose body fails validation after the password field.
    await t.app.inject({ method: 'POST', url: '/api/tenants', payload: { name: 'x', slug: 'BAD SLUG', email: 'a@b.test', password } });
    // A body that is not valid JSON: parsers like to quote the input in their messages.
    await t.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: `{"password":"${password}", oops` });

    for (const line of t.logs.raw) {
      expect(line).not.toContain(password);
      expect(line).not.toContain(Buffer.from(`owner:${password}`).toString('base64'));
      expect(line).not.toContain(tenant.token);
      expect(line).not.toContain(tenant.token.split('.')[2]);
      expect(line).not.toContain(forged);
      expect(line).not.toContain(`planted-cookie-${requestId}`);
    }
  });

  it('keeps the signup password and the issued token out of the logs', async () => {
    const password = `signup-secret-${randomUUID()}`;
    const created = await signup(t.app, { password });
    for (const line of t.logs.raw) {
      expect(line).not.toContain(password);
      expect(line).not.toContain(created.token);
    }
    await createProduct(t.app, created.token);
    for (const line of t.logs.raw) expect(line).not.toContain(created.token);
  });
});

describe('redact', () => {
  const KEYS = ['password', 'token', 'api_key', 'secret', 'credit_card', 'ssn', 'auth_token', 'authorization', 'cookie'];

  it.each(KEYS)('redacts %s at the top level and deep down, in any case', (key) => {
    const variants = [key, key.toUpperCase(), key[0]!.toUpperCase() + key.slice(1), key.replaceAll('_', '-')];
    for (const k of variants) {
      expect(isSecretKey(k), k).toBe(true);
      expect(redact({ [k]: 'v1' })).toEqual({ [k]: REDACTED });
      expect(redact({ a: { b: { c: { [k]: 'v2', keep: 1 } } } })).toEqual({ a: { b: { c: { [k]: REDACTED, keep: 1 } } } });
      expect(redact({ list: [{ [k]: 'v3' }, [{ [k]: 'v4' }]] })).toEqual({ list: [{ [k]: REDACTED }, [{ [k]: REDACTED }]] });
    }
  });

  it('redacts whatever the value is: objects, arrays, numbers, null', () => {
    expect(redact({ password: { nested: 'x' }, token: ['a', 'b'], ssn: 123456789, secret: null })).toEqual({
      password: REDACTED,
      token: REDACTED,
      ssn: REDACTED,
      secret: REDACTED,
    });
  });

  it('keeps everything else and does not touch the input', () => {
    const input = { user: { id: 'u1', Password: 'hunter2', email: 'a@b.test' }, count: 3, ok: true, tags: ['a'] };
    const output = redact(input);
    expect(output).toEqual({ user: { id: 'u1', Password: REDACTED, email: 'a@b.test' }, count: 3, ok: true, tags: ['a'] });
    expect(input.user.Password).toBe('hunter2');
    expect(redact('plain')).toBe('plain');
    expect(redact(42)).toBe(42);
    expect(redact(null)).toBe(null);
    expect(redact(undefined)).toBe(undefined);
  });

  it('does not redact keys that merely look alike', () => {
    for (const k of ['passwords_reset_count', 'token_type', 'user_id', 'email', 'tokens_used']) expect(isSecretKey(k), k).toBe(false);
  });

  it('redacts inside Error objects: own properties, nested objects and the cause chain', () => {
    const root = Object.assign(new Error('root cause'), { api_key: 'k-123' });
    const cause = Object.assign(new Error('middle', { cause: root }), { config: { headers: { Authorization: 'Bearer abc' } } });
    const error = Object.assign(new Error('outer', { cause }), { password: 'p-123', code: 'E_FAIL' });
    const out = redact({ err: error }) as { err: Record<string, unknown> };
    expect(out.err).toMatchObject({ type: 'Error', message: 'outer', password: REDACTED, code: 'E_FAIL' });
    expect(typeof out.err.stack).toBe('string');
    const middle = out.err.cause as Record<string, unknown>;
    expect(middle).toMatchObject({ message: 'middle', config: { headers: { Authorization: REDACTED } } });
    expect(middle.cause).toMatchObject({ message: 'root cause', api_key: REDACTED });
    const text = JSON.stringify(out);
    for (const secret of ['k-123', 'Bearer abc', 'p-123']) expect(text).not.toContain(secret);
  });

  it('redacts an Error cause that is a plain object', () => {
    const out = redact(new Error('x', { cause: { token: 't-1', Cookie: 'c-1' } })) as Record<string, unknown>;
    expect(out.cause).toEqual({ token: REDACTED, Cookie: REDACTED });
  });

  it('survives cycles and very deep objects', () => {
    const a: Record<string, unknown> = { password: 'x' };
    a.self = a;
    expect(() => JSON.stringify(redact(a))).not.toThrow();
    expect((redact(a) as Record<string, unknown>).password).toBe(REDACTED);
    let deep: Record<string, unknown> = { secret: 'deep-secret' };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    expect(JSON.stringify(redact(deep))).not.toContain('deep-secret');
  });
});

describe('createLogger', () => {
  class Capture extends Writable {
    readonly lines: Record<string, unknown>[] = [];
    readonly raw: string[] = [];
    override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        this.raw.push(line);
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    }
  }
  const make = (level = 'debug') => {
    const out = new Capture();
    return { out, logger: createLogger({ level, format: 'json', destination: out }) };
  };

  it('writes the CONTRACT fields: timestamp, lowercase level, message', () => {
    const { out, logger } = make();
    logger.info({ order_id: 'o1' }, 'order_created');
    logger.warn('something_odd');
    logger.critical('startup_failed');
    expect(out.lines).toHaveLength(3);
    expect(out.lines[0]).toMatchObject({ level: 'info', message: 'order_created', order_id: 'o1' });
    expect(out.lines[0]!.timestamp).toMatch(ISO);
    expect(out.lines[1]).toMatchObject({ level: 'warn', message: 'something_odd' });
    expect(out.lines[2]).toMatchObject({ level: 'critical', message: 'startup_failed' });
    for (const line of out.lines) {
      expect(line).not.toHaveProperty('msg');
      expect(line).not.toHaveProperty('time');
      expect(line).not.toHaveProperty('pid');
      expect(line).not.toHaveProperty('hostname');
    }
  });

  it('honours the level', () => {
    const { out, logger } = make('warn');
    logger.info('quiet');
    logger.error('loud');
    expect(out.lines.map((l) => l.message)).toEqual(['loud']);
  });

  it('redacts { user: { Password } } and secret keys in any case', () => {
    const { out, logger } = make();
    logger.info({ user: { Password: 'x-pass', name: 'ann' }, API_KEY: 'x-key', items: [{ credit_card: '4111111111111111' }] }, 'user_seen');
    expect(out.lines[0]).toMatchObject({ user: { Password: REDACTED, name: 'ann' }, API_KEY: REDACTED, items: [{ credit_card: REDACTED }] });
    for (const s of ['x-pass', 'x-key', '4111111111111111']) expect(out.raw[0]).not.toContain(s);
  });

  it('redacts err and error objects, their own properties and causes', () => {
    const { out, logger } = make();
    const err = Object.assign(new Error('db down', { cause: { password: 'cause-pass' } }), { token: 'err-token', code: 'ECONNREFUSED' });
    logger.error({ err }, 'query_failed');
    logger.error({ error: err }, 'query_failed_again');
    logger.error(err, 'error_as_first_argument');
    expect(out.lines).toHaveLength(3);
    expect(out.lines[0]!.err).toMatchObject({ message: 'db down', token: REDACTED, code: 'ECONNREFUSED', cause: { password: REDACTED } });
    expect(out.lines[1]!.error).toMatchObject({ message: 'db down', token: REDACTED, cause: { password: REDACTED } });
    expect(out.lines[2]!.message).toBe('error_as_first_argument');
    for (const raw of out.raw) {
      expect(raw).not.toContain('err-token');
      expect(raw).not.toContain('cause-pass');
    }
  });

  it('redacts child logger bindings', () => {
    const { out, logger } = make();
    const child = logger.child({ authorization: 'Bearer child-secret', tenant_id: 't1' });
    child.info('bound');
    child.child({ session: { Cookie: 'grandchild-cookie' }, user_id: 'u1' }, { level: 'debug' }).info('bound_again');
    expect(out.lines[0]).toMatchObject({ authorization: REDACTED, tenant_id: 't1', message: 'bound' });
    expect(out.lines[1]).toMatchObject({ authorization: REDACTED, tenant_id: 't1', user_id: 'u1', session: { Cookie: REDACTED }, message: 'bound_again' });
    for (const raw of out.raw) {
      expect(raw).not.toContain('child-secret');
      expect(raw).not.toContain('grandchild-cookie');
    }
  });
});
