// The database budget of one paid order, read from its trace: the SQL round trips and the
// transactions of the request (POST /api/orders) and of the background job its settlement
// enqueues (the confirmation), counted from the CLIENT spans every query makes. The order
// path is bound by Postgres (README, Performance): a change that adds a round trip or a
// transaction to it fails here and has to say why, by raising the budget below.
//
// On a shared Postgres (DATABASE_URL) this file runs in a database of its own, so its worker
// takes only its own jobs.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createProduct, signup, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing } from '../helpers/tracing.ts';

const tracing = startTestTracing();

/**
 * Today's budget, measured. Request: the reserve transaction (BEGIN with the tenant context,
 * claim the key, lock the products, decrement the stock, insert order, items and payment,
 * attach the order to the key, COMMIT: 9 round trips) and the settle transaction (BEGIN,
 * lock the order, read the key, mark payment and order, enqueue the confirmation, read the
 * items, complete the key, COMMIT: 9). Until issue 15 the charge re-read the order in a
 * transaction of its own between them, and the reservation also enqueued a delayed reconcile
 * job (fetched, run in a transaction and completed later, for every order): 3 transactions
 * and 22 round trips in the request. The sweeper now settles only orders left pending.
 */
const BUDGET = {
  request: { transactions: 2, roundTrips: 18 },
  confirmation: { transactions: 1, roundTrips: 4 },
};

const isSql = (s: ReadableSpan) => s.kind === SpanKind.CLIENT && s.attributes['db.system.name'] === 'postgresql';

describe(`the database budget of a paid order (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;

  beforeAll(async () => {
    t = await startTestApp({ tracing: true, workers: true, ownDatabase: true });
    tenant = await signup(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stays within its transactions and round trips, request and confirmation job', { timeout: 60_000 }, async () => {
    const product = await createProduct(t.app, tenant.token, { price_cents: 990, stock: 10 });
    const traceId = randomUUID().replaceAll('-', '');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { ...bearer(tenant.token), 'idempotency-key': randomUUID(), traceparent: `00-${traceId}-${'1'.repeat(16)}-01` },
      payload: { items: [{ product_id: product.id, quantity: 1 }] },
    });
    expect(res.statusCode, res.body).toBe(201);

    // The confirmation job's consumer span ends after its work: wait for it.
    let spans: ReadableSpan[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      await tracing.runtime.forceFlush();
      spans = tracing.trace(traceId);
      if (spans.some((s) => s.name === 'process order-confirmation') && spans.some((s) => s.name === 'POST /api/orders')) break;
      await sleep(50);
    }
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    /** The job span a span runs under, if any. */
    const jobOf = (s: ReadableSpan): string | undefined => {
      for (let p: ReadableSpan | undefined = s; p; p = byId.get(p.parentSpanContext?.spanId ?? '')) if (p.name.startsWith('process ')) return p.name;
      return undefined;
    };
    const sql = spans.filter(isSql);
    const count = (filter: (s: ReadableSpan) => boolean) => {
      const mine = sql.filter(filter);
      return { transactions: mine.filter((s) => s.name === 'BEGIN').length, roundTrips: mine.length, commits: mine.filter((s) => s.name === 'COMMIT').length };
    };
    const request = count((s) => jobOf(s) === undefined);
    const confirmation = count((s) => jobOf(s) === 'process order-confirmation');
    console.log(`a paid order: request ${JSON.stringify(request)}, confirmation job ${JSON.stringify(confirmation)}`);
    const listing = sql.map((s) => `${jobOf(s) ?? 'request'}: ${s.name}`).join('\n');

    expect(request.commits).toBe(request.transactions);
    expect(request.transactions).toBeLessThanOrEqual(BUDGET.request.transactions);
    expect(request.roundTrips, listing).toBeLessThanOrEqual(BUDGET.request.roundTrips);
    expect(confirmation.transactions).toBeLessThanOrEqual(BUDGET.confirmation.transactions);
    expect(confirmation.roundTrips, listing).toBeLessThanOrEqual(BUDGET.confirmation.roundTrips);
    // Still a real order flow: both transactions there, the confirmation read.
    expect(request.transactions).toBeGreaterThanOrEqual(2);
    expect(confirmation.roundTrips).toBeGreaterThanOrEqual(2);
  });
});
