// The tracer of our own spans (the server span, SQL, `withSpan`, jobs): the SDK's Tracer and
// SpanImpl, ported, minus their per-attribute allocations.
//
// Why: @opentelemetry/core 3.1.1 checks each attribute value with `isAnyValue`, which makes
// a new WeakSet for every value, strings included, and the SDK's `Tracer.startSpan` copies
// the attributes twice (`cleanAttributes`: `Object.entries`, that check, a new object). On
// the order route that was a quarter of everything a traced server allocated, and a span
// with eight attributes took 4.8 µs to start and end where this takes 3.3 (README,
// Performance). Here strings, numbers and booleans (every attribute our code sets) are
// checked with `typeof`; any other value still goes through the SDK's own check and copy.
// A sampler that returns attributes of its own (none of the spec's does) takes the SDK's
// exact path, so its values replace the caller's before they are checked.
//
// Everything else is the SDK's behaviour: the configured sampler decides, with the same
// arguments (but the attributes as given, not a cleaned copy: no spec sampler reads them);
// span limits, status rules, times (start from Date.now(), end from the monotonic clock),
// events, links and exceptions work as in SpanImpl; the span processors get the same calls
// and a ReadableSpan with the same fields. The stock instrumentations (ioredis, undici) keep
// the SDK's tracer; both feed the same processors and resource. Not ported: the SDK's own
// self-observability metrics (otel.sdk.span.*), which are off unless a meter provider is
// given to the tracer provider, and we give none.
//
// The port is of @opentelemetry/sdk-trace and core 3.1.1 exactly (a test fails on any other
// version, test/observability/lean-tracer-versions.test.ts), in three files: this Tracer,
// the span (lean-span.ts) and the limits with the attribute-value rule (lean-span-limits.ts).
// It goes once upstream fixes both costs: the README's "Exit plan for the lean tracer".
import {
  context,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import { cleanAttributes, isTracingSuppressed, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { RandomIdGenerator, SamplingDecision, type IdGenerator, type Sampler, type SpanLimits, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { resolveLimits, type Limits } from './lean-span-limits.ts';
import { LeanSpan, type SpanOwner } from './lean-span.ts';

export interface LeanTracerOptions {
  scope: InstrumentationScope;
  resource: Resource;
  sampler: Sampler;
  /** The provider's processors, as one (ours is the redacting processor that wraps the rest). */
  spanProcessor: SpanProcessor;
  spanLimits?: SpanLimits;
  idGenerator?: IdGenerator;
}

export class LeanTracer implements Tracer, SpanOwner {
  readonly scope: InstrumentationScope;
  readonly resource: Resource;
  readonly processor: SpanProcessor;
  readonly limits: Limits;
  private readonly sampler: Sampler;
  private readonly ids: IdGenerator;

  constructor(options: LeanTracerOptions) {
    this.scope = options.scope;
    this.resource = options.resource;
    this.sampler = options.sampler;
    this.processor = options.spanProcessor;
    this.limits = resolveLimits(options.spanLimits);
    this.ids = options.idGenerator ?? new RandomIdGenerator();
  }

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    if (options.root) ctx = trace.deleteSpan(ctx);
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parentSpanContext = trace.getSpan(ctx)?.spanContext();
    const spanId = this.ids.generateSpanId();
    let traceId: string;
    let traceState = undefined as SpanContext['traceState'];
    let validParent: SpanContext | undefined;
    if (!parentSpanContext || !trace.isSpanContextValid(parentSpanContext)) traceId = this.ids.generateTraceId();
    else {
      traceId = parentSpanContext.traceId;
      traceState = parentSpanContext.traceState;
      validParent = parentSpanContext;
    }
    const kind = options.kind ?? SpanKind.INTERNAL;
    const limits = this.limits;
    const links: Link[] = (options.links ?? []).map((link) => ({
      context: link.context,
      ...cleanAttributes(link.attributes, {
        attributeCountLimit: limits.attributePerLinkCountLimit,
        attributeValueLengthLimit: limits.attributeValueLengthLimit,
      }),
    }));
    const attributes = options.attributes ?? {};
    const result = this.sampler.shouldSample(ctx, traceId, name, kind, attributes, links);
    traceState = result.traceState ?? traceState;
    const spanContext: SpanContext = {
      traceId,
      spanId,
      traceFlags: result.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState,
    };
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const span = new LeanSpan(this, name, kind, spanContext, validParent, links, options.startTime);
    const extra = result.attributes;
    if (extra && Object.keys(extra).length > 0) {
      // A sampler that adds attributes (none of the spec's do): the SDK's own two passes, so
      // its values overwrite the caller's before they are checked, exactly as there.
      const first = cleanAttributes(attributes, { attributeCountLimit: Infinity, attributeValueLengthLimit: Infinity });
      const second = cleanAttributes(Object.assign(first.attributes ?? {}, extra), limits);
      span.setCleanedStartAttributes(second.attributes ?? {}, (first.droppedAttributesCount ?? 0) + (second.droppedAttributesCount ?? 0));
    } else for (const key in attributes) if (Object.hasOwn(attributes, key)) span.addStartAttribute(key, attributes[key]);
    this.processor.onStart(span, ctx);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, ctx: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, a2: F | SpanOptions, a3?: F | Context, a4?: F): ReturnType<F> {
    const fn = (typeof a2 === 'function' ? a2 : typeof a3 === 'function' ? a3 : a4) as F;
    const options = typeof a2 === 'function' ? undefined : a2;
    const parent = typeof a3 === 'object' ? a3 : context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}
