// What the span export pipeline loses is counted by cause (ExportSpanProcessor.loss(),
// summed by TracingRuntime.loss()) and reported once per interval (watchTelemetryLoss).
// The counts are proved with the real OTLP exporter failing for real: a receiver that
// answers 500, a port nothing listens on, and a queue too small for a burst. The warning's
// interval logic runs on fake timers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ExportSpanProcessor, type ExportSpanProcessorOptions } from '../../src/observability/tracing/export-span-processor.ts';
import { OtlpProtobufSpanExporter } from '../../src/observability/tracing/otlp-exporter.ts';
import { startTracing } from '../../src/observability/tracing/sdk.ts';
import { watchTelemetryLoss } from '../../src/observability/tracing/telemetry-loss-watch.ts';
import { NO_TELEMETRY_LOSS, type TelemetryLoss } from '../../src/observability/tracing/telemetry-loss.ts';

const loss = (counts: Partial<TelemetryLoss>): TelemetryLoss => ({ ...NO_TELEMETRY_LOSS, ...counts });

/** An OTLP/HTTP receiver that answers every export with `status` (500: not retryable), counting the POSTs. */
async function failingReceiver(status: number): Promise<{ endpoint: string; posts: () => number; server: Server }> {
  let posts = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts += 1;
      res.writeHead(status, { 'content-type': 'text/plain' }).end('collector broke');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts: () => posts, server };
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The OTLP exporters read their endpoint and timeout from the environment when they are made. */
function withEnv<T>(vars: Record<string, string>, make: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return make();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const receivers: Server[] = [];
const processors: ExportSpanProcessor[] = [];
afterAll(async () => {
  await Promise.all(processors.map((p) => p.shutdown()));
  for (const server of receivers) server.closeAllConnections();
  await Promise.all(receivers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A real OTLP http/protobuf exporter to `endpoint` behind an ExportSpanProcessor, and a tracer feeding it. */
function pipeline(endpoint: string, options: Omit<ExportSpanProcessorOptions, 'exporter'> = {}) {
  const exporter = withEnv(
    { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces`, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '1000' },
    () => new OtlpProtobufSpanExporter('http/protobuf'),
  );
  const processor = new ExportSpanProcessor({ exporter, scheduledDelayMillis: 60_000, ...options });
  processors.push(processor);
  const tracer = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'loss-test' }), spanProcessors: [processor] }).getTracer('loss');
  const end = (count: number) => {
    for (let i = 0; i < count; i++) tracer.startSpan(`span-${i}`).end();
  };
  return { processor, end };
}

describe('ExportSpanProcessor.loss() with a real OTLP exporter', () => {
  it('counts a batch the collector refuses (HTTP 500) as one failed export with its spans, and each further one', async () => {
    const receiver = await failingReceiver(500);
    receivers.push(receiver.server);
    const { processor, end } = pipeline(receiver.endpoint, { maxExportBatchSize: 3 });
    end(3);
    await processor.forceFlush();
    expect(receiver.posts()).toBe(1);
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 3, exportsFailed: 1 }));
    end(5); // a full batch of 3, then 2 at the flush
    await processor.forceFlush();
    expect(receiver.posts()).toBe(3);
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 8, exportsFailed: 3 }));
  });

  it('counts the batch sent to a port nothing listens on as a failed export', async () => {
    const { processor, end } = pipeline(`http://127.0.0.1:${await closedPort()}`, { exportTimeoutMillis: 3_000 });
    end(4);
    await processor.forceFlush();
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 4, exportsFailed: 1 }));
  });

  it('counts the spans past a tiny maxQueueSize as dropped at a full queue, apart from the failed exports', async () => {
    const receiver = await failingReceiver(500);
    receivers.push(receiver.server);
    const { processor, end } = pipeline(receiver.endpoint, { maxQueueSize: 2 });
    end(7); // one turn: 2 fit, 5 find the queue full
    expect(processor.loss()).toEqual(loss({ spansDroppedQueueFull: 5 }));
    await processor.forceFlush();
    expect(processor.loss()).toEqual({ spansDroppedQueueFull: 5, spansDroppedExportFailed: 2, exportsFailed: 1 });
  });
});

describe('TracingRuntime.loss()', () => {
  it('is NO_TELEMETRY_LOSS when tracing is disabled', () => {
    const runtime = startTracing({ serviceVersion: 'test', env: { OTEL_SDK_DISABLED: 'true' } });
    expect(runtime.enabled).toBe(false);
    expect(runtime.loss()).toEqual(NO_TELEMETRY_LOSS);
  });

  it('sums the losses of every export processor (two OTLP exporters to a refusing collector)', async () => {
    const receiver = await failingReceiver(500);
    receivers.push(receiver.server);
    const runtime = withEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces` }, () =>
      startTracing({
        serviceVersion: 'test',
        env: { OTEL_TRACES_EXPORTER: 'otlp,otlp', OTEL_BSP_MAX_QUEUE_SIZE: '3', OTEL_BSP_SCHEDULE_DELAY: '60000' },
      }),
    );
    try {
      expect(runtime.exporters).toEqual(['otlp/http-protobuf', 'otlp/http-protobuf']);
      const tracer = trace.getTracer('loss-runtime');
      for (let i = 0; i < 5; i++) tracer.startSpan(`runtime-${i}`).end(); // each processor: 3 queued, 2 dropped
      await runtime.forceFlush();
      expect(receiver.posts()).toBe(2);
      expect(runtime.loss()).toEqual({ spansDroppedQueueFull: 4, spansDroppedExportFailed: 6, exportsFailed: 2 });
    } finally {
      await runtime.shutdown();
    }
  });
});

describe('watchTelemetryLoss', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function watched(intervalMs?: number) {
    const counts = { ...NO_TELEMETRY_LOSS };
    const warnings: { obj: object; msg: string }[] = [];
    const stop = watchTelemetryLoss({
      loss: () => ({ ...counts }),
      log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
      ...(intervalMs === undefined ? {} : { intervalMs }),
    });
    return { counts, warnings, stop };
  }

  it('every minute by default, logs one warning with what was lost in that minute, and nothing for a minute without loss', () => {
    vi.useFakeTimers();
    const { counts, warnings, stop } = watched();
    vi.advanceTimersByTime(60_000);
    expect(warnings).toEqual([]);

    counts.spansDroppedQueueFull += 7;
    counts.spansDroppedExportFailed += 512;
    counts.exportsFailed += 1;
    vi.advanceTimersByTime(59_999);
    expect(warnings).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(warnings).toEqual([
      { msg: 'telemetry_spans_dropped', obj: { spans_dropped_queue_full: 7, spans_dropped_export_failed: 512, exports_failed: 1, interval_ms: 60_000 } },
    ]);

    // The next report has only what is new since this one; a quiet interval logs nothing.
    counts.exportsFailed += 2;
    counts.spansDroppedExportFailed += 10;
    vi.advanceTimersByTime(60_000);
    vi.advanceTimersByTime(60_000);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]!.obj).toEqual({ spans_dropped_queue_full: 0, spans_dropped_export_failed: 10, exports_failed: 2, interval_ms: 60_000 });
    stop();
  });

  it('reports from what was counted when it started, at its own interval, and never again once stopped', () => {
    vi.useFakeTimers();
    const counts = { spansDroppedQueueFull: 3, spansDroppedExportFailed: 0, exportsFailed: 0 };
    const warnings: object[] = [];
    const stop = watchTelemetryLoss({ loss: () => ({ ...counts }), log: { warn: (obj) => warnings.push(obj) }, intervalMs: 5_000 });
    vi.advanceTimersByTime(5_000);
    expect(warnings).toEqual([]);
    counts.spansDroppedQueueFull += 1;
    vi.advanceTimersByTime(5_000);
    expect(warnings).toEqual([{ spans_dropped_queue_full: 1, spans_dropped_export_failed: 0, exports_failed: 0, interval_ms: 5_000 }]);
    stop();
    counts.spansDroppedQueueFull += 1;
    vi.advanceTimersByTime(60_000);
    expect(warnings).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not keep the process alive (its timer is unref-ed)', () => {
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
    try {
      const { stop } = watched(1_000);
      const timer = setIntervalSpy.mock.results[0]!.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      stop();
    } finally {
      setIntervalSpy.mockRestore();
    }
  });
});
