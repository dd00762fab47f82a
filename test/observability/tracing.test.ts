// Traces as the CONTRACT says, read back from an in-memory exporter behind the real SDK
// (startTestTracing) on the real app, its real database and job worker:
// - the whole span tree of POST /api/orders, one trace id from the caller's traceparent
//   through the worker's consumer span, with the SQL comment proven on what pg sends and on
//   what Postgres itself sees;
// - an order arriving with an unsampled traceparent: no span from it, nor from its job;
// - failures (a 500 is an error span with the exception; a declined card is not);
// - log correlation and the traceresponse header;
// - traceparent injected into the outgoing payment call, with its CLIENT span;
// - secrets in span attributes redacted.
//
// On a shared Postgres (DATABASE_URL) this file runs in a database of its own on that
// server: its worker must not take other files' queued jobs (test/modules/orders.test.ts
// waits for its own confirmations), nor theirs take this file's.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setActiveAttributes, withSpan } from '../../src/observability/tracing/tracer.ts';
import { bearer, createProduct, signup, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing, traceIdOf } from '../helpers/tracing.ts';

const tracing = startTestTracing();

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A sampled W3C traceparent from a caller whose trace and span ids the test knows. */
function callerContext() {
  const traceId = hex(16);
  const parentSpanId = hex(8);
  return { traceId, parentSpanId, traceparent: `00-${traceId}-${parentSpanId}-01` };
}

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const isSql = (s: ReadableSpan) => s.kind === SpanKind.CLIENT && s.attributes['db.system.name'] === 'postgresql';

/** Polls `probe` until it returns something other than undefined. */
async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The spans of a trace, once one of them satisfies `ready` (the server span ends after the response). */
async function traceWhen(traceId: string, ready: (spans: ReadableSpan[]) => boolean, timeoutMs = 10_000): Promise<ReadableSpan[]> {
  return eventually(
    `the spans of trace ${traceId}`,
    async () => {
      await tracing.runtime.forceFlush();
      const spans = tracing.trace(traceId);
      return ready(spans) ? spans : undefined;
    },
    timeoutMs,
  );
}

const serverSpanDone = (name: string) => (spans: ReadableSpan[]) => spans.some((s) => s.kind === SpanKind.SERVER && s.name === name);

function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(
    found.map((s) => s.name),
    `exactly one ${name} span`,
  ).toEqual([name]);
  return found[0]!;
}

/** True when `ancestor` is on the parent chain of `span` within `spans`. */
function descendsFrom(span: ReadableSpan, ancestor: ReadableSpan, spans: ReadableSpan[]): boolean {
  const byId = new Map(spans.map((s) => [spanId(s), s]));
  let current: ReadableSpan | undefined = span;
  for (let depth = 0; current && depth < 50; depth++) {
    const parent = parentId(current);
    if (parent === spanId(ancestor)) return true;
    current = parent ? byId.get(parent) : undefined;
  }
  return false;
}

/** A query as `pg` sent it, and the connection (pg.Client) that sent it. */
interface SentQuery {
  client: unknown;
  text: string;
}

/**
 * Records the text of every query `pg` sends from this process while `fn` runs, by
 * wrapping pg.Client.prototype.query (an observation: the original is called unchanged,
 * and restored afterwards).
 */
async function recordSentSql<T>(fn: () => Promise<T>): Promise<{ result: T; sent: SentQuery[] }> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const sent: SentQuery[] = [];
  proto.query = function recordingQuery(this: unknown, ...args: unknown[]) {
    const config = args[0];
    if (typeof config === 'string') sent.push({ client: this, text: config });
    else if (config && typeof (config as { text?: unknown }).text === 'string') sent.push({ client: this, text: (config as { text: string }).text });
    return original.apply(this, args);
  };
  try {
    return { result: await fn(), sent };
  } finally {
    proto.query = original;
  }
}

describe(`traces (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;

  beforeAll(async () => {
    t = await startTestApp({
      tracing: true,
      workers: true,
      ownDatabase: true,
      beforeReady(app) {
        app.get('/test/boom', async () =>
          withSpan('risky_step', { 'step.kind': 'test' }, async () => {
            throw new Error('kaboom');
          }),
        );
        app.get('/test/current-query', async () => {
          const { rows } = await t.deps.db.query<{ q: string }>('SELECT current_query() AS q');
          return { sent: rows[0]!.q };
        });
        app.get('/test/secrets', async () => {
          setActiveAttributes({ 'user.password': 'hunter2', api_key: 'abc', 'http.request.header.authorization': 'Bearer x', 'test.visible': 'shown' });
          await withSpan('secret_step', { 'db.password': 'pw-in-span', token: 'tok-in-span', 'order.id': 'ord_visible' }, async (span) => {
            span.setAttribute('payment.credit_card', '4242424242424242');
            span.addEvent('cookie_seen', { cookie: 'session=abcdef', 'event.visible': 'yes' });
          });
          return { ok: true };
        });
      },
    });
    tenant = await signup(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('POST /api/orders', () => {
    it('is one trace from the caller through the SQL and the confirmation job, with the SQL comment on every query sent', { timeout: 60_000 }, async () => {
      const product = await createProduct(t.app, tenant.token, { price_cents: 1250, stock: 5 });
      const caller = callerContext();
      const requestId = `trace-order-${randomUUID()}`;
      const idempotencyKey = randomUUID();

      const { result: res, sent } = await recordSentSql(async () => {
        const response = await t.app.inject({
          method: 'POST',
          url: '/api/orders',
          headers: { ...bearer(tenant.token), 'idempotency-key': idempotencyKey, traceparent: caller.traceparent, 'x-request-id': requestId },
          payload: { items: [{ product_id: product.id, quantity: 2 }] },
        });
        // Until the worker ran the confirmation, so its queries are recorded too.
        const orderId = (response.json() as { id?: string }).id;
        await eventually('order_confirmation_sent', () => t.logs.find('order_confirmation_sent').find((l) => l.order_id === orderId), 30_000);
        return response;
      });
      expect(res.statusCode, res.body).toBe(201);
      const orderId = res.json().id as string;
      expect(res.headers['x-request-id']).toBe(requestId);

      const spans = await traceWhen(
        caller.traceId,
        (s) => serverSpanDone('POST /api/orders')(s) && s.some((x) => x.name === 'process order-confirmation'),
        30_000,
      );
      expect(
        tracing
          .spans()
          .filter((s) => s.attributes['request.id'] === requestId)
          .map((s) => s.spanContext().traceId),
      ).toEqual([caller.traceId]);

      // The server span continues the caller's trace.
      const server = only(spans, 'POST /api/orders');
      expect(server.kind).toBe(SpanKind.SERVER);
      expect(server.parentSpanContext).toMatchObject({ traceId: caller.traceId, spanId: caller.parentSpanId, isRemote: true });
      expect(server.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/api/orders',
        'url.path': '/api/orders',
        'http.response.status_code': 201,
        'request.id': requestId,
        'tenant.id': tenant.tenantId,
        'user.id': tenant.userId,
      });
      expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(res.headers.traceresponse).toBe(`00-${caller.traceId}-${spanId(server)}-01`);

      // The order flow's manual spans.
      const processOrder = only(spans, 'process_order');
      const validateInventory = only(spans, 'validate_inventory');
      const chargePayment = only(spans, 'charge_payment');
      const sendConfirmation = only(spans, 'send_confirmation');
      expect(parentId(processOrder)).toBe(spanId(server));
      expect(processOrder.attributes).toMatchObject({ 'tenant.id': tenant.tenantId, 'order.id': orderId });
      expect(parentId(validateInventory)).toBe(spanId(processOrder));
      expect(parentId(chargePayment)).toBe(spanId(processOrder));
      expect(chargePayment.attributes).toMatchObject({ 'order.id': orderId, 'payment.outcome': 'captured', 'payment.amount_cents': 2500 });
      expect(parentId(sendConfirmation)).toBe(spanId(processOrder));
      for (const s of [processOrder, validateInventory, chargePayment, sendConfirmation]) {
        expect(s.kind, s.name).toBe(SpanKind.INTERNAL);
        expect(s.status.code, s.name).not.toBe(SpanStatusCode.ERROR);
      }

      // Every span but the server's hangs inside the tree: nothing orphaned, nothing parented elsewhere.
      const ids = new Set(spans.map(spanId));
      for (const s of spans) if (s !== server) expect(ids.has(parentId(s) ?? ''), `${s.name} has its parent in the trace`).toBe(true);

      // SQL spans: CLIENT, postgresql, the statement text without parameter values or comment.
      const sql = spans.filter(isSql);
      expect(sql.length).toBeGreaterThanOrEqual(10);
      for (const s of sql) {
        expect(s.attributes, s.name).toMatchObject({
          'db.system.name': 'postgresql',
          'db.operation.name': expect.any(String),
          'db.namespace': expect.any(String),
        });
        const text = String(s.attributes['db.query.text']);
        expect(text, s.name).not.toContain('traceparent');
        expect(text, s.name).not.toContain(product.id);
        expect(text, s.name).not.toContain(idempotencyKey);
      }
      const selectProducts = sql.filter((s) => s.name.startsWith('SELECT products') && parentId(s) === spanId(validateInventory));
      expect(selectProducts).toHaveLength(1);
      expect(selectProducts[0]!.attributes).toMatchObject({ 'db.operation.name': 'SELECT', 'db.collection.name': 'products' });
      expect(selectProducts[0]!.attributes['db.query.text']).toMatch(/\$1/);
      expect(sql.filter((s) => parentId(s) === spanId(processOrder)).map((s) => s.name)).toEqual(expect.arrayContaining(['BEGIN', 'COMMIT']));

      // send_confirmation runs inside the settling transaction: on the connection that sent the
      // job's INSERT, the statements around it are that transaction's BEGIN and COMMIT (spans of
      // process_order), with the order marked paid in between.
      const commentOf = (s: ReadableSpan) => `/*traceparent='00-${caller.traceId}-${spanId(s)}-01'*/`;
      const enqueue = sql.filter((s) => parentId(s) === spanId(sendConfirmation));
      expect(enqueue.map((s) => s.name)).toEqual([expect.stringMatching(/^INSERT pgboss\./)]);
      const at = sent.findIndex((q) => q.text.includes(commentOf(enqueue[0]!)));
      expect(at).toBeGreaterThanOrEqual(0);
      const sameConnection = sent.map((q, i) => ({ ...q, i })).filter((q) => q.client === sent[at]!.client);
      const pos = sameConnection.findIndex((q) => q.i === at);
      const begin = sameConnection.slice(0, pos).findLast((q) => /^BEGIN\b/.test(q.text));
      const end = sameConnection.slice(pos + 1).find((q) => /^(COMMIT|ROLLBACK)\b/.test(q.text));
      expect(end?.text).toMatch(/^COMMIT\b/);
      const spanOfSent = (text: string | undefined) => sql.find((s) => text?.includes(commentOf(s)));
      expect(parentId(spanOfSent(begin?.text)!)).toBe(spanId(processOrder));
      expect(parentId(spanOfSent(end?.text)!)).toBe(spanId(processOrder));
      const between = sameConnection.filter((q) => q.i > begin!.i && q.i < end!.i).map((q) => spanOfSent(q.text)?.name);
      expect(between).toEqual(expect.arrayContaining(['UPDATE orders', enqueue[0]!.name]));

      // The confirmation job: a CONSUMER span in the same trace, under send_confirmation, with its own SQL.
      const consumer = only(spans, 'process order-confirmation');
      expect(consumer.kind).toBe(SpanKind.CONSUMER);
      expect(descendsFrom(consumer, sendConfirmation, spans)).toBe(true);
      expect(consumer.attributes).toMatchObject({
        'messaging.system': 'pg-boss',
        'messaging.destination.name': 'order-confirmation',
        'messaging.operation.type': 'process',
      });
      const consumerSql = sql.filter((s) => parentId(s) === spanId(consumer));
      expect(consumerSql.map((s) => s.name)).toEqual(expect.arrayContaining(['BEGIN', 'COMMIT']));
      expect(consumerSql.length).toBeGreaterThanOrEqual(3);

      // The worker's log line carries the trace and the request's context.
      const sentLine = t.logs.find('order_confirmation_sent').find((l) => l.order_id === orderId)!;
      const consumerFamily = new Set(spans.filter((s) => s === consumer || descendsFrom(s, consumer, spans)).map(spanId));
      expect(sentLine).toMatchObject({ trace_id: caller.traceId, tenant_id: tenant.tenantId, user_id: tenant.userId, request_id: requestId });
      expect(consumerFamily.has(String(sentLine.span_id))).toBe(true);
      // Every line of the request and of its job carries the trace, and a span of it.
      const requestLines = t.logs.lines.filter((l) => l.request_id === requestId);
      expect(requestLines.map((l) => l.message)).toEqual(
        expect.arrayContaining(['order_created', 'order_paid', 'request_completed', 'order_confirmation_sent']),
      );
      for (const line of requestLines) {
        expect(line.trace_id, String(line.message)).toBe(caller.traceId);
        expect(ids.has(String(line.span_id)), `${String(line.message)} span_id`).toBe(true);
      }
      expect(requestLines.find((l) => l.message === 'request_completed')?.span_id).toBe(spanId(server));

      // What pg sent: each traced statement followed by its own span's traceparent comment.
      for (const s of sql) {
        const text = String(s.attributes['db.query.text']);
        const comment = commentOf(s);
        const matching = sent.map((q) => q.text).filter((q) => q.includes(comment));
        expect(matching, `the query sent for ${s.name}`).toHaveLength(1);
        expect(matching[0]!.endsWith(` ${comment}`)).toBe(true);
        if (text.endsWith('…')) expect(matching[0]!.startsWith(text.slice(0, -1))).toBe(true);
        else if (text.startsWith('BEGIN; SET LOCAL ROLE')) {
          // The tenant setup is shown with placeholders; what was sent has the values inlined as literals.
          const pattern = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\$\d+/g, "'[^']*'");
          expect(matching[0]).toMatch(new RegExp(`^${pattern} ${comment.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
          expect(text, 'the setup span shows no tenant value').not.toMatch(/'[0-9a-f-]{36}'/);
        } else expect(matching[0]).toBe(`${text} ${comment}`);
      }
    });

    it('carries the traceparent comment to Postgres itself (current_query() as the server received it)', async () => {
      const caller = callerContext();
      const res = await t.app.inject({ method: 'GET', url: '/test/current-query', headers: { traceparent: caller.traceparent } });
      expect(res.statusCode, res.body).toBe(200);
      const spans = await traceWhen(caller.traceId, serverSpanDone('GET /test/current-query'));
      const server = only(spans, 'GET /test/current-query');
      const [query] = spans.filter(isSql);
      expect(query).toBeDefined();
      expect(parentId(query!)).toBe(spanId(server));
      expect(query!.attributes['db.query.text']).toBe('SELECT current_query() AS q');
      expect(res.json().sent).toBe(`SELECT current_query() AS q /*traceparent='00-${caller.traceId}-${spanId(query!)}-01'*/`);
    });
  });

  describe('an unsampled POST /api/orders (traceparent flags 00)', () => {
    let traceId: string;
    let exported: ReadableSpan[];

    beforeAll(async () => {
      const product = await createProduct(t.app, tenant.token, { price_cents: 300, stock: 2 });
      traceId = hex(16);
      await eventually('a quiet exporter', async () => {
        await tracing.runtime.forceFlush();
        const n = tracing.spans().length;
        await sleep(100);
        await tracing.runtime.forceFlush();
        return tracing.spans().length === n ? true : undefined;
      });
      const before = tracing.spans().length;
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { ...bearer(tenant.token), 'idempotency-key': randomUUID(), traceparent: `00-${traceId}-${hex(8)}-00` },
        payload: { items: [{ product_id: product.id, quantity: 1 }] },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers.traceresponse).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
      const orderId = res.json().id as string;
      // Its confirmation job ran too, so whatever it exports is in.
      await eventually('order_confirmation_sent', () => t.logs.find('order_confirmation_sent').find((l) => l.order_id === orderId), 30_000);
      await sleep(200);
      await tracing.runtime.forceFlush();
      exported = tracing.spans().slice(before);
    }, 60_000);

    it('exports no span from the request, its SQL or its enqueues', () => {
      expect(exported.filter((s) => s.spanContext().traceId === traceId)).toEqual([]);
      const jobTraces = new Set(exported.filter((s) => s.kind === SpanKind.CONSUMER).map((s) => s.spanContext().traceId));
      expect(exported.filter((s) => !jobTraces.has(s.spanContext().traceId)).map((s) => s.name)).toEqual([]);
    });

    // The server runs an unsampled request's handler in no trace context, so JobQueue.send
    // finds nothing to put in `_trace`, and the worker starts the job's CONSUMER span as a
    // root (allowRoot) that the sampler then records: a trace neither parented nor linked to
    // the request, exported although the caller said not to sample.
    it('hands the unsampled decision to its confirmation job, which exports no span either', () => {
      expect(exported.map((s) => `${s.name} (trace ${s.spanContext().traceId})`)).toEqual([]);
    });
  });

  describe('failures', () => {
    it('marks a 500 server span as an error with the exception recorded, and the failing inner span too', async () => {
      const caller = callerContext();
      const res = await t.app.inject({ method: 'GET', url: '/test/boom', headers: { traceparent: caller.traceparent } });
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain('kaboom');
      const spans = await traceWhen(caller.traceId, serverSpanDone('GET /test/boom'));
      const server = only(spans, 'GET /test/boom');
      expect(server.status.code).toBe(SpanStatusCode.ERROR);
      expect(server.attributes['http.response.status_code']).toBe(500);
      expect(server.attributes['http.route']).toBe('/test/boom');
      const exception = server.events.find((e) => e.name === 'exception');
      expect(exception?.attributes).toMatchObject({ 'exception.type': 'Error', 'exception.message': 'kaboom' });

      const inner = only(spans, 'risky_step');
      expect(parentId(inner)).toBe(spanId(server));
      expect(inner.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'kaboom' });
      expect(inner.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({ 'exception.message': 'kaboom' });
    });

    it('answers a declined card with 402: not an error span, and charge_payment says declined', async () => {
      const product = await createProduct(t.app, tenant.token, { price_cents: 700, stock: 3 });
      const caller = callerContext();
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { ...bearer(tenant.token), 'idempotency-key': randomUUID(), traceparent: caller.traceparent },
        payload: { items: [{ product_id: product.id, quantity: 1 }], payment_method: 'pm_card_declined' },
      });
      expect(res.statusCode, res.body).toBe(402);
      expect(res.json().error).toBe('payment_failed');
      const spans = await traceWhen(caller.traceId, serverSpanDone('POST /api/orders'));
      const server = only(spans, 'POST /api/orders');
      expect(server.attributes['http.response.status_code']).toBe(402);
      expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(server.events.filter((e) => e.name === 'exception')).toEqual([]);
      const charge = only(spans, 'charge_payment');
      expect(charge.attributes).toMatchObject({ 'payment.outcome': 'declined', 'payment.decline_reason': 'card_declined' });
      expect(charge.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(spans.filter((s) => s.name === 'send_confirmation')).toEqual([]);
    });
  });

  describe('log correlation', () => {
    it('puts the trace and span ids on every line of a traced request and answers traceresponse', async () => {
      const caller = callerContext();
      const requestId = `trace-logs-${randomUUID()}`;
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/products',
        headers: { ...bearer(tenant.token), traceparent: caller.traceparent, 'x-request-id': requestId },
        payload: { name: 'Traced Widget', price_cents: 100, stock: 1 },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['x-request-id']).toBe(requestId);
      const spans = await traceWhen(caller.traceId, serverSpanDone('POST /api/products'));
      const server = only(spans, 'POST /api/products');
      expect(res.headers.traceresponse).toBe(`00-${caller.traceId}-${spanId(server)}-01`);
      expect(traceIdOf(res.headers)).toBe(caller.traceId);

      const lines = await eventually('request_completed', () => {
        const mine = t.logs.lines.filter((l) => l.request_id === requestId);
        return mine.some((l) => l.message === 'request_completed') ? mine : undefined;
      });
      expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(['product_created', 'request_completed']));
      const ids = new Set(spans.map(spanId));
      for (const line of lines) {
        expect(line.trace_id, String(line.message)).toBe(caller.traceId);
        expect(ids.has(String(line.span_id)), `${String(line.message)} span_id ${String(line.span_id)}`).toBe(true);
      }
      expect(lines.find((l) => l.message === 'request_completed')?.span_id).toBe(spanId(server));
    });

    it('correlates the lines of a request rejected before its handler (a bad token), with a fresh trace', async () => {
      const requestId = `trace-badtoken-${randomUUID()}`;
      const res = await t.app.inject({ method: 'GET', url: '/api/products', headers: { authorization: 'Bearer not.a.jwt', 'x-request-id': requestId } });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_token', request_id: requestId });
      expect(res.headers['x-request-id']).toBe(requestId);
      const traceId = traceIdOf(res.headers);
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      const spans = await traceWhen(traceId, serverSpanDone('GET /api/products'));
      const server = only(spans, 'GET /api/products');
      expect(server.parentSpanContext).toBeUndefined();
      expect(server.attributes).toMatchObject({ 'http.response.status_code': 401, 'request.id': requestId });
      expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(res.headers.traceresponse).toBe(`00-${traceId}-${spanId(server)}-01`);

      const lines = await eventually('request_completed', () => {
        const mine = t.logs.lines.filter((l) => l.request_id === requestId);
        return mine.some((l) => l.message === 'request_completed') ? mine : undefined;
      });
      expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(['invalid_access_token', 'request_completed']));
      for (const line of lines) expect(line, String(line.message)).toMatchObject({ trace_id: traceId, span_id: spanId(server) });
    });
  });

  describe('outgoing payment call', () => {
    let gatewayServer: Server;
    const received: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
    let httpApp: TestApp;
    let httpTenant: Tenant;

    beforeAll(async () => {
      gatewayServer = createServer((req, res) => {
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
        req.resume();
        req.on('end', () => {
          if (req.method === 'POST' && req.url === '/v1/charges') {
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"ch_1","status":"captured"}');
          } else {
            res.writeHead(404).end();
          }
        });
      });
      await new Promise<void>((resolve) => gatewayServer.listen(0, '127.0.0.1', resolve));
      const baseUrl = `http://127.0.0.1:${(gatewayServer.address() as AddressInfo).port}`;
      // PAYMENT_GATEWAY_URL selects the HTTP gateway, as in production.
      httpApp = await startTestApp({ tracing: true, ownDatabase: true, env: { PAYMENT_GATEWAY_URL: baseUrl } });
      httpTenant = await signup(httpApp.app);
    });
    afterAll(async () => {
      await httpApp?.close();
      await new Promise((resolve) => gatewayServer?.close(resolve));
    });

    it('sends the gateway a traceparent continuing the request trace, from a CLIENT span under charge_payment', async () => {
      const product = await createProduct(httpApp.app, httpTenant.token, { price_cents: 900, stock: 2 });
      const caller = callerContext();
      const res = await httpApp.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { ...bearer(httpTenant.token), 'idempotency-key': randomUUID(), traceparent: caller.traceparent },
        payload: { items: [{ product_id: product.id, quantity: 1 }] },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().payment).toMatchObject({ status: 'captured' });

      const charges = received.filter((r) => r.method === 'POST' && r.url === '/v1/charges');
      expect(charges).toHaveLength(1);
      const header = String(charges[0]!.headers.traceparent ?? '');
      const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(header);
      expect(match, `traceparent ${header}`).not.toBeNull();
      expect(match![1]).toBe(caller.traceId);

      const spans = await traceWhen(caller.traceId, (s) => serverSpanDone('POST /api/orders')(s) && s.some((x) => spanId(x) === match![2]));
      const outgoing = spans.find((s) => spanId(s) === match![2])!;
      const charge = only(spans, 'charge_payment');
      expect(outgoing.kind).toBe(SpanKind.CLIENT);
      expect(outgoing.instrumentationScope.name).toMatch(/undici/);
      expect(parentId(outgoing)).toBe(spanId(charge));
      expect(outgoing.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200, 'server.address': '127.0.0.1' });
      expect(String(outgoing.attributes['url.full'])).toMatch(/\/v1\/charges$/);
      expect(charge.attributes).toMatchObject({ 'payment.provider': 'http', 'payment.outcome': 'captured' });
      // Two tracers in one tree: ours (lean-tracer.ts) made charge_payment, the SDK's made the
      // undici span; one resource object for both, so each export carries it once.
      expect(charge.instrumentationScope.name).toBe('glassbox');
      expect(Object.getPrototypeOf(charge)).not.toBe(Object.getPrototypeOf(outgoing));
      expect(charge.resource).toBe(outgoing.resource);
    });
  });

  describe('redaction', () => {
    it('exports secret span attributes (and event attributes) as [REDACTED]', async () => {
      const caller = callerContext();
      const res = await t.app.inject({ method: 'GET', url: '/test/secrets', headers: { traceparent: caller.traceparent } });
      expect(res.statusCode, res.body).toBe(200);
      const spans = await traceWhen(caller.traceId, serverSpanDone('GET /test/secrets'));
      const server = only(spans, 'GET /test/secrets');
      expect(server.attributes).toMatchObject({
        'user.password': '[REDACTED]',
        api_key: '[REDACTED]',
        'http.request.header.authorization': '[REDACTED]',
        'test.visible': 'shown',
      });
      const step = only(spans, 'secret_step');
      expect(parentId(step)).toBe(spanId(server));
      expect(step.attributes).toMatchObject({
        'db.password': '[REDACTED]',
        token: '[REDACTED]',
        'payment.credit_card': '[REDACTED]',
        'order.id': 'ord_visible',
      });
      expect(step.events.find((e) => e.name === 'cookie_seen')?.attributes).toEqual({ cookie: '[REDACTED]', 'event.visible': 'yes' });

      const exported = JSON.stringify(spans.map((s) => ({ attributes: s.attributes, events: s.events })));
      for (const secret of ['hunter2', '"abc"', 'Bearer x', 'pw-in-span', 'tok-in-span', '4242424242424242', 'session=abcdef']) {
        expect(exported).not.toContain(secret);
      }
    });
  });
});
