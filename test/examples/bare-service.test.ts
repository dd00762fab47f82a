// The observability layer lifted out: examples/bare-service (a Fastify app with no database
// that imports nothing of Glassbox but src/observability/) started as its README says, with
// the --import entry, in a child process. Its logs carry trace ids, its server spans reach
// a local OTLP/HTTP receiver, its /metrics passes promtool with its own route templates,
// and its probes answer.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { findPromtool, promtoolCheckMetrics, PROMTOOL_MISSING, runsWith } from '../helpers/metrics.ts';
import { eventually, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.ts';

const SERVICE_DIR = join(ROOT, 'examples', 'bare-service');

describe('examples/bare-service adopts the observability layer', () => {
  let receiver: OtlpReceiver;
  let server: ChildServer;
  let child: ChildProcess;
  let url: string;
  const lines = () => server.lines();

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    // The example's own start command (its package.json), run from its folder.
    const start = (await import(join(SERVICE_DIR, 'package.json'), { with: { type: 'json' } })) as { default: { scripts: { start: string } } };
    server = await startChildServer(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' },
      { args: start.default.scripts.start.split(/\s+/).slice(1), cwd: SERVICE_DIR },
    );
    child = server.child;
    url = server.url;
    await server.waitForLine('server_listening', 20_000);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await receiver?.close();
  });

  it('logs JSON lines that carry the trace_id and span_id of the request', async () => {
    const res = await fetch(`${url}/hello/ada`, { headers: { 'x-request-id': 'bare-req-1' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ greeting: 'Hello, ada!' });
    expect(res.headers.get('x-request-id')).toBe('bare-req-1');
    const traceId = res.headers.get('traceresponse')?.split('-')[1];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const greeting = await eventually('greeting_requested', () => lines().find((l) => l.message === 'greeting_requested'));
    expect(greeting).toMatchObject({ level: 'info', request_id: 'bare-req-1', method: 'GET', path: '/hello/ada', trace_id: traceId });
    expect(greeting.span_id).toMatch(/^[0-9a-f]{16}$/);
    const completed = await eventually('request_completed', () => lines().find((l) => l.message === 'request_completed' && l.request_id === 'bare-req-1'));
    expect(completed).toMatchObject({ status_code: 200, trace_id: traceId });
    expect(typeof completed.timestamp).toBe('string');
  });

  it('exports a server span per request, with its manual child span, to the OTLP receiver', async () => {
    const res = await fetch(`${url}/hello/grace`);
    const traceId = res.headers.get('traceresponse')!.split('-')[1]!;
    const trace = await eventually('the two spans of the request', () => {
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      return spans.length >= 2 ? spans : undefined;
    });
    const server = trace.find((s) => s.name === 'GET /hello/:name');
    const child = trace.find((s) => s.name === 'compose_greeting');
    expect(server?.attributes).toMatchObject({ 'http.route': '/hello/:name', 'http.request.method': 'GET', 'url.path': '/hello/grace' });
    expect(child?.parentSpanId).toBe(server?.spanId);
    // service.name comes from the example's own package.json, not Glassbox's.
    expect(server?.serviceName).toBe('bare-service');
  });

  it('serves /metrics with its own route templates, and promtool accepts it', async () => {
    await fetch(`${url}/hello/linus`);
    await fetch(`${url}/nowhere/${Math.random()}`);
    expect((await fetch(`${url}/boom`)).status).toBe(500);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^http_requests_total\{method="GET",endpoint="\/hello\/:name",status="200"\} [1-9]/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",endpoint="unmatched",status="404"\} 1$/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",endpoint="\/boom",status="500"\} 1$/m);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{.*endpoint="\/hello\/:name".*\} /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    // None of Glassbox's own series: the service has no database and no business events.
    expect(text).not.toMatch(/^(db_query_duration_seconds|revenue_total_usd|active_database_connections)/m);
    // No raw path ever becomes a label.
    expect(text).not.toContain('/hello/linus');

    const promtool = findPromtool();
    if (runsWith(promtool, 'bare-service promtool')) {
      if (!promtool) throw new Error(PROMTOOL_MISSING);
      const check = await promtoolCheckMetrics(promtool, text);
      expect(check, `${check.stdout}${check.stderr}`).toMatchObject({ code: 0 });
    }
  });

  it('answers the probes with the checks it handed the layer', async () => {
    const live = await fetch(`${url}/health/live`);
    expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${url}/health/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', checks: { upstream: 'ok', pressure: 'ok' } }]);
    const startup = await fetch(`${url}/health/startup`);
    expect(startup.status).toBe(200);
  });

  it('stops on SIGTERM with exit 0, the last spans exported', async () => {
    const res = await fetch(`${url}/hello/last`);
    const traceId = res.headers.get('traceresponse')!.split('-')[1]!;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(receiver.spans.some((s) => s.traceId === traceId && s.name === 'GET /hello/:name')).toBe(true);
    // Through the layer's orderly stop, as Glassbox's own server does.
    expect(lines().at(-1)).toMatchObject({ message: 'application_stopped', reason: 'SIGTERM', exit_code: 0 });
  });
});
