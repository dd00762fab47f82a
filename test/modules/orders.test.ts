// POST /api/orders and its reads, on the real app with the real database and job queue
// (embedded PGlite, or DATABASE_URL / REDIS_URL): the contract's answers, stock, idempotent
// replays, concurrency on one key, the confirmation worker, and orders left pending by an
// unreachable gateway that the reconciler settles without charging twice.
//
// One app serves the whole file. Its gateway routes each charge by payment method to a
// gateway of the test's own, so a test counts only its own charges: on a shared Postgres
// the worker of this file also reconciles other files' pending orders.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logConfirmationSender, type ConfirmationSender } from '../../src/modules/orders/orders.jobs.ts';
import { ordersRepository } from '../../src/modules/orders/orders.repository.ts';
import { PaymentGatewayUnavailableError, type ChargeRequest, type ChargeResult, type PaymentGateway } from '../../src/modules/payments/payment-gateway.ts';
import { SimulatedPaymentGateway } from '../../src/modules/payments/simulated-gateway.ts';
import { errorBody } from '../../src/platform/http/app-error.ts';
import { createProduct, placeOrder, signup, type Tenant } from '../helpers/api.ts';
import { apiClient, result } from '../helpers/client.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { UUID } from '../helpers/assertions.ts';

/** Sends each charge to the gateway registered for its payment method, else to the default simulator. */
class RoutingGateway implements PaymentGateway {
  readonly provider = 'simulator';
  readonly routes = new Map<string, PaymentGateway>();
  readonly fallback = new SimulatedPaymentGateway();
  charge(request: ChargeRequest): Promise<ChargeResult> {
    return (this.routes.get(request.paymentMethod) ?? this.fallback).charge(request);
  }
}

/**
 * A provider whose answers do not arrive: 'down' fails before charging, 'lose_answer' charges
 * and then fails (the customer was charged, we do not know it), 'up' answers. Behind it, a
 * simulator that remembers charges by idempotency key like a real provider.
 */
class UnreliableGateway implements PaymentGateway {
  readonly provider = 'simulator';
  readonly simulator = new SimulatedPaymentGateway();
  mode: 'down' | 'lose_answer' | 'up';
  calls = 0;
  constructor(mode: 'down' | 'lose_answer') {
    this.mode = mode;
  }
  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.calls += 1;
    if (this.mode === 'down') throw new PaymentGatewayUnavailableError('payment gateway unreachable: TimeoutError');
    const result = await this.simulator.charge(request);
    if (this.mode === 'lose_answer') throw new PaymentGatewayUnavailableError('payment gateway unreachable: TimeoutError');
    return result;
  }
}

/** The default "e-mail" log line, after failing the first attempt for chosen recipients. */
class FlakySender implements ConfirmationSender {
  readonly failFirstFor = new Set<string>();
  readonly calls: string[] = [];
  async send(message: Parameters<ConfirmationSender['send']>[0], log: Parameters<ConfirmationSender['send']>[1]): Promise<void> {
    this.calls.push(message.orderId);
    if (this.failFirstFor.delete(message.to)) throw new Error('mail server unavailable');
    await logConfirmationSender.send(message, log);
  }
}

async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe(`orders (${backend})`, () => {
  const gateway = new RoutingGateway();
  const sender = new FlakySender();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ gateway, workers: true, sender, ownDatabase: true });
  });
  afterAll(async () => t?.close());

  const stockOf = async (tenant: Tenant, productId: string): Promise<number> => {
    const res = await result(apiClient(t.app, tenant.token).GET('/api/products/{id}', { params: { path: { id: productId } } }));
    expect(res.statusCode).toBe(200);
    return res.json().stock as number;
  };

  const ordersOf = async (
    tenant: Tenant,
  ): Promise<{ id: string; status: string; total_cents: number; payment: { id: string; status: string; failure_reason: string | null } }[]> => {
    const res = await result(apiClient(t.app, tenant.token).GET('/api/orders', { params: { query: { limit: 100 } } }));
    expect(res.statusCode).toBe(200);
    return res.json().items;
  };

  /** The pg-boss confirmation jobs of an order (the queue lives in the same database). */
  const confirmationJobs = async (orderId: string) =>
    (
      await t.deps.db.query<{ state: string; retry_count: number; data: Record<string, string> }>(
        `SELECT state, retry_count, data FROM pgboss.job WHERE name = 'order-confirmation' AND data->>'order_id' = $1`,
        [orderId],
      )
    ).rows;

  /**
   * How long the confirmation of `orderId` may take: `baseMs`, plus room for the jobs queued
   * ahead of it. The worker takes one job per second, oldest first, and on a shared Postgres
   * the queue also holds other test files' confirmations (only this file runs a worker).
   */
  const confirmationDeadlineMs = async (orderId: string, baseMs: number): Promise<number> => {
    const { rows } = await t.deps.db.query<{ ahead: number }>(
      `SELECT count(*)::int AS ahead FROM pgboss.job j
       WHERE j.name = 'order-confirmation' AND j.state IN ('created', 'retry', 'active')
         AND j.created_on < (SELECT created_on FROM pgboss.job WHERE name = 'order-confirmation' AND data->>'order_id' = $1)`,
      [orderId],
    );
    return Math.min(baseMs + 1500 * (rows[0]?.ahead ?? 0), 45_000);
  };

  const confirmationLine = (orderId: string) => t.logs.find('order_confirmation_sent').find((l) => l.order_id === orderId);

  const post = (tenant: Tenant, key: string | undefined, payload: unknown, requestId?: string) =>
    // Through the typed client; the casts let tests send what the schema forbids on purpose.
    result(
      apiClient(t.app, tenant.token).POST('/api/orders', {
        params: { header: (key === undefined ? {} : { 'idempotency-key': key }) as never },
        body: payload as never,
        ...(requestId ? { headers: { 'x-request-id': requestId } } : {}),
      }),
    );

  // First in the file: the worker takes one job a second, so later tests' orders queue up behind.
  describe('confirmation job', () => {
    it('sends the confirmation of a paid order, logged with its order id, tenant and request id', { timeout: 60_000 }, async () => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token);
      const requestId = randomUUID();
      const res = await post(tenant, randomUUID(), { items: [{ product_id: product.id, quantity: 1 }] }, requestId);
      expect(res.statusCode).toBe(201);
      expect(res.headers['x-request-id']).toBe(requestId);
      const orderId = res.json().id as string;

      const line = await eventually('order_confirmation_sent', () => confirmationLine(orderId), await confirmationDeadlineMs(orderId, 15_000));
      expect(line).toMatchObject({ level: 'info', order_id: orderId, tenant_id: tenant.tenantId, user_id: tenant.userId, request_id: requestId });
      // The recipient's address is personal data: the line names the order only.
      expect(t.logs.raw.find((raw) => raw.includes(orderId) && raw.includes('order_confirmation_sent'))).not.toContain(tenant.email);
      await eventually('the job to complete', async () => ((await confirmationJobs(orderId))[0]?.state === 'completed' ? true : undefined));
    });

    it('retries a confirmation whose first attempt failed', { timeout: 60_000 }, async () => {
      const tenant = await signup(t.app);
      sender.failFirstFor.add(tenant.email);
      const product = await createProduct(t.app, tenant.token);
      const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }]);
      expect(res.statusCode).toBe(201);
      const orderId = res.json().id as string;

      const deadlineMs = await confirmationDeadlineMs(orderId, 20_000);
      const line = await eventually('order_confirmation_sent after a retry', () => confirmationLine(orderId), deadlineMs);
      expect(line).toMatchObject({ tenant_id: tenant.tenantId, request_id: res.headers['x-request-id'] });
      expect(sender.calls.filter((id) => id === orderId)).toHaveLength(2);
      const job = await eventually('the job to complete', async () => {
        const [row] = await confirmationJobs(orderId);
        return row?.state === 'completed' ? row : undefined;
      });
      expect(job.retry_count).toBe(1);
    });
  });

  describe('placing and reading orders', () => {
    it('answers 201 with the paid order, its items and captured payment, and takes the stock', async () => {
      const tenant = await signup(t.app);
      const widget = await createProduct(t.app, tenant.token, { name: 'Widget', price_cents: 1999, stock: 10 });
      const gadget = await createProduct(t.app, tenant.token, { name: 'Gadget', price_cents: 500, stock: 5 });

      const res = await placeOrder(t.app, tenant.token, [
        { product_id: widget.id, quantity: 2 },
        { product_id: gadget.id, quantity: 1 },
      ]);

      expect(res.statusCode).toBe(201);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      const order = res.json();
      expect(order).toEqual({
        id: expect.stringMatching(UUID),
        status: 'paid',
        total_cents: 2 * 1999 + 500,
        currency: 'USD',
        items: expect.arrayContaining([
          { product_id: widget.id, name: 'Widget', quantity: 2, unit_price_cents: 1999 },
          { product_id: gadget.id, name: 'Gadget', quantity: 1, unit_price_cents: 500 },
        ]),
        payment: { id: expect.stringMatching(UUID), status: 'captured', failure_reason: null },
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      expect(order.items).toHaveLength(2);
      expect(await stockOf(tenant, widget.id)).toBe(8);
      expect(await stockOf(tenant, gadget.id)).toBe(4);

      const byId = await result(apiClient(t.app, tenant.token).GET('/api/orders/{id}', { params: { path: { id: order.id } } }));
      expect(byId.statusCode).toBe(200);
      expect(byId.json()).toEqual(order);
    });

    it('adds up the same product listed twice in one order', async () => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { price_cents: 300, stock: 10 });
      const res = await placeOrder(t.app, tenant.token, [
        { product_id: product.id, quantity: 2 },
        { product_id: product.id, quantity: 3 },
      ]);
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ total_cents: 1500, items: [{ product_id: product.id, quantity: 5 }] });
      expect(await stockOf(tenant, product.id)).toBe(5);
    });

    it('lists orders newest first in pages of `limit` with next_cursor, and rejects limit 101', async () => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { price_cents: 100, stock: 10 });
      const ids: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: i }]);
        expect(res.statusCode).toBe(201);
        ids.push(res.json().id);
        await sleep(3); // ids are time-ordered to the millisecond
      }
      const [first, second, third] = ids;

      const page1 = await result(apiClient(t.app, tenant.token).GET('/api/orders', { params: { query: { limit: 2 } } }));
      expect(page1.statusCode).toBe(200);
      expect(page1.json().items.map((o: { id: string }) => o.id)).toEqual([third, second]);
      expect(page1.json().next_cursor).toBe(second);
      expect(page1.json().items[0]).toMatchObject({ status: 'paid', total_cents: 300, payment: { status: 'captured' } });

      const page2 = await result(apiClient(t.app, tenant.token).GET('/api/orders', { params: { query: { limit: 2, cursor: second } } }));
      expect(page2.statusCode).toBe(200);
      expect(page2.json()).toMatchObject({ items: [{ id: first, total_cents: 100 }], next_cursor: null });

      const all = await result(apiClient(t.app, tenant.token).GET('/api/orders'));
      expect(all.json().items).toHaveLength(3);
      expect(all.json().next_cursor).toBeNull();

      for (const limit of [101, 0]) {
        const bad = await result(apiClient(t.app, tenant.token).GET('/api/orders', { params: { query: { limit } } }));
        expect(bad.statusCode).toBe(400);
        expect(bad.json()).toMatchObject({ error: 'validation_error', request_id: bad.headers['x-request-id'] });
      }
      const hundred = await result(apiClient(t.app, tenant.token).GET('/api/orders', { params: { query: { limit: 100 } } }));
      expect(hundred.statusCode).toBe(200);
    });

    it("answers 404 for an unknown order id and for another tenant's order, and lists only the caller's orders", async () => {
      const alice = await signup(t.app);
      const bob = await signup(t.app);
      const product = await createProduct(t.app, alice.token);
      const order = (await placeOrder(t.app, alice.token, [{ product_id: product.id, quantity: 1 }])).json();

      for (const [tenant, id] of [
        [bob, order.id],
        [alice, randomUUID()],
      ] as const) {
        const res = await result(apiClient(t.app, tenant.token).GET('/api/orders/{id}', { params: { path: { id: id } } }));
        expect(res.statusCode).toBe(404);
        expect(res.json()).toEqual({ error: 'not_found', message: expect.any(String), request_id: res.headers['x-request-id'] });
      }
      expect(await ordersOf(bob)).toEqual([]);
      expect((await ordersOf(alice)).map((o) => o.id)).toEqual([order.id]);
    });

    it('holds no transaction or lock while the gateway is slow: another order of the same product goes through meanwhile', async () => {
      const slow = new SimulatedPaymentGateway({ latencyMs: 1500 });
      gateway.routes.set('pm_card_very_slow', slow);
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 10 });
      const slowRequestId = randomUUID();
      let slowDone = false;
      const slowOrder = post(
        tenant,
        randomUUID(),
        { items: [{ product_id: product.id, quantity: 1 }], payment_method: 'pm_card_very_slow' },
        slowRequestId,
      ).then((r) => {
        slowDone = true;
        return r;
      });
      await eventually('the slow order to be reserved', () => t.logs.find('order_created').find((l) => l.request_id === slowRequestId), 5000);

      // The same product's row and (on the embedded backend) the one transaction slot are free.
      const fast = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 2 }]);
      expect(fast.statusCode).toBe(201);
      expect(slowDone).toBe(false);
      expect(await stockOf(tenant, product.id)).toBe(7);

      expect((await slowOrder).statusCode).toBe(201);
      expect(slow.chargesMade).toBe(1);
    });

    it('requires authentication', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/orders', headers: { 'idempotency-key': randomUUID() }, payload: { items: [] } });
      expect(res.statusCode).toBe(401);
      expect((await t.app.inject({ url: '/api/orders' })).statusCode).toBe(401);
    });
  });

  describe('rejected orders', () => {
    it('answers 400 validation_error without an Idempotency-Key, and writes nothing', async () => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 4 });
      const res = await post(tenant, undefined, { items: [{ product_id: product.id, quantity: 1 }] });
      expect(res.statusCode).toBe(400);
      const body = res.json();
      expect(body).toMatchObject({ error: 'validation_error', message: expect.any(String), request_id: res.headers['x-request-id'] });
      expect(JSON.stringify(body.details)).toContain('idempotency-key');
      expect(await ordersOf(tenant)).toEqual([]);
      expect(await stockOf(tenant, product.id)).toBe(4);
    });

    it('answers 404 for an unknown product and reserves nothing of the known ones', async () => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 4 });
      const missing = randomUUID();
      const res = await placeOrder(t.app, tenant.token, [
        { product_id: product.id, quantity: 1 },
        { product_id: missing, quantity: 1 },
      ]);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'not_found', request_id: res.headers['x-request-id'] });
      expect(JSON.stringify(res.json().details)).toContain(missing);
      expect(await ordersOf(tenant)).toEqual([]);
      expect(await stockOf(tenant, product.id)).toBe(4);
    });

    it("answers 404 for another tenant's product", async () => {
      const alice = await signup(t.app);
      const bob = await signup(t.app);
      const alicesProduct = await createProduct(t.app, alice.token, { stock: 4 });
      const res = await placeOrder(t.app, bob.token, [{ product_id: alicesProduct.id, quantity: 1 }]);
      expect(res.statusCode).toBe(404);
      expect(await stockOf(alice, alicesProduct.id)).toBe(4);
      expect(await ordersOf(bob)).toEqual([]);
    });

    it('answers 409 insufficient_stock and writes nothing; the same key succeeds after a restock', async () => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { price_cents: 250, stock: 2 });
      const key = randomUUID();
      const items = [{ product_id: product.id, quantity: 3 }];

      const res = await placeOrder(t.app, tenant.token, items, { key });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({
        error: 'insufficient_stock',
        message: expect.any(String),
        request_id: res.headers['x-request-id'],
        details: [{ field: 'items.quantity', product_id: product.id, available: 2 }],
      });
      expect(await ordersOf(tenant)).toEqual([]);
      expect(await stockOf(tenant, product.id)).toBe(2);

      const restock = await result(apiClient(t.app, tenant.token).PATCH('/api/products/{id}', { params: { path: { id: product.id } }, body: { stock: 5 } }));
      expect(restock.statusCode).toBe(200);

      const retry = await placeOrder(t.app, tenant.token, items, { key });
      expect(retry.statusCode).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
      expect(retry.json()).toMatchObject({ status: 'paid', total_cents: 750 });
      expect(await stockOf(tenant, product.id)).toBe(2);
      expect((await ordersOf(tenant)).map((o) => o.id)).toEqual([retry.json().id]);
    });

    it.each([
      ['pm_card_declined', 'card_declined'],
      ['pm_card_insufficient_funds', 'insufficient_funds'],
    ])('answers 402 payment_failed for %s (reason %s): payment and order failed, stock released, no confirmation', async (method, reason) => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { price_cents: 1000, stock: 3 });
      const key = randomUUID();
      const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 2 }], { key, payment_method: method });

      expect(res.statusCode).toBe(402);
      const body = res.json();
      expect(body).toMatchObject({ error: 'payment_failed', message: expect.any(String), request_id: res.headers['x-request-id'] });
      expect(body.details).toEqual([expect.objectContaining({ field: 'payment_method', reason })]);
      // The stored 402 is the error body every other error has, from the same builder: the contract's keys, in its order.
      expect(Object.keys(body)).toEqual(['error', 'message', 'request_id', 'details']);
      expect(res.body).toBe(
        JSON.stringify(
          errorBody({
            requestId: String(res.headers['x-request-id']),
            code: 'payment_failed',
            message: 'The payment was declined',
            details: [{ field: 'payment_method', message: `declined: ${reason}`, reason }],
          }),
        ),
      );

      const orders = await ordersOf(tenant);
      expect(orders).toHaveLength(1);
      const order = orders[0]!;
      expect(order).toMatchObject({ status: 'failed', total_cents: 2000, payment: { status: 'failed', failure_reason: reason } });
      expect(await stockOf(tenant, product.id)).toBe(3);
      expect(t.logs.find('payment_failed').some((l) => l.order_id === order.id && l.reason === reason)).toBe(true);
      // The confirmation would be enqueued in the same transaction as the outcome: none exists.
      expect(await confirmationJobs(order.id)).toEqual([]);

      // The decline is the key's answer: a retry replays it, byte for byte, without a new order.
      const replay = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 2 }], { key, payment_method: method });
      expect(replay.statusCode).toBe(402);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toBe(res.body);
      expect(await ordersOf(tenant)).toHaveLength(1);
      expect(await stockOf(tenant, product.id)).toBe(3);
      // Nor after the replay. (The job table, not the log: the worker polls once a second, so
      // a missing order_confirmation_sent line this soon would hold even if one were queued.)
      expect(await confirmationJobs(order.id)).toEqual([]);
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first answer byte for byte for the same key and body, without a second order or charge', async () => {
      const charges = new SimulatedPaymentGateway();
      gateway.routes.set('pm_card_replay', charges);
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 10 });
      const key = randomUUID();

      const first = await post(tenant, key, { items: [{ product_id: product.id, quantity: 2 }], payment_method: 'pm_card_replay' });
      expect(first.statusCode).toBe(201);
      // The same body, its keys in another order.
      const again = await post(tenant, key, { payment_method: 'pm_card_replay', items: [{ quantity: 2, product_id: product.id }] });
      expect(again.statusCode).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toBe(first.body);
      expect(again.headers['content-type']).toBe(first.headers['content-type']);

      expect(charges.chargesMade).toBe(1);
      expect((await ordersOf(tenant)).map((o) => o.id)).toEqual([first.json().id]);
      expect(await stockOf(tenant, product.id)).toBe(8);
      expect(t.logs.find('order_replayed').some((l) => l.request_id === again.headers['x-request-id'])).toBe(true);
    });

    it('answers 422 idempotency_key_mismatch for the same key with another body, and changes nothing', async () => {
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 10 });
      const key = randomUUID();
      const first = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }], { key });
      expect(first.statusCode).toBe(201);

      for (const options of [{ key }, { key, payment_method: 'pm_card_mastercard' }]) {
        const other = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: options.payment_method ? 1 : 2 }], options);
        expect(other.statusCode).toBe(422);
        expect(other.json()).toMatchObject({ error: 'idempotency_key_mismatch', message: expect.any(String), request_id: other.headers['x-request-id'] });
      }
      expect(await ordersOf(tenant)).toHaveLength(1);
      expect(await stockOf(tenant, product.id)).toBe(9);
      // The key still answers its own body.
      const replay = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }], { key });
      expect(replay.body).toBe(first.body);
    });

    it('keeps keys per tenant: two tenants may use the same key', async () => {
      const key = randomUUID();
      for (let i = 0; i < 2; i++) {
        const tenant = await signup(t.app);
        const product = await createProduct(t.app, tenant.token);
        const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }], { key });
        expect(res.statusCode).toBe(201);
        expect(res.headers['idempotent-replayed']).toBeUndefined();
      }
    });

    it('answers 409 to a retry while the first request is still in flight', async () => {
      const slow = new SimulatedPaymentGateway({ latencyMs: 500 });
      gateway.routes.set('pm_card_slow', slow);
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 10 });
      const key = randomUUID();
      const payload = { items: [{ product_id: product.id, quantity: 1 }], payment_method: 'pm_card_slow' };
      const firstRequestId = randomUUID();

      const firstPromise = post(tenant, key, payload, firstRequestId);
      // Wait until the first has reserved the order and is waiting on the gateway.
      await eventually('the first order to be reserved', () => t.logs.find('order_created').find((l) => l.request_id === firstRequestId), 5000);

      const second = await post(tenant, key, payload);
      expect(second.statusCode).toBe(409);
      expect(second.json()).toMatchObject({ error: 'idempotency_request_in_progress', request_id: second.headers['x-request-id'] });

      const first = await firstPromise;
      expect(first.statusCode).toBe(201);
      const third = await post(tenant, key, payload);
      expect(third.statusCode).toBe(201);
      expect(third.body).toBe(first.body);
      expect(slow.chargesMade).toBe(1);
      expect(await ordersOf(tenant)).toHaveLength(1);
    });

    it('makes exactly one order and one charge from 20 concurrent requests with one key', async () => {
      const charges = new SimulatedPaymentGateway({ latencyMs: 50 });
      gateway.routes.set('pm_card_concurrent', charges);
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { price_cents: 700, stock: 100 });
      const key = randomUUID();
      const payload = { items: [{ product_id: product.id, quantity: 3 }], payment_method: 'pm_card_concurrent' };

      const responses = await Promise.all(Array.from({ length: 20 }, () => post(tenant, key, payload)));

      const statuses = responses.map((r) => r.statusCode);
      for (const status of statuses) expect([201, 409]).toContain(status);
      const created = responses.filter((r) => r.statusCode === 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(new Set(created.map((r) => r.body)).size).toBe(1);
      for (const r of responses.filter((r) => r.statusCode === 409)) expect(r.json().error).toBe('idempotency_request_in_progress');

      const orders = await ordersOf(tenant);
      expect(orders).toHaveLength(1);
      expect(orders[0]).toMatchObject({ id: created[0]!.json().id, status: 'paid', total_cents: 2100 });
      expect(charges.chargesMade).toBe(1);
      expect(await stockOf(tenant, product.id)).toBe(97);
    });
  });

  describe('unknown payment outcome', () => {
    it('leaves a pending order on 503 and settles it once by reconciling, then replays the stored 201', async () => {
      const provider = new UnreliableGateway('down');
      gateway.routes.set('pm_card_unreachable', provider);
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { price_cents: 1200, stock: 5 });
      const key = randomUUID();
      const requestId = randomUUID();
      const payload = { items: [{ product_id: product.id, quantity: 2 }], payment_method: 'pm_card_unreachable' };

      const res = await post(tenant, key, payload, requestId);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: 'payment_gateway_unavailable', message: expect.any(String), request_id: requestId });

      const [pending] = await ordersOf(tenant);
      expect(pending).toMatchObject({ status: 'pending', total_cents: 2400, payment: { status: 'pending' } });
      const orderId = pending!.id;
      expect(await stockOf(tenant, product.id)).toBe(3); // still reserved for the pending order
      expect(await confirmationJobs(orderId)).toEqual([]);
      // The safety net: the sweeper's worklist (read as app_sweeper, across tenants) has it,
      // and no job was enqueued for it (the sweeper replaced the delayed job per order).
      expect(await ordersRepository.pendingOlderThan(t.deps.db, 0, 10_000)).toContainEqual({ id: orderId, tenant_id: tenant.tenantId });
      const reconcileJobs = await t.deps.db.query(`SELECT 1 FROM pgboss.job WHERE name = 'order-reconcile' AND data->>'order_id' = $1`, [orderId]);
      expect(reconcileJobs.rowCount).toBe(0);

      const retry = await post(tenant, key, payload);
      expect(retry.statusCode).toBe(409);
      expect(retry.json().error).toBe('idempotency_request_in_progress');

      // While the provider stays unreachable, reconciling fails (so the job retries) and changes nothing.
      await expect(t.services.settlement.reconcile(tenant.tenantId, orderId, t.deps.logger)).rejects.toBeInstanceOf(PaymentGatewayUnavailableError);
      expect((await ordersOf(tenant))[0]!.status).toBe('pending');

      provider.mode = 'up';
      expect(await t.services.settlement.reconcile(tenant.tenantId, orderId, t.deps.logger)).toBe('settled');
      expect(provider.simulator.chargesMade).toBe(1);

      const settled = await result(apiClient(t.app, tenant.token).GET('/api/orders/{id}', { params: { path: { id: orderId } } }));
      expect(settled.json()).toMatchObject({ status: 'paid', payment: { status: 'captured' } });
      expect(await stockOf(tenant, product.id)).toBe(3);
      // The confirmation was enqueued with the outcome, carrying the original request's id.
      const [job] = await confirmationJobs(orderId);
      expect(job?.data).toMatchObject({ tenant_id: tenant.tenantId, order_id: orderId, request_id: requestId });

      const replay = await post(tenant, key, payload);
      expect(replay.statusCode).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.json()).toEqual(settled.json());
      expect((await post(tenant, key, payload)).body).toBe(replay.body);

      const callsBefore = provider.calls;
      expect(await t.services.settlement.reconcile(tenant.tenantId, orderId, t.deps.logger)).toBe('already_settled');
      expect(provider.calls).toBe(callsBefore);
      expect(provider.simulator.chargesMade).toBe(1);
      expect(await ordersOf(tenant)).toHaveLength(1);
    });

    it('does not charge twice when the provider charged but its answer was lost', async () => {
      const provider = new UnreliableGateway('lose_answer');
      gateway.routes.set('pm_card_lost_answer', provider);
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 5 });
      const res = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }], { payment_method: 'pm_card_lost_answer' });
      expect(res.statusCode).toBe(503);
      expect(provider.simulator.chargesMade).toBe(1);
      const [pending] = await ordersOf(tenant);
      expect(pending?.status).toBe('pending');

      provider.mode = 'up';
      expect(await t.services.settlement.reconcile(tenant.tenantId, pending!.id, t.deps.logger)).toBe('settled');
      expect(provider.calls).toBe(2);
      expect(provider.simulator.chargesMade).toBe(1); // the second call had the same key: the first charge's result
      expect((await ordersOf(tenant))[0]).toMatchObject({ id: pending!.id, status: 'paid' });
    });

    it('reconciles a declined outcome: the order fails and the stock comes back', async () => {
      const provider = new UnreliableGateway('down');
      gateway.routes.set('pm_card_declined_later', provider);
      // Behind the outage, a provider that declines this card.
      provider.simulator.charge = async () => ({ status: 'declined', providerReference: 'sim_declined', reason: 'card_declined' });
      const tenant = await signup(t.app);
      const product = await createProduct(t.app, tenant.token, { stock: 5 });
      const key = randomUUID();
      const payload = { items: [{ product_id: product.id, quantity: 4 }], payment_method: 'pm_card_declined_later' };
      expect((await post(tenant, key, payload)).statusCode).toBe(503);
      expect(await stockOf(tenant, product.id)).toBe(1);
      const [pending] = await ordersOf(tenant);

      provider.mode = 'up';
      expect(await t.services.settlement.reconcile(tenant.tenantId, pending!.id, t.deps.logger)).toBe('settled');
      expect((await ordersOf(tenant))[0]).toMatchObject({ status: 'failed', payment: { status: 'failed', failure_reason: 'card_declined' } });
      expect(await stockOf(tenant, product.id)).toBe(5);
      expect(await confirmationJobs(pending!.id)).toEqual([]);
      const replay = await post(tenant, key, payload);
      expect(replay.statusCode).toBe(402);
      expect(replay.json()).toMatchObject({ error: 'payment_failed', details: [{ reason: 'card_declined' }] });
    });
  });
});
