// Probes in process: readiness reports each dependency and turns 503 when one fails or when
// shutdown began; startup is 503 until main.ts marks the app started. Probes make no span,
// log nothing below warn, and are still counted in http_requests_total. The readiness round
// (readiness.ts) is single-flight, cached, and bounds each check.
// The real outages (a dependency cut, a dependency that hangs) are in readiness-outage.test.ts.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createReadiness, failureReason, type ReadinessCheck } from '../../src/observability/health/readiness.ts';
import { Database } from '../../src/platform/db/database.ts';
import { scrape } from '../helpers/metrics.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing } from '../helpers/tracing.ts';

const tracing = startTestTracing();

const PROBES = ['/health/live', '/health/ready', '/health/startup'];

describe(`health probes (${backend})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    // Load shedding off: the embedded PGlite can block the loop for over a second while it
    // starts, and a shed 503 would stand in for the answers these tests read.
    t = await startTestApp({ tracing: true, env: { MAX_EVENT_LOOP_DELAY_MS: '0' } });
  });
  afterAll(async () => t?.close());

  it('is ready with every dependency checked', async () => {
    const res = await t.app.inject('/health/ready');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', checks: { database: 'ok', redis: process.env.REDIS_URL ? 'ok' : 'disabled' } });
  });

  it('answers liveness with a constant', async () => {
    const res = await t.app.inject('/health/live');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('turns readiness to 503 shutting_down once shutdown began, while liveness stays 200', async () => {
    t.state.shuttingDown = true;
    try {
      const res = await t.app.inject('/health/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().status).toBe('shutting_down');
      expect((await t.app.inject('/health/live')).statusCode).toBe(200);
    } finally {
      t.state.shuttingDown = false;
    }
  });

  it('reports 503 startup until the app is marked started', async () => {
    t.state.started = false;
    try {
      expect((await t.app.inject('/health/startup')).statusCode).toBe(503);
    } finally {
      t.state.started = true;
    }
    expect((await t.app.inject('/health/startup')).json()).toEqual({ status: 'started' });
  });

  it('reports a failing database as not_ready with a reason and no connection string', async () => {
    const deadDb = new Database({ url: 'postgres://postgres:hunter2@127.0.0.1:1/x', poolSize: 1 });
    const app = await buildApp({ ...t.deps, services: t.services, db: deadDb });
    try {
      const res = await app.inject('/health/ready');
      expect(res.statusCode).toBe(503);
      const body = res.json();
      expect(body.status).toBe('not_ready');
      expect(body.checks.database).toMatch(/^error: \S/);
      expect(body.checks.redis).toBe(process.env.REDIS_URL ? 'ok' : 'disabled');
      expect(res.body).not.toContain('hunter2');
    } finally {
      await app.close();
      await deadDb.close();
    }
  });

  it('makes no server span for a probe (even with a sampled traceparent), while an API request gets one', async () => {
    tracing.reset();
    const traceId = 'ab'.repeat(16);
    for (const url of PROBES) {
      const res = await t.app.inject({ url, headers: { traceparent: `00-${traceId}-${'cd'.repeat(8)}-01` } });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers.traceresponse, url).toBeUndefined();
    }
    const api = await t.app.inject('/api/me');
    expect(api.statusCode).toBe(401);
    expect(api.headers.traceresponse).toBeDefined();
    await tracing.runtime.forceFlush();
    const spans = tracing.spans();
    expect(spans.filter((s) => s.kind === SpanKind.SERVER).map((s) => s.name)).toEqual(['GET /api/me']);
    // Nothing under the probes either: no SQL span from the readiness round, nothing in the caller's trace.
    expect(spans.filter((s) => s.spanContext().traceId === traceId)).toEqual([]);
    expect(spans.filter((s) => s.kind === SpanKind.CLIENT)).toEqual([]);
  });

  it('logs no probe below warn (LOG_LEVEL is debug here), while an API request logs request_completed', async () => {
    const from = t.logs.lines.length;
    for (const url of PROBES) expect((await t.app.inject(url)).statusCode).toBe(200);
    const api = await t.app.inject('/api/me');
    const lines = t.logs.lines.slice(from);
    expect(lines.filter((l) => typeof l.path === 'string' && l.path.startsWith('/health/'))).toEqual([]);
    expect(lines.find((l) => l.message === 'request_completed' && l.request_id === api.headers['x-request-id'])).toMatchObject({ status_code: 401 });
  });

  it('counts probes in http_requests_total by route template and status', async () => {
    const before = await scrape(t.app);
    for (let i = 0; i < 3; i++) await t.app.inject('/health/ready');
    await t.app.inject('/health/live');
    t.state.shuttingDown = true;
    try {
      expect((await t.app.inject('/health/ready')).statusCode).toBe(503);
    } finally {
      t.state.shuttingDown = false;
    }
    const after = await scrape(t.app);
    const delta = (endpoint: string, status: string) =>
      after.value('http_requests_total', { method: 'GET', endpoint, status }) - before.value('http_requests_total', { method: 'GET', endpoint, status });
    expect(delta('/health/ready', '200')).toBe(3);
    expect(delta('/health/ready', '503')).toBe(1);
    expect(delta('/health/live', '200')).toBe(1);
  });
});

/** A check whose every call waits until the test settles it; counts its calls. */
function controlledCheck(name: string) {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const check: ReadinessCheck & { calls: number } = {
    name,
    calls: 0,
    check: () => {
      check.calls++;
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
  };
  return { check, settle: () => pending.splice(0).forEach((p) => p.resolve()), fail: (e: Error) => pending.splice(0).forEach((p) => p.reject(e)) };
}

describe('the readiness round', () => {
  it('runs one round at a time: probes during a round share it, and its result is reused for cacheMs', async () => {
    let clock = 0;
    const db = controlledCheck('database');
    const readiness = createReadiness([db.check], { checkTimeoutMs: 60_000, cacheMs: 1000, now: () => clock });
    const probes = Array.from({ length: 50 }, () => readiness.current());
    await sleep(1);
    expect(db.check.calls).toBe(1);
    db.settle();
    const results = await Promise.all(probes);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toEqual({ healthy: true, checks: { database: 'ok' } });

    clock += 999;
    await readiness.current();
    expect(db.check.calls).toBe(1);
    clock += 1;
    const next = readiness.current();
    expect(db.check.calls).toBe(2);
    db.fail(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    expect(await next).toEqual({ healthy: false, checks: { database: 'error: connect ECONNREFUSED 127.0.0.1:5432' } });
    expect(readiness.last()).toEqual(await next);
  });

  it('with cacheMs 0, starts a new round on the first probe after the previous one ended, and never two at once', async () => {
    const db = controlledCheck('database');
    const readiness = createReadiness([db.check], { checkTimeoutMs: 60_000, cacheMs: 0 });
    const first = [readiness.current(), readiness.current()];
    expect(db.check.calls).toBe(1);
    db.settle();
    await Promise.all(first);
    const second = [readiness.current(), readiness.current()];
    expect(db.check.calls).toBe(2);
    db.settle();
    await Promise.all(second);
  });

  it('runs the checks of a round concurrently: each is called before any has answered', async () => {
    const db = controlledCheck('database');
    const redis = controlledCheck('redis');
    const readiness = createReadiness([db.check, redis.check], { checkTimeoutMs: 60_000, cacheMs: 0 });
    const round = readiness.current();
    await sleep(1);
    expect([db.check.calls, redis.check.calls]).toEqual([1, 1]);
    redis.settle();
    db.fail(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    expect(await round).toEqual({ healthy: false, checks: { database: 'error: connect ECONNREFUSED 127.0.0.1:5432', redis: 'ok' } });
  });

  it('bounds each check by the timeout, and fails only the check that failed', async () => {
    const hung = controlledCheck('database');
    const throwsSync: ReadinessCheck = {
      name: 'broken',
      check: () => {
        throw new Error('not even a promise');
      },
    };
    const disabled: ReadinessCheck = { name: 'redis', check: async () => 'disabled' };
    const readiness = createReadiness([hung.check, throwsSync, disabled], { checkTimeoutMs: 50, cacheMs: 0 });
    const started = performance.now();
    const result = await readiness.current();
    // Bounded: one timeout, not a wait on the hung call (which is never settled).
    expect(performance.now() - started).toBeLessThan(5000);
    expect(result).toEqual({
      healthy: false,
      checks: { database: 'error: timeout after 50 ms', broken: 'error: not even a promise', redis: 'disabled' },
    });
  });

  it('does not blame a dependency for a stall of our own event loop: an answer already on the socket wins over the timer', async () => {
    // A connected loopback pair; the check waits for one byte from the peer.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const peer = await accepted;
    try {
      const check: ReadinessCheck = { name: 'database', check: () => new Promise<void>((resolve) => client.once('data', () => resolve())) };
      const readiness = createReadiness([check], { checkTimeoutMs: 50, cacheMs: 0 });
      const round = readiness.current();
      peer.write('k'); // in the client's kernel buffer at once
      const until = performance.now() + 200;
      while (performance.now() < until); // the loop stalls past the 50 ms deadline
      expect(await round).toEqual({ healthy: true, checks: { database: 'ok' } });
    } finally {
      client.destroy();
      peer.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps connection strings and their passwords out of the reason', () => {
    expect(failureReason(new Error('cannot reach postgres://app:s3cret@db.internal:5432/prod (timeout)'))).toBe('cannot reach <url> (timeout)');
    // Node's AggregateError (every address refused) has an empty message: the code says why.
    expect(failureReason(Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(failureReason(undefined)).toBe('failed');
    expect(failureReason(new Error('x'.repeat(500)))).toHaveLength(200);
  });
});
