// With tracing off (no OpenTelemetry SDK in this process, the app built without server
// spans), requests work as before: no traceresponse header, no trace ids in the logs, even
// when the caller sends a traceparent, and the tracing API is a no-op around the code it wraps.
import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSpan } from '../../src/observability/tracing/tracer.ts';
import { bearer, createProduct, placeOrder, signup, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

describe(`tracing off (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await startTestApp();
    tenant = await signup(t.app);
  });
  afterAll(async () => t?.close());

  it('runs with no SDK registered', async () => {
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
    // withSpan still runs what it wraps, and rethrows its errors.
    await expect(withSpan('noop', {}, async (span) => (span.isRecording() ? 'recording' : 'ran'))).resolves.toBe('ran');
    await expect(withSpan('noop', {}, async () => Promise.reject(new Error('passes through')))).rejects.toThrow('passes through');
  });

  it('answers requests without traceresponse and logs no trace ids, traceparent or not', async () => {
    const product = await createProduct(t.app, tenant.token, { price_cents: 400, stock: 3 });
    const before = t.logs.lines.length;
    const requestId = `untraced-${randomUUID()}`;
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;

    const get = await t.app.inject({
      method: 'GET',
      url: `/api/products/${product.id}`,
      headers: { ...bearer(tenant.token), traceparent, 'x-request-id': requestId },
    });
    expect(get.statusCode).toBe(200);
    expect(get.json().id).toBe(product.id);
    expect(get.headers['x-request-id']).toBe(requestId);
    expect(get.headers.traceresponse).toBeUndefined();

    const order = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }]);
    expect(order.statusCode, order.body).toBe(201);
    expect(order.headers.traceresponse).toBeUndefined();

    const unauthorized = await t.app.inject({ method: 'GET', url: '/api/products', headers: { authorization: 'Bearer not.a.jwt', traceparent } });
    expect(unauthorized.statusCode).toBe(401);
    expect(unauthorized.headers.traceresponse).toBeUndefined();

    const lines = t.logs.lines.slice(before);
    expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(['order_created', 'order_paid', 'invalid_access_token', 'request_completed']));
    expect(lines.find((l) => l.request_id === requestId && l.message === 'request_completed')).toMatchObject({ status_code: 200 });
    for (const line of lines) {
      expect(line, String(line.message)).not.toHaveProperty('trace_id');
      expect(line, String(line.message)).not.toHaveProperty('span_id');
    }
  });
});
