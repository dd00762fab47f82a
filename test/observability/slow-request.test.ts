// slow_request (SLOW_REQUEST_MS): a request slower than the threshold logs one warn line with
// its route template, status, duration and trace id, in the request's context; a faster one
// logs none; 0 turns the line off.
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindRequestIdentity, createLogger, observability, observabilityServerOptions } from '../../src/observability/index.ts';
import { bearer, signup } from '../helpers/api.ts';
import { backend, LogCapture, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing, traceIdOf } from '../helpers/tracing.ts';

startTestTracing();

const THRESHOLD_MS = 100;

describe(`slow_request (${backend})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      // Load shedding off: a loaded machine can stall the loop past 1 s, and this is about slow requests.
      env: { SLOW_REQUEST_MS: String(THRESHOLD_MS), MAX_EVENT_LOOP_DELAY_MS: '0' },
      tracing: true,
      beforeReady: (app) => {
        app.get('/test/slow/:id', {
          onRequest: (request, _reply, done) => {
            bindRequestIdentity(request, { tenant_id: 'tenant-slow' });
            done();
          },
          handler: async (_request, reply) => {
            await sleep(THRESHOLD_MS + 50);
            return reply.code(202).send({ ok: true });
          },
        });
      },
    });
  });
  afterAll(async () => t?.close());

  it('logs slow_request (warn) with route, status_code, duration_ms and trace_id for a request over the threshold', async () => {
    const res = await t.app.inject({ url: '/test/slow/42', headers: { 'x-request-id': 'slow-1' } });
    expect(res.statusCode).toBe(202);
    const lines = t.logs.find('slow_request').filter((l) => l.request_id === 'slow-1');
    expect(lines).toHaveLength(1);
    const completed = t.logs.find('request_completed').find((l) => l.request_id === 'slow-1')!;
    expect(lines[0]).toMatchObject({
      level: 'warn',
      method: 'GET',
      path: '/test/slow/42',
      route: '/test/slow/:id',
      status_code: 202,
      threshold_ms: THRESHOLD_MS,
      tenant_id: 'tenant-slow',
      trace_id: traceIdOf(res.headers),
    });
    expect(lines[0]!.duration_ms).toBeGreaterThanOrEqual(THRESHOLD_MS + 45);
    // Read from the same clock just before request_completed is written (after the onResponse hooks).
    expect(lines[0]!.duration_ms).toBeLessThanOrEqual(completed.duration_ms as number);
  });

  it('logs it exactly for the requests whose duration passed the threshold', async () => {
    const tenant = await signup(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `mixed-${i}`;
      ids.push(id);
      const url = i % 2 === 0 ? '/api/me' : `/test/slow/${i}`;
      await t.app.inject({ url, headers: { ...bearer(tenant.token), 'x-request-id': id } });
    }
    for (const id of ids) {
      const completed = t.logs.find('request_completed').find((l) => l.request_id === id)!;
      const slow = t.logs.find('slow_request').filter((l) => l.request_id === id);
      // Decided on the duration each request really took, not on which route it was.
      expect(slow, `${id} took ${String(completed.duration_ms)} ms`).toHaveLength((completed.duration_ms as number) > THRESHOLD_MS ? 1 : 0);
    }
    // The slow route's requests sleep past the threshold: they are certainly among them.
    for (const id of ['mixed-1', 'mixed-3']) expect(t.logs.find('slow_request').filter((l) => l.request_id === id)).toHaveLength(1);
  });
});

describe('slow_request threshold in a service of its own', () => {
  for (const { slowRequestMs, lines } of [
    { slowRequestMs: 10, lines: 1 },
    { slowRequestMs: 0, lines: 0 },
  ]) {
    it(`a 30 ms request with slowRequestMs ${slowRequestMs} logs ${lines} slow_request line${lines === 1 ? '' : 's'} (0: off)`, async () => {
      const logs = new LogCapture();
      const app = Fastify(observabilityServerOptions(createLogger({ level: 'info', format: 'json', destination: logs })));
      await app.register(observability, { tracing: false, overload: false, slowRequestMs });
      app.get('/slow', async () => {
        await sleep(30);
        return { ok: true };
      });
      try {
        expect((await app.inject('/slow')).statusCode).toBe(200);
        expect(logs.find('request_completed')).toHaveLength(1);
        expect(logs.find('slow_request')).toHaveLength(lines);
      } finally {
        await app.close();
      }
    });
  }

  it('never logs it for the probes: a readiness round waiting on a slow check is slow by design', async () => {
    const logs = new LogCapture();
    const app = Fastify(observabilityServerOptions(createLogger({ level: 'info', format: 'json', destination: logs })));
    const slowCheck = { name: 'upstream', check: () => sleep(40) };
    await app.register(observability, { tracing: false, overload: false, slowRequestMs: 10, readiness: [slowCheck], health: { cacheMs: 0 } });
    app.get('/slow', async () => {
      await sleep(40);
      return { ok: true };
    });
    try {
      const ready = await app.inject('/health/ready');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'ready', checks: { upstream: 'ok' } });
      expect(logs.find('slow_request')).toEqual([]);
      // The same wait in an API route is a slow request.
      await app.inject('/slow');
      expect(logs.find('slow_request').map((l) => l.route)).toEqual(['/slow']);
    } finally {
      await app.close();
    }
  });
});
