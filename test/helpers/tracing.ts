// Tracing for in-process tests: the same startTracing() as src/instrument.ts, with an
// in-memory exporter added, so a test reads back every span the app made. Vitest runs
// each test file in its own process, so each file gets its own SDK.
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { startTracing, type TracingRuntime } from '../../src/observability/tracing/sdk.ts';

export interface TestTracing {
  exporter: InMemorySpanExporter;
  runtime: TracingRuntime;
  spans(): ReadableSpan[];
  /** Spans of one trace, by trace id. */
  trace(traceId: string): ReadableSpan[];
  reset(): void;
}

let active: TestTracing | undefined;

export function startTestTracing(env: Record<string, string> = {}): TestTracing {
  if (active) return active;
  const exporter = new InMemorySpanExporter();
  const runtime = startTracing({ serviceVersion: 'test', env: { ...env }, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  active = {
    exporter,
    runtime,
    spans: () => exporter.getFinishedSpans(),
    trace: (traceId) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId),
    reset: () => exporter.reset(),
  };
  return active;
}

/** The trace id of a response's `traceresponse` header. */
export function traceIdOf(headers: Record<string, unknown>): string {
  const value = String(headers.traceresponse ?? '');
  const [, traceId] = value.split('-');
  if (!traceId) throw new Error(`no traceresponse header: ${value}`);
  return traceId;
}
