// The export's own network call is never traced. A batch is often sent from a drain that
// runs in the context of the request whose span.end() scheduled it, so an instrumented HTTP
// client would make a span of the export POST inside that request's trace (and exporting
// that span would make another). ExportSpanProcessor sends with tracing suppressed; this
// file proves it with tracing started as the app starts it (the undici instrumentation
// registered) plus an in-memory processor that sees every span made: spans end inside an
// active sampled span, their batches go out through the stock OTLP transport (node:http)
// and through an exporter that POSTs with fetch (undici, instrumented), and no span of
// either POST appears, while a fetch of the test's own in the same span does get one.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportSpanProcessor } from '../../src/observability/tracing/export-span-processor.ts';
import { startTracing, type TracingRuntime } from '../../src/observability/tracing/sdk.ts';
import { isSampled } from '../../src/observability/tracing/tracer.ts';

/** Exports span names as JSON with fetch: the transport a fetch-based exporter would use. */
class FetchSpanExporter implements SpanExporter {
  private readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    fetch(this.url, { method: 'POST', body: JSON.stringify(spans.map((s) => s.name)) }).then(
      async (res) => {
        await res.arrayBuffer();
        done({ code: res.ok ? ExportResultCode.SUCCESS : ExportResultCode.FAILED });
      },
      () => done({ code: ExportResultCode.FAILED }),
    );
  }
  async shutdown(): Promise<void> {}
}

const requests: string[] = [];
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': req.url === '/v1/traces' ? 'application/x-protobuf' : 'text/plain', 'content-length': '0' }).end();
  });
});
let port = 0;
const memory = new InMemorySpanExporter();
let runtime: TracingRuntime;

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
  // The OTLP transport reads its endpoint from the environment; this file runs in a process of its own.
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `http://127.0.0.1:${port}/v1/traces`;
  runtime = startTracing({
    serviceVersion: 'test',
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_SCHEDULE_DELAY: '60000' },
    spanProcessors: [
      new SimpleSpanProcessor({ exporter: memory }),
      new ExportSpanProcessor({
        exporter: new FetchSpanExporter(`http://127.0.0.1:${port}/fetch-export`),
        maxExportBatchSize: 2,
        scheduledDelayMillis: 60_000,
      }),
    ],
  });
});

afterAll(async () => {
  await runtime.shutdown();
  delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

/** Polls until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; requests: ${requests.join(', ')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Spans that describe an HTTP call to the receiver (the undici instrumentation's attributes). */
const spansToReceiver = () =>
  memory.getFinishedSpans().filter((s) => s.attributes['server.port'] === port || String(s.attributes['url.full'] ?? '').includes(`:${port}/`));

describe('the span export', () => {
  it('makes no span of its own POST, over the OTLP transport or fetch, when sent from inside an active sampled span', async () => {
    const tracer = trace.getTracer('untraced-export-test');
    await tracer.startActiveSpan('request', async (request) => {
      expect(isSampled(request.spanContext()), 'the active span is sampled').toBe(true);
      // A full batch of 2: each export processor sends it from the next turn, in this span's context.
      tracer.startSpan('child-1').end();
      tracer.startSpan('child-2').end();
      await until(() => requests.includes('POST /v1/traces') && requests.includes('POST /fetch-export'), 'both exports');
      // The control: a fetch of the request's own to the same receiver is traced.
      await (await fetch(`http://127.0.0.1:${port}/own-call`)).arrayBuffer();
      request.end();
    });
    await runtime.forceFlush();

    const names = memory.getFinishedSpans().map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['request', 'child-1', 'child-2']));
    const toReceiver = spansToReceiver();
    // Exactly one: the test's own GET, as the request's child; none for either export POST.
    expect(
      toReceiver.map((s) => ({ method: s.attributes['http.request.method'], url: s.attributes['url.full'] })),
      'spans of HTTP calls to the receiver',
    ).toEqual([{ method: 'GET', url: `http://127.0.0.1:${port}/own-call` }]);
    const request = memory.getFinishedSpans().find((s) => s.name === 'request')!;
    expect(toReceiver[0]!.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(runtime.loss().exportsFailed).toBe(0);
  });
});
