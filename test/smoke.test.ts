import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createProduct, placeOrder, signup } from './helpers/api.ts';
import { backend, startTestApp, type TestApp } from './helpers/test-app.ts';

describe(`smoke (${backend})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('signs up, creates a product and pays an order', async () => {
    const tenant = await signup(t.app);
    const product = await createProduct(t.app, tenant.token, { stock: 3 });
    const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 2 }]);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'paid', total_cents: 3998, payment: { status: 'captured' } });
    const after = await t.app.inject({ url: `/api/products/${product.id}`, headers: bearer(tenant.token) });
    expect(after.json().stock).toBe(1);
  });
});
