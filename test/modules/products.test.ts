// /api/products: create, read, list, partial update, and the errors of each.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, createUser, signup, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { ISO, UUID, expectError } from '../helpers/assertions.ts';
import { apiClient, result } from '../helpers/client.ts';

describe(`products (${backend})`, () => {
  let t: TestApp;
  let owner: Tenant;
  beforeAll(async () => {
    t = await startTestApp();
    owner = await signup(t.app);
  });
  afterAll(async () => t?.close());

  // Through the typed client; the bodies are cast because several tests send invalid ones on purpose.
  const post = (payload: unknown, token = owner.token) => result(apiClient(t.app, token).POST('/api/products', { body: payload as never }));
  const patch = (id: string, payload: unknown, token = owner.token) =>
    result(apiClient(t.app, token).PATCH('/api/products/{id}', { params: { path: { id } }, body: payload as never }));
  const get = (id: string, token = owner.token) => result(apiClient(t.app, token).GET('/api/products/{id}', { params: { path: { id } } }));
  const list = (query: Record<string, string | number | undefined>, token = owner.token) =>
    result(apiClient(t.app, token).GET('/api/products', { params: { query: query as never } }));

  it('creates a product (201 {id,name,price_cents,stock,created_at}) and reads it back', async () => {
    const res = await post({ name: 'Blue Widget', price_cents: 1250, stock: 7 });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json();
    expect(created).toEqual({ id: expect.stringMatching(UUID), name: 'Blue Widget', price_cents: 1250, stock: 7, created_at: expect.stringMatching(ISO) });
    const read = await get(created.id);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(created);
  });

  it('lets an admin create and members read', async () => {
    const admin = await createUser(t.app, owner, 'admin');
    const member = await createUser(t.app, owner, 'member');
    const res = await post({ name: 'Admin Widget', price_cents: 0, stock: 0 }, admin.token);
    expect(res.statusCode, res.body).toBe(201);
    expect((await get(res.json().id, member.token)).json().name).toBe('Admin Widget');
  });

  it('lists the tenant’s products newest first, paginated', async () => {
    const tenant = await signup(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createProduct(t.app, tenant.token, { name: `P${i}` })).id);
    const first = await list({ limit: 2 }, tenant.token);
    expect(first.statusCode).toBe(200);
    const page1 = first.json();
    expect(page1.items.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
    expect(page1.next_cursor).toBe(ids[1]);
    const second = (await list({ limit: 2, cursor: page1.next_cursor }, tenant.token)).json();
    expect(second).toEqual({ items: [expect.objectContaining({ id: ids[0], name: 'P0', price_cents: 1999, stock: 10 })], next_cursor: null });
    // Another tenant sees none of them.
    const all = (await list({ limit: 100 })).json();
    for (const id of ids) expect(all.items.map((p: { id: string }) => p.id)).not.toContain(id);
  });

  it.each([{ limit: 0 }, { limit: 101 }, { cursor: 'nope' }])('rejects GET /api/products?%o with 400', async (query) => {
    expectError(await list(query), 400, 'validation_error');
  });

  it('PATCH changes only the fields given', async () => {
    const product = await createProduct(t.app, owner.token, { name: 'Original', price_cents: 500, stock: 5 });
    const res = await patch(product.id, { price_cents: 750 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: product.id, name: 'Original', price_cents: 750, stock: 5 });
    const res2 = await patch(product.id, { name: 'Renamed', stock: 0 });
    expect(res2.json()).toMatchObject({ id: product.id, name: 'Renamed', price_cents: 750, stock: 0 });
    expect((await get(product.id)).json()).toMatchObject({ name: 'Renamed', price_cents: 750, stock: 0 });
  });

  it.each([
    ['an empty body', {}],
    ['a negative price', { price_cents: -1 }],
    ['a float stock', { stock: 1.5 }],
    ['a float price', { price_cents: 9.99 }],
    ['an empty name', { name: '' }],
    ['an unknown field', { tenant_id: randomUUID() }],
    ['an id in the body', { id: randomUUID() }],
  ])('PATCH rejects %s with 400 validation_error and leaves the product as it was', async (_what, payload) => {
    const product = await createProduct(t.app, owner.token, { name: 'Stable', price_cents: 100, stock: 3 });
    expectError(await patch(product.id, payload), 400, 'validation_error');
    expect((await get(product.id)).json()).toMatchObject({ name: 'Stable', price_cents: 100, stock: 3 });
  });

  // Bodies are validated, not coerced: a null must not turn into a price of 0 (a free product).
  it.each([
    ['a null price', { price_cents: null }],
    ['a boolean stock', { stock: true }],
  ])('PATCH refuses %s instead of coercing it', async (_what, payload) => {
    const product = await createProduct(t.app, owner.token, { name: 'Typed', price_cents: 100, stock: 3 });
    expectError(await patch(product.id, payload), 400, 'validation_error');
    expect((await get(product.id)).json()).toMatchObject({ name: 'Typed', price_cents: 100, stock: 3 });
  });

  it.each([
    ['a missing name', { price_cents: 1, stock: 1 }],
    ['a negative price', { name: 'x', price_cents: -5, stock: 1 }],
    ['a negative stock', { name: 'x', price_cents: 5, stock: -1 }],
    ['a float stock', { name: 'x', price_cents: 5, stock: 0.5 }],
    ['a price above the maximum', { name: 'x', price_cents: 100_000_001, stock: 1 }],
    ['a tenant_id', { name: 'x', price_cents: 5, stock: 1, tenant_id: randomUUID() }],
  ])('POST rejects %s with 400 validation_error', async (_what, payload) => {
    const body = expectError(await post(payload), 400, 'validation_error');
    expect(body.details?.length).toBeGreaterThan(0);
  });

  it('answers 404 for an unknown product on GET and PATCH, and for another tenant’s product', async () => {
    expectError(await get(randomUUID()), 404, 'not_found');
    expectError(await patch(randomUUID(), { stock: 1 }), 404, 'not_found');
    const other = await signup(t.app);
    const theirs = await createProduct(t.app, other.token, { name: 'Theirs', price_cents: 1, stock: 1 });
    expectError(await get(theirs.id), 404, 'not_found');
    expectError(await patch(theirs.id, { price_cents: 0 }), 404, 'not_found');
    expect((await get(theirs.id, other.token)).json()).toMatchObject({ name: 'Theirs', price_cents: 1 });
  });

  it('answers 400 for a product id that is not a UUID', async () => {
    expectError(await get('42'), 400, 'validation_error');
    expectError(await patch('42', { stock: 1 }), 400, 'validation_error');
  });

  it('requires a token', async () => {
    const anonymous = apiClient(t.app);
    expectError(await result(anonymous.GET('/api/products')), 401, 'unauthorized');
    expectError(await result(anonymous.POST('/api/products', { body: { name: 'x', price_cents: 1, stock: 1 } })), 401, 'unauthorized');
  });
});
