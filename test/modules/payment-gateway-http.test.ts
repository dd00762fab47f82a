// The HTTP payment gateway (PAYMENT_GATEWAY_URL), through POST /api/orders on the real app,
// against a local HTTP server standing in for the provider: what the provider receives, how
// its answers map to ours, and that a provider which does not answer in time gets one
// request (never a blind retry), a 503, and a pending order the reconciler settles with the
// same idempotency key.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpPaymentGateway } from '../../src/modules/payments/http-gateway.ts';
import { bearer, createProduct, placeOrder, signup, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

const TIMEOUT_MS = 300;

interface ProviderRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * The provider's behaviour is chosen by the charge's payment method:
 * pm_card_visa captures; pm_card_declined and pm_card_expired answer 402 with a reason;
 * pm_card_soft_decline answers 200 "declined"; pm_provider_error answers 500;
 * pm_hang never answers; pm_hang_once never answers the first request of a key, then captures.
 */
class FakeProvider {
  readonly requests: ProviderRequest[] = [];
  private readonly server: Server;
  private readonly hanging: ServerResponse[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        this.answer(body, req.headers['idempotency-key'], res);
      });
    });
  }

  private answer(body: Record<string, unknown>, key: string | string[] | undefined, res: ServerResponse) {
    const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    const id = `ch_${randomUUID().replaceAll('-', '')}`;
    switch (body.payment_method) {
      case 'pm_card_declined':
        return send(402, { id, status: 'declined', decline_reason: 'card_declined' });
      case 'pm_card_expired':
        return send(402, { id, status: 'declined', decline_reason: 'expired_card' });
      case 'pm_card_soft_decline':
        return send(200, { id, status: 'declined', decline_reason: 'do_not_honor' });
      case 'pm_provider_error':
        return send(500, { error: 'internal' });
      case 'pm_hang':
        this.hanging.push(res);
        return;
      case 'pm_hang_once':
        if (this.requests.filter((r) => r.headers['idempotency-key'] === key).length === 1) {
          this.hanging.push(res);
          return;
        }
        return send(200, { id, status: 'captured' });
      default:
        return send(200, { id, status: 'captured' });
    }
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  forKey(key: string): ProviderRequest[] {
    return this.requests.filter((r) => r.headers['idempotency-key'] === key);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe(`HTTP payment gateway (${backend})`, () => {
  const provider = new FakeProvider();
  let t: TestApp;

  beforeAll(async () => {
    const url = await provider.listen();
    const env = { PAYMENT_GATEWAY_URL: url, PAYMENT_GATEWAY_TIMEOUT_MS: String(TIMEOUT_MS) };
    // startTestApp hands createDependencies a simulator unless given a gateway, which would
    // shadow PAYMENT_GATEWAY_URL; so the gateway is built here as dependencies.ts builds it.
    t = await startTestApp({ env, gateway: new HttpPaymentGateway({ baseUrl: url, timeoutMs: TIMEOUT_MS }) });
  });
  afterAll(async () => {
    await t?.close();
    await provider.close();
  });

  const stockOf = async (tenant: Tenant, productId: string): Promise<number> =>
    (await t.app.inject({ url: `/api/products/${productId}`, headers: bearer(tenant.token) })).json().stock as number;

  const onlyOrderOf = async (tenant: Tenant) => {
    const items = (await t.app.inject({ url: '/api/orders', headers: bearer(tenant.token) })).json().items as {
      id: string;
      status: string;
      payment: { status: string; failure_reason: string | null };
    }[];
    expect(items).toHaveLength(1);
    return items[0]!;
  };

  const storedPayment = (tenant: Tenant, orderId: string) =>
    t.deps.db.withTenant(tenant.tenantId, async (tx) => {
      const { rows } = await tx.query<{ provider: string; provider_reference: string | null; status: string }>(
        'SELECT provider, provider_reference, status FROM payments WHERE order_id = $1',
        [orderId],
      );
      return rows[0];
    });

  it('POSTs /v1/charges keyed by the order id with the charge as JSON, and a capture answers 201', async () => {
    const tenant = await signup(t.app);
    const product = await createProduct(t.app, tenant.token, { price_cents: 1250, stock: 5 });
    const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 2 }]);

    expect(res.statusCode).toBe(201);
    const order = res.json();
    expect(order).toMatchObject({ status: 'paid', total_cents: 2500, payment: { status: 'captured' } });
    expect(await stockOf(tenant, product.id)).toBe(3);

    const seen = provider.forKey(order.id);
    expect(seen).toHaveLength(1);
    const [charge] = seen;
    expect(charge).toMatchObject({ method: 'POST', url: '/v1/charges' });
    expect(charge!.headers['content-type']).toMatch(/^application\/json/);
    expect(charge!.body).toEqual({ amount_cents: 2500, currency: 'USD', payment_method: 'pm_card_visa', reference: order.id });

    const payment = await storedPayment(tenant, order.id);
    expect(payment).toMatchObject({ provider: 'http', status: 'captured', provider_reference: expect.stringMatching(/^ch_/) });
  });

  it.each([
    ['pm_card_declined', 'card_declined'],
    ['pm_card_expired', 'expired_card'],
    ['pm_card_soft_decline', 'do_not_honor'],
  ])('answers 402 payment_failed when the provider declines %s with reason %s', async (method, reason) => {
    const tenant = await signup(t.app);
    const product = await createProduct(t.app, tenant.token, { stock: 5 });
    const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 2 }], { payment_method: method });

    expect(res.statusCode).toBe(402);
    expect(res.json()).toMatchObject({ error: 'payment_failed', request_id: res.headers['x-request-id'], details: [{ field: 'payment_method', reason }] });
    const order = await onlyOrderOf(tenant);
    expect(order).toMatchObject({ status: 'failed', payment: { status: 'failed', failure_reason: reason } });
    expect(provider.forKey(order.id)).toHaveLength(1);
    expect(await stockOf(tenant, product.id)).toBe(5);
  });

  it('answers 503 when the provider fails with a 500, leaving the order pending', async () => {
    const tenant = await signup(t.app);
    const product = await createProduct(t.app, tenant.token, { stock: 5 });
    const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }], { payment_method: 'pm_provider_error' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'payment_gateway_unavailable', message: expect.any(String), request_id: res.headers['x-request-id'] });
    const order = await onlyOrderOf(tenant);
    expect(order).toMatchObject({ status: 'pending', payment: { status: 'pending' } });
    expect(provider.forKey(order.id)).toHaveLength(1);
  });

  it('gives up after PAYMENT_GATEWAY_TIMEOUT_MS with a 503, sends exactly one request, and keeps the order pending', async () => {
    const tenant = await signup(t.app);
    const product = await createProduct(t.app, tenant.token, { stock: 5 });
    const key = randomUUID();
    const started = Date.now();
    const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }], { key, payment_method: 'pm_hang' });
    const elapsed = Date.now() - started;

    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'payment_gateway_unavailable', request_id: res.headers['x-request-id'] });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 4000);

    const order = await onlyOrderOf(tenant);
    expect(order).toMatchObject({ status: 'pending', payment: { status: 'pending' } });
    await sleep(3 * TIMEOUT_MS); // room for a retry, if the client made one
    expect(provider.forKey(order.id)).toHaveLength(1);
    expect(await stockOf(tenant, product.id)).toBe(4);

    const retry = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }], { key, payment_method: 'pm_hang' });
    expect(retry.statusCode).toBe(409);
    expect(provider.forKey(order.id)).toHaveLength(1);
  });

  it('reconciles a timed-out charge by asking the provider again with the same idempotency key', async () => {
    const tenant = await signup(t.app);
    const product = await createProduct(t.app, tenant.token, { price_cents: 999, stock: 5 });
    const key = randomUUID();
    const items = [{ product_id: product.id, quantity: 1 }];
    const res = await placeOrder(t.app, tenant.token, items, { key, payment_method: 'pm_hang_once' });
    expect(res.statusCode).toBe(503);
    const pending = await onlyOrderOf(tenant);

    expect(await t.services.settlement.reconcile(tenant.tenantId, pending.id, t.deps.logger)).toBe('settled');

    const seen = provider.forKey(pending.id);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.body).toEqual(seen[0]!.body);
    expect(seen[1]!.body).toEqual({ amount_cents: 999, currency: 'USD', payment_method: 'pm_hang_once', reference: pending.id });
    expect(await onlyOrderOf(tenant)).toMatchObject({ id: pending.id, status: 'paid', payment: { status: 'captured' } });

    const replay = await placeOrder(t.app, tenant.token, items, { key, payment_method: 'pm_hang_once' });
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toMatchObject({ id: pending.id, status: 'paid' });
    expect(provider.forKey(pending.id)).toHaveLength(2);
  });
});
