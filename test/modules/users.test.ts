// /api/me and /api/users: who may create whom, duplicates, pagination, lookups.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createProduct, createUser, signup, unique, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { ISO, UUID, expectError } from '../helpers/assertions.ts';

describe(`users (${backend})`, () => {
  let t: TestApp;
  let owner: Tenant;
  let admin: { id: string; email: string; token: string };
  let member: { id: string; email: string; token: string };
  beforeAll(async () => {
    t = await startTestApp();
    owner = await signup(t.app);
    admin = await createUser(t.app, owner, 'admin');
    member = await createUser(t.app, owner, 'member');
  });
  afterAll(async () => t?.close());

  const postUser = (token: string, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/users', headers: bearer(token), payload });
  const newEmail = (prefix = 'u') => `${unique(prefix)}@${owner.slug}.test`;

  it('GET /api/me describes the caller and their tenant', async () => {
    const res = await t.app.inject({ url: '/api/me', headers: bearer(member.token) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      user: { id: member.id, email: member.email, role: 'member' },
      tenant: { id: owner.tenantId, name: 'Acme Inc', slug: owner.slug },
    });
  });

  it('lets the owner create an admin and a member (201 {id,email,role,created_at})', async () => {
    for (const role of ['admin', 'member'] as const) {
      const email = newEmail(role);
      const res = await postUser(owner.token, { email, password: 'a fine password', role });
      expect(res.statusCode, res.body).toBe(201);
      const body = res.json();
      expect(body).toEqual({ id: expect.stringMatching(UUID), email, role, created_at: expect.stringMatching(ISO) });
      expect(Math.abs(Date.parse(body.created_at) - Date.now())).toBeLessThan(60_000);
      // The new user can log in with the password given.
      const login = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { tenant: owner.slug, email, password: 'a fine password' } });
      expect(login.statusCode).toBe(200);
    }
  });

  it('lets an admin create a member', async () => {
    const res = await postUser(admin.token, { email: newEmail('m'), password: 'a fine password', role: 'member' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().role).toBe('member');
  });

  it('logs user_created with the creator in the request context', async () => {
    const requestId = `create-${randomUUID()}`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/users',
      headers: { ...bearer(admin.token), 'x-request-id': requestId },
      payload: { email: newEmail('m'), password: 'planted password 42', role: 'member' },
    });
    expect(res.statusCode).toBe(201);
    const line = t.logs.lines.find((l) => l.request_id === requestId && l.message === 'user_created');
    expect(line).toMatchObject({ tenant_id: owner.tenantId, user_id: admin.id, created_user_id: res.json().id });
    expect(t.logs.raw.some((l) => l.includes('planted password 42'))).toBe(false);
  });

  it('refuses a member with 403 forbidden on POST /api/users and on POST/PATCH /api/products', async () => {
    expectError(await postUser(member.token, { email: newEmail('x'), password: 'a fine password', role: 'member' }), 403, 'forbidden');
    expectError(
      await t.app.inject({ method: 'POST', url: '/api/products', headers: bearer(member.token), payload: { name: 'Nope', price_cents: 1, stock: 1 } }),
      403,
      'forbidden',
    );
    const product = await createProduct(t.app, owner.token);
    expectError(
      await t.app.inject({ method: 'PATCH', url: `/api/products/${product.id}`, headers: bearer(member.token), payload: { price_cents: 0 } }),
      403,
      'forbidden',
    );
    const after = await t.app.inject({ url: `/api/products/${product.id}`, headers: bearer(member.token) });
    expect(after.json().price_cents).toBe(product.price_cents);
  });

  it('never lets a body set a role above what may be granted, nor the tenant or the id', async () => {
    expectError(await postUser(owner.token, { email: newEmail('o'), password: 'a fine password', role: 'owner' }), 400, 'validation_error');
    expectError(await postUser(admin.token, { email: newEmail('o'), password: 'a fine password', role: 'owner' }), 400, 'validation_error');
    const other = await signup(t.app);
    expectError(
      await postUser(owner.token, { email: newEmail('t'), password: 'a fine password', role: 'member', tenant_id: other.tenantId }),
      400,
      'validation_error',
    );
    expectError(await postUser(owner.token, { email: newEmail('i'), password: 'a fine password', role: 'member', id: randomUUID() }), 400, 'validation_error');
  });

  it('answers 409 email_taken for an e-mail already used in the tenant, whatever its case', async () => {
    const email = newEmail('dup');
    expect((await postUser(owner.token, { email, password: 'a fine password', role: 'member' })).statusCode).toBe(201);
    expectError(await postUser(owner.token, { email, password: 'a fine password', role: 'member' }), 409, 'email_taken');
    expectError(await postUser(admin.token, { email: email.toUpperCase(), password: 'a fine password', role: 'admin' }), 409, 'email_taken');
    expectError(await postUser(owner.token, { email: owner.email.toUpperCase(), password: 'a fine password', role: 'member' }), 409, 'email_taken');
  });

  it('allows the same e-mail in another tenant', async () => {
    const other = await signup(t.app);
    const res = await postUser(other.token, { email: member.email, password: 'a fine password', role: 'member' });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('rejects invalid user bodies with 400 validation_error', async () => {
    for (const payload of [
      { email: 'not-an-email', password: 'a fine password', role: 'member' },
      { email: newEmail('s'), password: 'short', role: 'member' },
      { email: newEmail('r'), password: 'a fine password', role: 'superuser' },
      { email: newEmail('n'), password: 'a fine password' },
    ]) {
      const body = expectError(await postUser(owner.token, payload), 400, 'validation_error');
      expect(body.details?.length).toBeGreaterThan(0);
    }
  });

  it('walks every user with limit=2 through next_cursor, newest first and without duplicates', async () => {
    const tenant = await signup(t.app);
    const created: string[] = [tenant.userId];
    for (let i = 0; i < 4; i++) {
      const res = await postUser(tenant.token, { email: `${unique('p')}@${tenant.slug}.test`, password: 'a fine password', role: 'member' });
      expect(res.statusCode).toBe(201);
      created.push(res.json().id);
    }
    const seen: string[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await t.app.inject({ url, headers: bearer(tenant.token) });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { items: { id: string; email: string; role: string; created_at: string }[]; next_cursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      for (const item of body.items)
        expect(item).toEqual({ id: expect.stringMatching(UUID), email: expect.any(String), role: expect.any(String), created_at: expect.stringMatching(ISO) });
      seen.push(...body.items.map((u) => u.id));
      pages.push(body.items.length);
      cursor = body.next_cursor;
      expect(pages.length).toBeLessThan(10);
    } while (cursor);
    expect(pages).toEqual([2, 2, 1]);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...created].sort());
    expect(seen).toEqual([...created].reverse()); // newest first
  });

  it('lists only the caller’s tenant with the default limit, for members too', async () => {
    const res = await t.app.inject({ url: '/api/users', headers: bearer(member.token) });
    expect(res.statusCode).toBe(200);
    const ids = (res.json().items as { id: string }[]).map((u) => u.id);
    expect(ids).toContain(owner.userId);
    expect(ids).toContain(member.id);
    const other = await signup(t.app);
    expect(ids).not.toContain(other.userId);
  });

  it.each(['limit=101', 'limit=0', 'limit=-1', 'limit=abc', 'cursor=not-a-uuid', 'unknown=1'])('rejects GET /api/users?%s with 400', async (query) => {
    expectError(await t.app.inject({ url: `/api/users?${query}`, headers: bearer(owner.token) }), 400, 'validation_error');
  });

  it('accepts limit=100', async () => {
    expect((await t.app.inject({ url: '/api/users?limit=100', headers: bearer(owner.token) })).statusCode).toBe(200);
  });

  it('GET /api/users/:id returns a user of the tenant', async () => {
    const res = await t.app.inject({ url: `/api/users/${admin.id}`, headers: bearer(member.token) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: admin.id, email: admin.email, role: 'admin', created_at: expect.stringMatching(ISO) });
  });

  it('GET /api/users/:id answers 404 for an unknown id and for another tenant’s user', async () => {
    expectError(await t.app.inject({ url: `/api/users/${randomUUID()}`, headers: bearer(owner.token) }), 404, 'not_found');
    const other = await signup(t.app);
    expectError(await t.app.inject({ url: `/api/users/${other.userId}`, headers: bearer(owner.token) }), 404, 'not_found');
  });

  it('GET /api/users/:id answers 400 for an id that is not a UUID', async () => {
    for (const id of ['123', 'not-a-uuid', "1' OR '1'='1"]) {
      expectError(await t.app.inject({ url: `/api/users/${encodeURIComponent(id)}`, headers: bearer(owner.token) }), 400, 'validation_error');
    }
  });

  it('requires a token on every users route', async () => {
    for (const [method, url] of [
      ['GET', '/api/me'],
      ['GET', '/api/users'],
      ['POST', '/api/users'],
      ['GET', `/api/users/${owner.userId}`],
    ] as const) {
      expectError(await t.app.inject({ method, url }), 401, 'unauthorized');
    }
  });
});
