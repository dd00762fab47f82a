// Overload protection (@fastify/under-pressure, MAX_EVENT_LOOP_DELAY_MS / MAX_HEAP_USED_MB /
// MAX_RSS_MB): under real pressure, made in this process (a busy-waiting event loop, limits
// below what the heap and RSS already use), every request but the probes, /metrics and
// /admin gets 503 service_unavailable with Retry-After, readiness says why, liveness stays
// 200, the 503s never reach error tracking, and the episode is logged. A single long stall
// logs event_loop_blocked with its measured length.
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorContext, ErrorReporter } from '../../src/observability/errors/error-reporting.ts';
import { createErrorReporting, createLogger, observability, observabilityServerOptions, type ObservabilityOptions } from '../../src/observability/index.ts';
import { bearer, signup, type Tenant } from '../helpers/api.ts';
import { eventually } from '../helpers/otlp-receiver.ts';
import { backend, LogCapture, startTestApp, type TestApp } from '../helpers/test-app.ts';

const LIMIT_MS = 50;

/** Blocks the event loop for `ms` (a synchronous loop, like a CPU-heavy handler). */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

/** Keeps the event loop lagging: blocks `chunkMs`, lets one turn of the loop run, again, until stopped. */
function lagEventLoop(chunkMs: number): { stop(): void } {
  let running = true;
  const spin = () => {
    if (!running) return;
    busyWait(chunkMs);
    setImmediate(spin);
  };
  setImmediate(spin);
  return {
    stop: () => {
      running = false;
    },
  };
}

/** Polls an async probe until it returns a value (bounded). */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

class RecordingReporter implements ErrorReporter {
  readonly name = 'recording';
  readonly reports: ErrorContext[] = [];
  report(_error: unknown, context: ErrorContext): void {
    this.reports.push(context);
  }
}

describe(`overload protection: the event loop (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;
  const reporter = new RecordingReporter();
  beforeAll(async () => {
    // Readiness rounds not reused, so each probe reads the pressure of the moment.
    t = await startTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: String(LIMIT_MS), HEALTH_CACHE_MS: '0' }, errorReporters: [reporter] });
    tenant = await signup(t.app);
  });
  afterAll(async () => t?.close());

  it('logs event_loop_blocked (warn) with the measured length of a stall longer than the limit', async () => {
    const before = t.logs.find('event_loop_blocked').length;
    busyWait(300);
    // At least the stall (less the sampling period), whatever else the machine was doing; a
    // busy machine may add lines of its own stalls, so look for this one among them.
    const line = await eventually(
      'event_loop_blocked',
      () =>
        t.logs
          .find('event_loop_blocked')
          .slice(before)
          .find((l) => (l.delay_ms as number) >= 280),
      5000,
    );
    expect(line).toMatchObject({ level: 'warn', limit_ms: LIMIT_MS });
  });

  it('while the loop lags: API 503 service_unavailable with Retry-After, liveness 200, readiness 503 with the reason; then back to normal', async () => {
    // A stall from the test before may still weigh on the current sample: start from calm.
    await eventually('no pressure', () => (t.app.isUnderPressure() ? undefined : true), 5000);
    expect((await t.app.inject({ url: '/api/me', headers: bearer(tenant.token) })).statusCode).toBe(200);

    const lag = lagEventLoop(150);
    let shedId = '';
    try {
      let attempt = 0;
      const shed = await until('a 503', async () => {
        const res = await t.app.inject({ url: '/api/me', headers: { ...bearer(tenant.token), 'x-request-id': `shed-${++attempt}` } });
        return res.statusCode === 503 ? res : undefined;
      });
      shedId = String(shed.headers['x-request-id']);
      expect(shed.json()).toEqual({ error: 'service_unavailable', message: expect.any(String), request_id: shedId });
      expect(shed.headers['retry-after']).toBe('10');
      // Routes that do not exist are refused the same way: no work is done under pressure.
      expect((await t.app.inject('/nowhere')).statusCode).toBe(503);

      expect((await t.app.inject('/health/live')).statusCode).toBe(200);
      expect((await t.app.inject('/metrics')).statusCode).toBe(200);
      const ready = await t.app.inject('/health/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({
        status: 'not_ready',
        checks: { pressure: expect.stringMatching(new RegExp(`^error: event loop delay \\d+ ms over the ${LIMIT_MS} ms limit$`)) },
      });
    } finally {
      lag.stop();
    }

    await until(
      'pressure gone',
      async () => ((await t.app.inject({ url: '/api/me', headers: bearer(tenant.token) })).statusCode === 200 ? true : undefined),
      10_000,
    );
    await until('ready again', async () => ((await t.app.inject('/health/ready')).statusCode === 200 ? true : undefined), 5000);
    const started = t.logs.find('overload_started').at(-1);
    expect(started).toMatchObject({ level: 'warn', reason: expect.stringMatching(/^event loop delay \d+ ms over the 50 ms limit$/) });
    const ended = await eventually('overload_ended', () => t.logs.find('overload_ended').at(-1), 5000);
    expect(ended).toMatchObject({ level: 'info' });
    expect(ended.shed_requests).toBeGreaterThanOrEqual(2);
    // Shedding is the service protecting itself, not a failure to report.
    expect(reporter.reports.filter((r) => r.status_code === 503)).toEqual([]);
    // The refusal is still logged and counted like any answer.
    expect(t.logs.find('request_completed').find((l) => l.request_id === shedId)).toMatchObject({ status_code: 503 });
  });
});

/** A service that is not Glassbox (no error handler of ours), with an error tracker and an operator route that fails. */
async function bareService(options: ObservabilityOptions, reporter: ErrorReporter): Promise<{ app: FastifyInstance; logs: LogCapture }> {
  const logs = new LogCapture();
  const app = Fastify(observabilityServerOptions(createLogger({ level: 'info', format: 'json', destination: logs })));
  await app.register(observability, { tracing: false, errors: createErrorReporting([reporter]), ...options });
  app.get('/work', async () => ({ ok: true }));
  // Operator endpoints are answered under pressure too; this one fails.
  app.get('/admin/boom', async () => {
    throw new Error('broken on purpose');
  });
  await app.ready();
  return { app, logs };
}

describe('overload protection: heap and RSS limits', () => {
  for (const { limit, reason } of [
    { limit: { maxHeapUsedBytes: 1 }, reason: /^error: heap used \d+ MB over the 1 bytes limit$/ },
    { limit: { maxRssBytes: 1 }, reason: /^error: rss \d+ MB over the 1 bytes limit$/ },
  ]) {
    it(`past ${Object.keys(limit)[0]}: 503 with Retry-After from a service without Glassbox's error handler, not reported; probes answer`, async () => {
      const reporter = new RecordingReporter();
      const { app, logs } = await bareService({ overload: { maxEventLoopDelayMs: 0, sampleIntervalMs: 50, retryAfterSeconds: 7, ...limit } }, reporter);
      try {
        const shed = await until('a 503', async () => {
          const res = await app.inject({ url: '/work', headers: { 'x-request-id': 'bare-503' } });
          return res.statusCode === 503 ? res : undefined;
        });
        expect(shed.json()).toEqual({ error: 'service_unavailable', message: 'The service is overloaded; retry later', request_id: 'bare-503' });
        expect(shed.headers['retry-after']).toBe('7');
        expect(shed.headers['x-request-id']).toBe('bare-503');

        expect((await app.inject('/health/live')).statusCode).toBe(200);
        expect((await app.inject('/metrics')).statusCode).toBe(200);
        const ready = await app.inject('/health/ready');
        expect(ready.statusCode).toBe(503);
        expect(ready.json().checks.pressure).toMatch(reason);
        const started = await eventually('overload_started', () => logs.find('overload_started')[0]);
        expect(started).toMatchObject({ level: 'warn', reason: expect.stringMatching(reason.source.replace('^error: ', '^')) });

        // The tracker listens (the 500 that is a failure is reported); the 503s are not.
        expect((await app.inject('/admin/boom')).statusCode).toBe(500);
        expect(reporter.reports.map((r) => [r.route, r.status_code])).toEqual([['/admin/boom', 500]]);
      } finally {
        await app.close();
      }
    });
  }

  it('with no limit set registers nothing: no pressure check in readiness, nothing shed', async () => {
    for (const overload of [false, { maxEventLoopDelayMs: 0 }] as const) {
      const { app } = await bareService({ overload, readiness: [{ name: 'upstream', check: async () => {} }] }, new RecordingReporter());
      try {
        expect(app.hasDecorator('isUnderPressure')).toBe(false);
        expect((await app.inject('/health/ready')).json()).toEqual({ status: 'ready', checks: { upstream: 'ok' } });
        expect((await app.inject('/work')).statusCode).toBe(200);
      } finally {
        await app.close();
      }
    }
  });

  it('by default watches the event loop and reports pressure ok in readiness', async () => {
    const { app } = await bareService({}, new RecordingReporter());
    try {
      expect(app.hasDecorator('isUnderPressure')).toBe(true);
      expect((await app.inject('/health/ready')).json()).toEqual({ status: 'ready', checks: { pressure: 'ok' } });
    } finally {
      await app.close();
    }
  });

  it('does not count readings that cover startup: nothing shed until two samples after ready, then shed', async () => {
    const logs = new LogCapture();
    const app = Fastify(observabilityServerOptions(createLogger({ level: 'info', format: 'json', destination: logs })));
    await app.register(observability, { tracing: false, overload: { maxEventLoopDelayMs: LIMIT_MS, sampleIntervalMs: 1000 } });
    app.get('/work', async () => ({ ok: true }));
    // Startup work keeps the loop lagging before the app is ready (migrations, schema compilation…).
    const lag = lagEventLoop(150);
    try {
      await eventually('pressure before ready', () => (app.isUnderPressure() ? true : undefined), 10_000);
      await app.ready();
      // The reading still says pressure, but it covers startup: served, and ready.
      expect((await app.inject('/work')).statusCode).toBe(200);
      expect((await app.inject('/health/ready')).json()).toEqual({ status: 'ready', checks: { pressure: 'ok' } });
      expect(app.isUnderPressure()).toBe(true);
      // Still lagging two samples later: now it is load, and shed.
      await until('a 503 once armed', async () => ((await app.inject('/work')).statusCode === 503 ? true : undefined), 10_000);
    } finally {
      lag.stop();
      await app.close();
    }
  });
});
