// The small tracing API the rest of the code uses, so no module imports the SDK:
// `withSpan` for manual spans, helpers for trace context in logs, SQL comments and job data.
//
// The rule that keeps unsampled requests cheap: a child span is only created under a
// *recording* parent. An unsampled request (or OTEL_SDK_DISABLED) makes no span objects
// and switches no context; its code runs as if tracing did not exist.
import {
  INVALID_SPAN_CONTEXT,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import packageJson from '../../../package.json' with { type: 'json' };

export { SpanKind, type Attributes, type Context, type Span } from '@opentelemetry/api';

/** The instrumentation scope of our own spans. */
export const TRACER_SCOPE = { name: 'glassbox', version: packageJson.version };

/**
 * The tracer of our own spans: the API's (a no-op until an SDK registers, and when
 * OTEL_SDK_DISABLED) until the tracing setup hands it the lean one (`useTracer`).
 */
export let tracer: Tracer = trace.getTracer(TRACER_SCOPE.name, TRACER_SCOPE.version);

/** Called by the tracing setup (sdk.ts) with the tracer our spans are made by. */
export function useTracer(t: Tracer): void {
  tracer = t;
}

/** Handed to `withSpan` callbacks when nothing records: every method is a no-op. */
const NOOP_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The active span when it records, else undefined. */
export function recordingSpan(ctx: Context = context.active()): Span | undefined {
  const span = trace.getSpan(ctx);
  return span?.isRecording() ? span : undefined;
}

/**
 * Whether a span context's sampled flag is set: its span is exported, and its trace id may
 * go on an exemplar. Neither @opentelemetry/api nor core has this helper; traceFlags is a
 * bit field (W3C Trace Context), so the flag is tested, not compared with the whole byte.
 */
export function isSampled(spanContext: Pick<SpanContext, 'traceFlags'>): boolean {
  return (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/** The W3C `traceparent` (and `traceresponse`) value of a span context: version 00, the sampled flag only. */
export function traceparentOfContext(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${isSampled(sc) ? '01' : '00'}`;
}

/** True when `ctx` holds a remote span context whose sampled flag is set. */
function sampledRemote(ctx: Context): boolean {
  const sc = trace.getSpanContext(ctx);
  return !!sc && sc.isRemote === true && isSampled(sc);
}

/** Marks a span failed with the exception recorded (message and type; the stack stays in the logs). */
export function recordFailure(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException({ name: err.name, message: err.message });
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message.slice(0, 200) });
  span.setAttribute('error.type', (err as { code?: string }).code ?? err.name);
}

export interface SpanOptions {
  kind?: SpanKind;
  /** An explicit parent (jobs); defaults to the active context. */
  parent?: Context;
  /**
   * Also start a span under a sampled *remote* parent (trace context read from a job or a
   * message), not only under a recording local span.
   */
  remoteParent?: boolean;
}

/**
 * Runs `fn` inside a child span of the active one; records a thrown error and rethrows.
 * Without a recording parent it just runs `fn` (with a non-recording span).
 */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, options: SpanOptions = {}): Promise<T> {
  const parent = options.parent ?? context.active();
  if (!recordingSpan(parent) && !(options.remoteParent && sampledRemote(parent))) return fn(NOOP_SPAN);
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn, undefined, span);
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Sets attributes on the active span when it records (e.g. tenant.id once known). */
export function setActiveAttributes(attributes: Attributes): void {
  recordingSpan()?.setAttributes(attributes);
}

/** trace_id and span_id of the active recording span, for log lines. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = recordingSpan();
  if (!span) return undefined;
  const sc = span.spanContext();
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/** The W3C traceparent of a span. */
export function traceparentOf(span: Span): string {
  return traceparentOfContext(span.spanContext());
}

/** Trace context to carry in a message (job data); empty when nothing records. */
export function injectContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  if (recordingSpan(ctx)) propagation.inject(ctx, carrier);
  return carrier;
}

/** The context a carrier (headers, job data) describes, or the root context. */
export function extractContext(carrier: Record<string, unknown> | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}
