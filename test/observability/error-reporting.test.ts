// The error hook points error tracking builds on: every 5xx answer is reported exactly
// once, with the request's ids, route template and the trace ids of its server span; a 4xx
// never is; a failed background job is reported from inside its span; a reporter that
// throws never fails the request.
import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindRequestIdentity } from '../../src/observability/logging/request-logging.ts';
import { tracer } from '../../src/observability/tracing/tracer.ts';
import type { ErrorContext, ErrorReporter } from '../../src/observability/errors/error-reporting.ts';
import { serviceUnavailable } from '../../src/platform/http/app-error.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing, traceIdOf } from '../helpers/tracing.ts';

const tracing = startTestTracing();

class RecordingReporter implements ErrorReporter {
  readonly name = 'recording';
  readonly reports: { error: unknown; context: ErrorContext }[] = [];
  report(error: unknown, context: ErrorContext): void {
    this.reports.push({ error, context });
  }
}

class ThrowingReporter implements ErrorReporter {
  readonly name = 'throwing';
  report(): void {
    throw new Error('the tracker is broken');
  }
}

describe(`error reporting hook points (${backend})`, () => {
  const recorder = new RecordingReporter();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      tracing: true,
      workers: true,
      ownDatabase: true,
      errorReporters: [new ThrowingReporter(), recorder],
      beforeReady(app) {
        app.get('/test/crash/:id', async () => {
          throw new Error('handler exploded');
        });
        app.get('/test/unavailable', async () => {
          throw serviceUnavailable('dependency_unavailable', 'The database is not answering');
        });
        app.get(
          '/test/identified-crash',
          { onRequest: async (request) => bindRequestIdentity(request, { tenant_id: 'tenant-1', user_id: 'user-1' }) },
          async () => {
            throw new Error('failed for a known tenant');
          },
        );
        app.get('/test/manual-503', async (_request, reply) => reply.code(503).send({ error: 'busy', message: 'busy', request_id: 'x' }));
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reports a thrown 500 once, with request id, route template and the server span ids', async () => {
    recorder.reports.length = 0;
    const res = await t.app.inject({ method: 'GET', url: '/test/crash/42?token=secret', headers: { 'x-request-id': 'crash-req-1' } });
    expect(res.statusCode).toBe(500);
    expect(recorder.reports).toHaveLength(1);
    const [{ error, context }] = recorder.reports as [{ error: Error; context: ErrorContext }];
    expect(error.message).toBe('handler exploded');
    expect(context).toMatchObject({ source: 'request', request_id: 'crash-req-1', method: 'GET', route: '/test/crash/:id', status_code: 500 });
    const traceId = traceIdOf(res.headers);
    expect(context.trace_id).toBe(traceId);
    const server = tracing.trace(traceId).find((s) => s.name === 'GET /test/crash/:id');
    expect(context.span_id).toBe(server?.spanContext().spanId);
    // The raw path (with its query string) never reaches a report.
    expect(JSON.stringify(context)).not.toContain('secret');
  });

  it('reports a 503 from a dependency failure, and a 503 a handler sent without throwing', async () => {
    recorder.reports.length = 0;
    expect((await t.app.inject('/test/unavailable')).statusCode).toBe(503);
    expect((await t.app.inject('/test/manual-503')).statusCode).toBe(503);
    expect(recorder.reports.map((r) => [r.context.route, r.context.status_code, (r.error as Error).name])).toEqual([
      ['/test/unavailable', 503, 'AppError'],
      ['/test/manual-503', 503, 'ServerErrorResponse'],
    ]);
  });

  it('never reports a 4xx', async () => {
    recorder.reports.length = 0;
    const answers = await Promise.all([
      t.app.inject('/nowhere'),
      t.app.inject({ method: 'POST', url: '/api/tenants', payload: { name: '' } }),
      t.app.inject('/api/me'),
      t.app.inject({ method: 'POST', url: '/api/tenants', headers: { 'content-type': 'application/json' }, payload: '{"broken' }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([404, 400, 401, 400]);
    expect(recorder.reports).toEqual([]);
  });

  it('does not report a probe whose 503 is its answer (readiness while shutting down)', async () => {
    recorder.reports.length = 0;
    t.state.shuttingDown = true;
    try {
      expect((await t.app.inject('/health/ready')).statusCode).toBe(503);
    } finally {
      t.state.shuttingDown = false;
    }
    expect(recorder.reports).toEqual([]);
  });

  it('adds the tenant and user ids once the request is identified', async () => {
    recorder.reports.length = 0;
    expect((await t.app.inject('/test/identified-crash')).statusCode).toBe(500);
    expect(recorder.reports.map((r) => r.context)).toMatchObject([{ route: '/test/identified-crash', tenant_id: 'tenant-1', user_id: 'user-1' }]);
  });

  it('reports a failed background job from inside its span, with the ids its data carries', async () => {
    recorder.reports.length = 0;
    const queue = 'order-confirmation';
    // A tenant id that is not a uuid: the worker's tenant transaction fails. Sent inside a
    // sampled span, so the job runs in a span of the same trace.
    const root = tracer.startSpan('test_enqueue');
    await context.with(trace.setSpan(context.active(), root), () =>
      t.deps.jobs.send(queue, { tenant_id: 'not-a-uuid', order_id: 'o-1', user_id: 'u-1', request_id: 'job-req-1' }),
    );
    root.end();
    const deadline = Date.now() + 15_000;
    while (recorder.reports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const report = recorder.reports[0];
    expect(report?.context).toMatchObject({ source: 'job', job: queue, request_id: 'job-req-1', tenant_id: 'not-a-uuid', user_id: 'u-1' });
    expect(report?.context.trace_id).toBe(root.spanContext().traceId);
    const jobSpan = tracing.trace(root.spanContext().traceId).find((s) => s.name === `process ${queue}`);
    expect(report?.context.span_id).toBe(jobSpan?.spanContext().spanId);
  });

  it('logs a reporter that throws once, and still answers', async () => {
    const warnings = t.logs.find('error_reporter_failed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ reporter: 'throwing' });
  });
});
