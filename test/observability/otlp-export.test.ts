// The server as `npm start` runs it (a child process with `--import ./src/observability/instrument.ts`),
// exporting over OTLP to receivers run by this test: one over HTTP/protobuf (node:http) and
// one over gRPC (@grpc/grpc-js). Every payload is decoded with the official
// opentelemetry-proto definitions (the protobufjs code generated into
// @opentelemetry/otlp-transformer, installed as `otlp-proto-definitions`), so what is
// checked is what a real collector would receive. Also: SIGTERM delivers the last batch,
// no exporter configured is quiet, OTEL_SDK_DISABLED and the samplers are obeyed.
//
// Each configuration is one child process; the tests run concurrently because each child
// with the embedded database takes several seconds to start.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { backend, TEST_JWT_SECRET } from '../helpers/test-app.ts';
import { decodeTraceRequest } from '../helpers/otlp-proto.ts';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OtlpProtobufSpanExporter } from '../../src/observability/tracing/otlp-exporter.ts';

// ---------------------------------------------------------------------------------------
// Decoding OTLP with the official definitions

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface DecodedRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number; attributes?: KeyValue[] }[];
    }[];
  }[];
}
type Attrs = Record<string, string | number | boolean | unknown[] | undefined>;

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Attrs;
  resource: Attrs;
  scope: string;
}

function value(v: AnyValue | undefined): Attrs[string] {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

const attrs = (list: KeyValue[] | undefined): Attrs => Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
const hex = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('hex');

/** One ExportTraceServiceRequest, flattened to spans with their resource's attributes. */
function decodeSpans(payload: Buffer): ExportedSpan[] {
  const message = decodeTraceRequest<DecodedRequest>(payload);
  return (message.resourceSpans ?? []).flatMap((rs) => {
    const resource = attrs(rs.resource?.attributes);
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: hex(s.traceId),
        spanId: hex(s.spanId),
        parentSpanId: hex(s.parentSpanId),
        name: s.name,
        kind: s.kind ?? 0,
        attributes: attrs(s.attributes),
        resource,
        scope: ss.scope?.name ?? '',
      })),
    );
  });
}

// ---------------------------------------------------------------------------------------
// OTLP receivers

interface Receiver {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT should say. */
  endpoint: string;
  /** Every payload received, raw. */
  payloads: Buffer[];
  /** Requests that were not a proper OTLP trace export. */
  problems: string[];
  spans(): ExportedSpan[];
  trace(traceId: string): ExportedSpan[];
  /** Polls until `predicate` holds on the spans received so far. */
  waitFor(what: string, predicate: (spans: ExportedSpan[]) => boolean, timeoutMs?: number): Promise<ExportedSpan[]>;
  close(): Promise<void>;
}

function receiver(payloads: Buffer[], problems: string[], endpoint: string, close: () => Promise<void>): Receiver {
  const spans = () => payloads.flatMap(decodeSpans);
  return {
    endpoint,
    payloads,
    problems,
    spans,
    trace: (traceId) => spans().filter((s) => s.traceId === traceId),
    async waitFor(what, predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = spans();
        if (predicate(all)) return all;
        if (Date.now() > deadline) {
          throw new Error(
            `receiver at ${endpoint}: no ${what} within ${timeoutMs} ms; got ${all.map((s) => `${s.traceId}/${s.name}`).join(', ') || 'no spans'}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close,
  };
}

/** OTLP/HTTP with protobuf: POST /v1/traces, application/x-protobuf, 200 with an empty ExportTraceServiceResponse. */
async function startHttpReceiver(): Promise<Receiver> {
  const payloads: Buffer[] = [];
  const problems: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        problems.push(`${req.method} ${req.url} (${req.headers['content-type']})`);
        res.writeHead(404).end();
        return;
      }
      payloads.push(Buffer.concat(chunks));
      // An empty ExportTraceServiceResponse encodes to 0 bytes.
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return receiver(payloads, problems, `http://127.0.0.1:${port}`, async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

/** OTLP/gRPC: the TraceService/Export unary method, payloads kept as raw bytes. */
async function startGrpcReceiver(): Promise<Receiver> {
  const payloads: Buffer[] = [];
  const server = new Server();
  const service: ServiceDefinition = {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
    },
  };
  server.addService(service, {
    Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      payloads.push(call.request);
      callback(null, Buffer.alloc(0));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  return receiver(payloads, [], `http://127.0.0.1:${port}`, async () => server.forceShutdown());
}

// ---------------------------------------------------------------------------------------
// The child process and requests

const tmp = mkdtempSync(join(tmpdir(), 'glassbox-tracing-'));
const children: ChildServer[] = [];
const receivers: Receiver[] = [];

// On the embedded backend every child would create its database from scratch (initdb in
// WebAssembly, the bulk of a start's CPU time). They start from a copy of one made here.
let template: string | undefined;
beforeAll(async () => {
  if (process.env.DATABASE_URL) return;
  const dir = join(tmp, 'template');
  mkdirSync(join(dir, 'pgdata'), { recursive: true });
  const db = await PGlite.create(join(dir, 'pgdata'));
  await db.close();
  template = dir;
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await Promise.all(receivers.map((r) => r.close()));
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts the server as npm start does, with the backend of this run and `env`. */
async function startServer(name: string, env: Record<string, string>): Promise<ChildServer> {
  const dataDir = mkdtempSync(join(tmp, `${name}-`));
  if (template) cpSync(template, dataDir, { recursive: true });
  const server = await startChildServer({
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    APP_ENV: 'test',
    LOG_LEVEL: 'info',
    // The quiet-server test counts every warning: a signup slowed past 1 s by a busy test
    // machine (slow_request) or a shed request is not what it is about.
    SLOW_REQUEST_MS: '0',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env,
  });
  children.push(server);
  await server.waitForLine('application_started', 90_000);
  return server;
}

async function startReceiver(kind: 'http' | 'grpc'): Promise<Receiver> {
  const r = kind === 'grpc' ? await startGrpcReceiver() : await startHttpReceiver();
  receivers.push(r);
  return r;
}

/** A fresh W3C trace context: ids as hex, and the traceparent header with the given flags. */
function traceContext(flags: '01' | '00' = '01') {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-${flags}` };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies of several shapes
type Json = Record<string, any>;

async function call(server: ChildServer, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
}

let slugs = 0;
function signupBody(prefix: string) {
  const slug = `${prefix}-${Date.now().toString(36)}-${(slugs++).toString(36)}`;
  return { name: 'OTLP', slug, email: `o@${slug}.test`, password: 'long enough password' };
}

/** The log lines of one request (by its x-request-id), once its request_completed line is out (it follows the response). */
async function requestLines(server: ChildServer, requestId: string | null) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = server.lines().filter((l) => l.request_id === requestId);
    if (lines.some((l) => l.message === 'request_completed')) return lines;
    if (Date.now() > deadline) throw new Error(`no request_completed line for request ${requestId}:\n${server.stdout.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const SERVER = 2; // Span.SpanKind.SPAN_KIND_SERVER
const CLIENT = 3;

/** Whether `span` descends from the span `ancestorId`, following parent links through `spans`. */
function descendsFrom(spans: ExportedSpan[], span: ExportedSpan, ancestorId: string): boolean {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (let parent = span.parentSpanId; parent; parent = byId.get(parent)?.parentSpanId ?? '') if (parent === ancestorId) return true;
  return false;
}

/** Exits on SIGTERM; returns the exit code with the output for the failure message. */
async function stop(server: ChildServer) {
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  return { code: exit.code, output: [...server.stdout, ...server.stderr].join('\n') };
}

// ---------------------------------------------------------------------------------------

describe('OtlpProtobufSpanExporter.export (span objects, as any SpanExporter caller hands them)', () => {
  it('encodes and sends them over http/protobuf to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', async ({ expect }) => {
    const receiver = await startHttpReceiver();
    const memory = new InMemorySpanExporter();
    const tracer = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'plain-export-test' }),
      spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
    }).getTracer('plain');
    tracer.startSpan('first', { attributes: { n: 1 } }).end();
    tracer.startSpan('second').end();
    // The transport reads the endpoint from the environment when it is made.
    const saved = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${receiver.endpoint}/v1/traces`;
    const exporter = new OtlpProtobufSpanExporter('http/protobuf');
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = saved;
    try {
      const result = await new Promise<ExportResult>((resolve) => exporter.export(memory.getFinishedSpans(), resolve));
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      const spans = receiver.spans();
      expect(spans.map((s) => s.name)).toEqual(['first', 'second']);
      expect(spans[0]!.attributes).toEqual({ n: 1 });
      expect(spans[0]!.resource['service.name']).toBe('plain-export-test');
      expect(receiver.problems).toEqual([]);
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
  });
});

describe.concurrent(`OTLP export from the server process (${backend})`, () => {
  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    it(`exports a request's spans over ${protocol} with the right resource, and SIGTERM delivers the last batch`, { timeout: 120_000 }, async ({ expect }) => {
      const receiver = await startReceiver(protocol === 'grpc' ? 'grpc' : 'http');
      const server = await startServer(protocol.replace('/', '-'), {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_SERVICE_NAME: 'glassbox-otlp-test',
        OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      });
      expect(server.lines().find((l) => l.message === 'application_started')?.trace_exporters).toEqual([
        protocol === 'grpc' ? 'otlp/grpc' : 'otlp/http-protobuf',
      ]);

      // A signup, continuing the caller's trace.
      const signupTrace = traceContext('01');
      const signup = await call(server, 'POST', '/api/tenants', { body: signupBody('otlp'), headers: { traceparent: signupTrace.traceparent } });
      expect(signup.status).toBe(201);
      expect(signup.headers.get('traceresponse')).toMatch(new RegExp(`^00-${signupTrace.traceId}-[0-9a-f]{16}-01$`));

      const isServerSpan = (s: ExportedSpan) => s.traceId === signupTrace.traceId && s.kind === SERVER;
      await receiver.waitFor(
        'server span of the signup with its SQL spans',
        (spans) => spans.some(isServerSpan) && spans.some((s) => s.traceId === signupTrace.traceId && s.attributes['db.system.name'] === 'postgresql'),
      );
      const spans = receiver.trace(signupTrace.traceId);
      const serverSpans = spans.filter((s) => s.kind === SERVER);
      expect(serverSpans).toHaveLength(1);
      const serverSpan = serverSpans[0]!;
      expect(serverSpan).toMatchObject({ name: 'POST /api/tenants', parentSpanId: signupTrace.parentId });
      expect(signup.headers.get('traceresponse')).toBe(`00-${signupTrace.traceId}-${serverSpan.spanId}-01`);
      expect(serverSpan.attributes).toMatchObject({
        'http.route': '/api/tenants',
        'http.request.method': 'POST',
        'http.response.status_code': 201,
        'url.path': '/api/tenants',
        'request.id': signup.headers.get('x-request-id'),
      });
      expect(serverSpan.resource).toMatchObject({
        'service.name': 'glassbox-otlp-test',
        'service.version': packageJson.version,
        'deployment.environment': 'test',
      });

      // SQL child spans in the same trace, each a descendant of the server span.
      const sql = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql');
      expect(sql.length).toBeGreaterThan(0);
      for (const s of sql) {
        expect(s.kind).toBe(CLIENT);
        expect(typeof s.attributes['db.query.text']).toBe('string');
        expect(s.attributes['db.query.text']).not.toBe('');
        expect(descendsFrom(spans, s, serverSpan.spanId), `${s.name} is not under the server span`).toBe(true);
        expect(s.resource['service.name']).toBe('glassbox-otlp-test');
      }
      expect(sql.some((s) => String(s.attributes['db.query.text']).startsWith('INSERT'))).toBe(true);

      // With Redis, a Redis command made in the request (the login throttle counts a failure)
      // is a child span: ioredis is instrumented through instrument.ts's ESM hook.
      if (process.env.REDIS_URL) {
        const loginTrace = traceContext('01');
        const login = await call(server, 'POST', '/api/auth/login', {
          body: { tenant: signup.body.tenant.slug, email: signup.body.user.email, password: 'the wrong password' },
          headers: { traceparent: loginTrace.traceparent },
        });
        expect(login.status).toBe(401);
        const isRedis = (s: ExportedSpan) => s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis';
        // The server span ends after the answer, so it can come in a later batch than the Redis span.
        await receiver.waitFor(
          'redis and server spans of the failed login',
          (all) => all.some((s) => s.traceId === loginTrace.traceId && isRedis(s)) && all.some((s) => s.traceId === loginTrace.traceId && s.kind === SERVER),
        );
        const loginSpans = receiver.trace(loginTrace.traceId);
        const loginServer = loginSpans.find((s) => s.kind === SERVER);
        expect(loginServer).toMatchObject({ name: 'POST /api/auth/login', parentSpanId: loginTrace.parentId });
        for (const s of loginSpans.filter(isRedis)) {
          expect(s.kind).toBe(CLIENT);
          expect(descendsFrom(loginSpans, s, loginServer!.spanId), `${s.name} is not under the server span`).toBe(true);
        }
      }

      // An unsampled caller (flag 00) under parentbased_always_on: nothing is exported.
      const unsampled = traceContext('00');
      const me = await call(server, 'GET', '/api/me', { headers: { authorization: `Bearer ${signup.body.access_token}`, traceparent: unsampled.traceparent } });
      expect(me.status).toBe(200);
      expect(me.headers.get('traceresponse')).toMatch(new RegExp(`^00-${unsampled.traceId}-[0-9a-f]{16}-00$`));

      // SIGTERM right after a request: its spans still arrive, delivered by the flush at
      // shutdown. The request follows an export just made, so it falls early in the 1 s
      // period of the export timer; should the timer still beat SIGTERM (a loaded machine),
      // the request is made again, since a span the timer exported proves nothing about the flush.
      const auth = { authorization: `Bearer ${signup.body.access_token}` };
      let lastTrace: ReturnType<typeof traceContext>;
      for (let attempt = 1; ; attempt++) {
        const tick = traceContext('01');
        expect((await call(server, 'GET', '/api/me', { headers: { ...auth, traceparent: tick.traceparent } })).status).toBe(200);
        await receiver.waitFor('the spans of a request (an export tick)', (all) => all.some((s) => s.traceId === tick.traceId && s.kind === SERVER));
        lastTrace = traceContext('01');
        expect((await call(server, 'GET', '/api/me', { headers: { ...auth, traceparent: lastTrace.traceparent } })).status).toBe(200);
        if (receiver.trace(lastTrace.traceId).length === 0) break;
        if (attempt === 5) throw new Error('the export timer always exported the request before SIGTERM could be sent');
      }
      const { code, output } = await stop(server);
      expect(code, output).toBe(0);
      const lastSpans = receiver.trace(lastTrace.traceId);
      const lastServer = lastSpans.find((s) => s.kind === SERVER);
      expect(lastServer).toMatchObject({ name: 'GET /api/me', parentSpanId: lastTrace.parentId });
      expect(lastServer?.attributes).toMatchObject({
        'http.route': '/api/me',
        'http.response.status_code': 200,
        'tenant.id': signup.body.tenant.id,
        'user.id': signup.body.user.id,
      });
      expect(lastSpans.some((s) => s.attributes['db.system.name'] === 'postgresql')).toBe(true);

      // The unsampled request exported nothing, even at the final flush.
      expect(receiver.trace(unsampled.traceId)).toEqual([]);
      expect(receiver.problems).toEqual([]);
      // No export errors were logged along the way.
      expect(output).not.toMatch(/ECONNREFUSED|OTLPExporterError|export(ing)? failed/i);
    });
  }

  it('with no OTEL exporter variables: no export attempts or errors logged, log lines still carry trace ids', { timeout: 120_000 }, async ({ expect }) => {
    const server = await startServer('quiet', {});
    expect(server.lines().find((l) => l.message === 'application_started')).toMatchObject({ tracing: 'enabled', trace_exporters: [] });
    const ctx = traceContext('01');
    const signup = await call(server, 'POST', '/api/tenants', { body: signupBody('quiet'), headers: { traceparent: ctx.traceparent } });
    expect(signup.status).toBe(201);
    const traceresponse = signup.headers.get('traceresponse') ?? '';
    expect(traceresponse).toMatch(new RegExp(`^00-${ctx.traceId}-[0-9a-f]{16}-01$`));
    const spanId = traceresponse.split('-')[2];

    const lines = await requestLines(server, signup.headers.get('x-request-id'));
    const completed = lines.find((l) => l.message === 'request_completed');
    expect(completed).toMatchObject({ trace_id: ctx.traceId, span_id: spanId });
    for (const line of lines) expect(line.trace_id, JSON.stringify(line)).toBe(ctx.traceId);

    // Longer than the export timer's period: an exporter, had there been one, would have tried.
    await new Promise((r) => setTimeout(r, 1500));
    const { code, output } = await stop(server);
    expect(code, output).toBe(0);
    // (application_started says `trace_exporters: []`, checked above.)
    const exportTalk = [...server.stdout.filter((l) => !l.includes('"application_started"')), ...server.stderr].filter((l) =>
      /ECONNREFUSED|otlp|export|:4317\b|:4318\b/i.test(l),
    ); // ports with their colon: a random UUID may hold "4317"
    expect(exportTalk, output).toEqual([]);
    expect(server.stderr).toEqual([]);
    // On a shared PostgreSQL this child's job worker also sweeps the orders other test files
    // left pending, and a declined card there is a warning about their tenant, not this one.
    const ownTenant = signup.body.tenant.id;
    const noisy = server
      .lines()
      .filter((l) => ['warn', 'error', 'fatal', 'critical'].includes(String(l.level)))
      .filter((l) => l.tenant_id === undefined || l.tenant_id === ownTenant);
    expect(noisy).toEqual([]);
  });

  it('with OTEL_SDK_DISABLED=true: no traceresponse, no trace ids in logs, nothing exported', { timeout: 120_000 }, async ({ expect }) => {
    const receiver = await startReceiver('http');
    const server = await startServer('disabled', {
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SERVICE_NAME: 'glassbox-otlp-test',
    });
    expect(server.lines().find((l) => l.message === 'application_started')).toMatchObject({ tracing: 'disabled', trace_exporters: [] });
    const ctx = traceContext('01');
    const signup = await call(server, 'POST', '/api/tenants', { body: signupBody('off'), headers: { traceparent: ctx.traceparent } });
    expect(signup.status).toBe(201);
    expect(signup.headers.get('traceresponse')).toBeNull();
    const me = await call(server, 'GET', '/api/me', { headers: { authorization: `Bearer ${signup.body.access_token}` } });
    expect(me.status).toBe(200);
    expect(me.headers.get('traceresponse')).toBeNull();

    await requestLines(server, me.headers.get('x-request-id'));
    const withIds = server.lines().filter((l) => 'trace_id' in l || 'span_id' in l);
    expect(withIds).toEqual([]);

    const { code, output } = await stop(server);
    expect(code, output).toBe(0);
    expect(receiver.payloads).toHaveLength(0);
    expect(receiver.problems).toEqual([]);
  });

  it('with OTEL_TRACES_SAMPLER=traceidratio and ratio 0: nothing is exported, even for a sampled caller', { timeout: 120_000 }, async ({ expect }) => {
    const receiver = await startReceiver('http');
    const server = await startServer('ratio0', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0',
    });
    const signup = await call(server, 'POST', '/api/tenants', { body: signupBody('ratio') });
    expect(signup.status).toBe(201);
    expect(signup.headers.get('traceresponse')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    // traceidratio is not parent-based: a sampled caller's flag does not change the decision.
    const ctx = traceContext('01');
    const me = await call(server, 'GET', '/api/me', { headers: { authorization: `Bearer ${signup.body.access_token}`, traceparent: ctx.traceparent } });
    expect(me.status).toBe(200);
    expect(me.headers.get('traceresponse')).toMatch(new RegExp(`^00-${ctx.traceId}-[0-9a-f]{16}-00$`));
    await new Promise((r) => setTimeout(r, 1200)); // one export tick

    const { code, output } = await stop(server);
    expect(code, output).toBe(0);
    expect(receiver.spans()).toEqual([]);
    expect(receiver.problems).toEqual([]);
  });
});
