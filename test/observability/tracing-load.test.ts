// Trace parentage under load, over real sockets: 200 concurrent traced requests against a
// pool of 10 connections, each request's SQL spans in its own trace under its own server
// span (a context leak in the pool's queue would parent a query to whichever request
// released the connection), and unsampled requests (traceparent flags 00) exporting nothing.
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createProduct, signup, type Tenant } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing } from '../helpers/tracing.ts';

const tracing = startTestTracing();

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const traceIdOfSpan = (s: ReadableSpan) => s.spanContext().traceId;
const isSql = (s: ReadableSpan) => s.kind === SpanKind.CLIENT && s.attributes['db.system.name'] === 'postgresql';
const nanos = ([seconds, ns]: [number, number]) => BigInt(seconds) * 1_000_000_000n + BigInt(ns);
const MS = 1_000_000n;

interface Sent {
  traceId: string;
  parentSpanId: string;
  sampled: boolean;
  requestId: string;
  status: number;
  traceresponse: string | null;
  productId: string | undefined;
}

/** Waits until `probe` holds, flushing the exporter between looks. */
async function eventually(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await tracing.runtime.forceFlush();
    if (probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe(`trace parentage under load (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;
  let productId: string;
  let baseUrl: string;

  beforeAll(async () => {
    t = await startTestApp({ tracing: true, env: { DATABASE_POOL_SIZE: '10' } });
    // The embedded server (pglite-socket 0.2.17) keeps a connection's messages together only
    // inside a transaction: an extended-protocol query of pg-boss's (outside one) can be split
    // by another connection's query, fail, and leave the session discarding every other
    // connection's messages until its Sync, so the requests queued behind hang for good
    // (electric-sql/pglite#1046). These requests need no jobs: pg-boss is stopped here.
    if (t.deps.embedded) await t.deps.jobs.stop();
    tenant = await signup(t.app);
    productId = (await createProduct(t.app, tenant.token, { name: 'Load Widget' })).id;
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => t?.close());

  /**
   * Sends `count` concurrent GET /api/products/:id, each with a traceparent of its own, while
   * the test holds all 10 connections of the pool: every request queues in pool.connect (the
   * case where a callback-based instrumentation runs the queued query in the context of
   * whoever released the connection), then the test releases them, from outside any trace.
   */
  async function burst(count: number, sampled: (i: number) => boolean): Promise<{ sent: Sent[]; queued: number }> {
    const pool = t.deps.db.pool;
    const size = t.deps.db.poolSize;
    const held = await Promise.all(Array.from({ length: size }, () => pool.connect()));
    expect(pool.totalCount).toBe(size);
    const planned = Array.from({ length: count }, (_, i) => ({
      traceId: hex(16),
      parentSpanId: hex(8),
      sampled: sampled(i),
      requestId: `load-${i}-${randomUUID()}`,
    }));
    const inflight = Promise.all(
      planned.map(async (p): Promise<Sent> => {
        try {
          const res = await fetch(`${baseUrl}/api/products/${productId}`, {
            headers: { ...bearer(tenant.token), traceparent: `00-${p.traceId}-${p.parentSpanId}-${p.sampled ? '01' : '00'}`, 'x-request-id': p.requestId },
            signal: AbortSignal.timeout(30_000),
          });
          const body = (await res.json()) as { id?: string };
          return { ...p, status: res.status, traceresponse: res.headers.get('traceresponse'), productId: body.id };
        } catch (error) {
          return { ...p, status: -1, traceresponse: null, productId: `failed: ${(error as Error).message}` };
        }
      }),
    );
    let queued: number;
    try {
      // The pool's connect timeout is 10 s: release well before it, all requests queued or not.
      const deadline = Date.now() + 7000;
      while (pool.waitingCount < count && Date.now() < deadline) await sleep(10);
      queued = pool.waitingCount;
    } finally {
      for (const client of held) client.release();
    }
    const sent = await inflight;
    expect(pool.totalCount).toBeLessThanOrEqual(10);
    return { sent, queued };
  }

  /**
   * Checks one sampled request's trace: its server span, and exactly one SQL span under it —
   * a read runs role, tenant and SELECT in one round trip (Database.withTenantRead).
   */
  function expectOwnTrace(sent: Sent, spans: ReadableSpan[]) {
    const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(servers.map((s) => s.name)).toEqual(['GET /api/products/:id']);
    const server = servers[0]!;
    expect(server.parentSpanContext?.spanId).toBe(sent.parentSpanId);
    expect(server.attributes).toMatchObject({
      'request.id': sent.requestId,
      'http.route': '/api/products/:id',
      'http.response.status_code': 200,
      'tenant.id': tenant.tenantId,
    });
    expect(sent.traceresponse).toBe(`00-${sent.traceId}-${spanId(server)}-01`);

    const sql = spans.filter(isSql);
    expect(sql.map((s) => s.name)).toEqual(['SELECT products']);
    expect(spans).toHaveLength(2); // nothing else in the trace
    for (const s of sql) {
      expect(s.parentSpanContext?.spanId, `${s.name} of ${sent.requestId}`).toBe(spanId(server));
      // Within the request's time. Each span anchors its clock on Date.now() (millisecond
      // precision) when it starts, so two spans' times can disagree by up to ~2 ms.
      expect(nanos(s.startTime)).toBeGreaterThanOrEqual(nanos(server.startTime) - 2n * MS);
      expect(nanos(s.endTime)).toBeLessThanOrEqual(nanos(server.endTime) + 2n * MS);
    }
  }

  it('keeps each of 200 concurrent requests on a pool of 10 in its own trace, every SQL span under its own server span', { timeout: 60_000 }, async () => {
    // 10 on a real server; the embedded database always runs on one connection.
    expect(t.deps.db.poolSize).toBe(backend === 'embedded' ? 1 : 10);
    await eventually('setup spans', () => tracing.spans().some((s) => s.name === 'POST /api/products'));
    tracing.reset();

    const { sent, queued } = await burst(200, () => true);
    expect(queued, 'requests queued for a connection at once').toBe(200);
    for (const s of sent) {
      expect(s.status, s.requestId).toBe(200);
      expect(s.productId).toBe(productId);
    }

    const traceIds = new Set(sent.map((s) => s.traceId));
    await eventually('every server span', () => tracing.spans().filter((s) => s.kind === SpanKind.SERVER && traceIds.has(traceIdOfSpan(s))).length === 200);
    const spans = tracing.spans();
    const byTrace = new Map<string, ReadableSpan[]>();
    for (const s of spans) byTrace.set(traceIdOfSpan(s), [...(byTrace.get(traceIdOfSpan(s)) ?? []), s]);

    for (const s of sent) expectOwnTrace(s, byTrace.get(s.traceId) ?? []);
    const sql = spans.filter(isSql);
    expect(sql.filter((s) => !traceIds.has(traceIdOfSpan(s))).map((s) => s.name)).toEqual([]);
    expect(sql).toHaveLength(200); // one SQL span a request
  });

  it(
    'exports nothing for unsampled requests (flags 00) mixed with sampled ones, and answers them traceresponse with flags 00',
    { timeout: 60_000 },
    async () => {
      await tracing.runtime.forceFlush();
      tracing.reset();

      const { sent, queued } = await burst(50, (i) => i % 2 === 0);
      expect(queued, 'requests queued for a connection at once').toBe(50);
      for (const s of sent) expect(s.status, s.requestId).toBe(200);
      const sampled = sent.filter((s) => s.sampled);
      const unsampled = sent.filter((s) => !s.sampled);
      expect(unsampled).toHaveLength(25);

      const sampledIds = new Set(sampled.map((s) => s.traceId));
      await eventually(
        'the sampled server spans',
        () => tracing.spans().filter((s) => s.kind === SpanKind.SERVER && sampledIds.has(traceIdOfSpan(s))).length === sampled.length,
      );
      await sleep(200); // room for a late span of an unsampled request to show up
      await tracing.runtime.forceFlush();
      const spans = tracing.spans();

      for (const s of unsampled) {
        expect(s.traceresponse, s.requestId).toMatch(new RegExp(`^00-${s.traceId}-[0-9a-f]{16}-00$`));
        expect(s.traceresponse).not.toContain(s.parentSpanId);
        expect(spans.filter((x) => traceIdOfSpan(x) === s.traceId).map((x) => x.name)).toEqual([]);
      }
      for (const s of sampled)
        expectOwnTrace(
          s,
          spans.filter((x) => traceIdOfSpan(x) === s.traceId),
        );
      // Nothing but the sampled requests' spans: no SQL span started a trace of its own.
      expect(spans.filter((x) => !sampledIds.has(traceIdOfSpan(x))).map((x) => x.name)).toEqual([]);
      expect(spans).toHaveLength(sampled.length * 2); // server span + one SQL span each
    },
  );
});
