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
import {
  context,
  diag,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import {
  addHrTimes,
  cleanAttributes,
  cleanSimpleAttributes,
  hrTime,
  hrTimeDuration,
  isTimeInput,
  isTimeInputHrTime,
  isTracingSuppressed,
  millisToHrTime,
  type InstrumentationScope,
} from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import {
  RandomIdGenerator,
  SamplingDecision,
  type IdGenerator,
  type ReadableSpan,
  type Sampler,
  type SpanLimits,
  type SpanProcessor,
  type TimedEvent,
} from '@opentelemetry/sdk-trace';
import { ATTR_EXCEPTION_MESSAGE, ATTR_EXCEPTION_STACKTRACE, ATTR_EXCEPTION_TYPE } from '@opentelemetry/semantic-conventions';

type Limits = Required<SpanLimits>;

/** The SDK's TracerProvider defaults, overridden by what is configured. */
function resolveLimits(limits: SpanLimits = {}): Limits {
  const valueLength = limits.attributeValueLengthLimit ?? Infinity;
  if (valueLength <= 0) diag.warn(`Invalid attributeValueLengthLimit: must be positive, got ${valueLength} (ignoring)`);
  return {
    attributeCountLimit: limits.attributeCountLimit ?? 128,
    attributeValueLengthLimit: valueLength > 0 ? valueLength : Infinity,
    eventCountLimit: limits.eventCountLimit ?? 128,
    linkCountLimit: limits.linkCountLimit ?? 128,
    attributePerEventCountLimit: limits.attributePerEventCountLimit ?? 128,
    attributePerLinkCountLimit: limits.attributePerLinkCountLimit ?? 128,
  };
}

export interface LeanTracerOptions {
  scope: InstrumentationScope;
  resource: Resource;
  sampler: Sampler;
  /** The provider's processors, as one (ours is the redacting processor that wraps the rest). */
  spanProcessor: SpanProcessor;
  spanLimits?: SpanLimits;
  idGenerator?: IdGenerator;
}

export class LeanTracer implements Tracer {
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

/** A recording span: SpanImpl's fields and rules (see the file's header for what differs). */
class LeanSpan implements Span, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly attributes: Attributes = {};
  links: Link[];
  readonly events: TimedEvent[] = [];
  readonly startTime: HrTime;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  endTime: HrTime = [0, 0];
  private readonly _spanContext: SpanContext;
  private readonly _tracer: LeanTracer;
  private _ended = false;
  private _duration: HrTime = [-1, -1];
  private _attributesCount = 0;
  private _droppedAttributesCount = 0;
  private _droppedEventsCount = 0;
  private _droppedLinksCount = 0;
  private readonly _performanceStartTime: number;
  private readonly _performanceOffset: number;
  private readonly _startTimeProvided: boolean;

  constructor(
    tracer: LeanTracer,
    name: string,
    kind: SpanKind,
    spanContext: SpanContext,
    parent: SpanContext | undefined,
    links: Link[],
    startTime: TimeInput | undefined,
  ) {
    const now = Date.now();
    this._tracer = tracer;
    this._spanContext = spanContext;
    this._performanceStartTime = performance.now();
    this._performanceOffset = now - (this._performanceStartTime + performance.timeOrigin);
    this._startTimeProvided = startTime != null;
    this.name = name;
    this.kind = kind;
    this.parentSpanContext = parent;
    this.resource = tracer.resource;
    this.instrumentationScope = tracer.scope;
    this.startTime = this.time(startTime ?? now);
    const { linkCountLimit } = tracer.limits;
    if (links.length > linkCountLimit) {
      this.links = links.slice(links.length - linkCountLimit);
      this._droppedLinksCount = links.length - linkCountLimit;
    } else this.links = links;
  }

  spanContext(): SpanContext {
    return this._spanContext;
  }

  /** The attribute value to store, cut to the length limit; undefined when it is not a valid value. */
  private value(key: string, value: unknown): AttributeValue | undefined {
    const limit = this._tracer.limits.attributeValueLengthLimit;
    switch (typeof value) {
      case 'string':
        return value.length <= limit ? value : value.substring(0, limit);
      case 'number':
      case 'boolean':
        return value;
      default: {
        // Arrays, maps, byte arrays, null: the SDK's own check (it warns) and deep copy.
        const cleaned = cleanAttributes({ [key]: value } as Attributes, { attributeCountLimit: 1, attributeValueLengthLimit: limit });
        return cleaned.attributes?.[key];
      }
    }
  }

  /** Attributes the SDK's cleanAttributes has already checked (the sampler's path). */
  setCleanedStartAttributes(attributes: Attributes, dropped: number): void {
    Object.assign(this.attributes, attributes);
    this._attributesCount = Object.keys(attributes).length;
    this._droppedAttributesCount = dropped;
  }

  /** An attribute given at start: as the SDK's cleanAttributes, an invalid one counts as dropped. */
  addStartAttribute(key: string, value: unknown): void {
    // The SDK's start path loses a `__proto__` key (from JSON.parse) without counting it.
    if (value === undefined || key === '__proto__') return;
    const isNew = !Object.hasOwn(this.attributes, key);
    if (isNew && this._attributesCount >= this._tracer.limits.attributeCountLimit) {
      this._droppedAttributesCount++;
      return;
    }
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      this._droppedAttributesCount++;
      return;
    }
    const stored = this.value(key, value);
    if (stored === undefined) {
      this._droppedAttributesCount++;
      return;
    }
    (this.attributes as Record<string, AttributeValue>)[key] = stored;
    if (isNew) this._attributesCount++;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.isEnded() || value === undefined) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    const isNew = !Object.hasOwn(this.attributes, key);
    if (isNew && this._attributesCount >= this._tracer.limits.attributeCountLimit) {
      this._droppedAttributesCount++;
      if (this._droppedAttributesCount === 1) diag.warn('Dropping extra attributes.');
      return this;
    }
    const stored = this.value(key, value);
    if (stored === undefined) return this;
    (this.attributes as Record<string, AttributeValue>)[key] = stored;
    if (isNew) this._attributesCount++;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]!);
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, timeStamp?: TimeInput): this {
    if (this.isEnded()) return this;
    const { eventCountLimit, attributePerEventCountLimit, attributeValueLengthLimit } = this._tracer.limits;
    if (eventCountLimit === 0) {
      diag.warn('No events allowed.');
      this._droppedEventsCount++;
      return this;
    }
    if (this.events.length >= eventCountLimit) {
      if (this._droppedEventsCount === 0) diag.debug('Dropping extra events.');
      this.events.shift();
      this._droppedEventsCount++;
    }
    let attributes = attributesOrStartTime as Attributes | undefined;
    if (isTimeInput(attributesOrStartTime)) {
      if (!isTimeInput(timeStamp)) timeStamp = attributesOrStartTime;
      attributes = undefined;
    }
    this.events.push({
      name,
      time: this.time(timeStamp),
      ...cleanSimpleAttributes(attributes, { attributeCountLimit: attributePerEventCountLimit, attributeValueLengthLimit }),
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.isEnded()) return this;
    const { linkCountLimit, attributePerLinkCountLimit, attributeValueLengthLimit } = this._tracer.limits;
    if (linkCountLimit === 0) {
      this._droppedLinksCount++;
      return this;
    }
    if (this.links.length >= linkCountLimit) {
      if (this._droppedLinksCount === 0) diag.debug('Dropping extra links.');
      this.links.shift();
      this._droppedLinksCount++;
    }
    this.links.push({
      context: link.context,
      ...cleanAttributes(link.attributes, { attributeCountLimit: attributePerLinkCountLimit, attributeValueLengthLimit }),
    });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.isEnded() || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR) {
      if (typeof status.message === 'string') next.message = status.message;
      else if (status.message != null) diag.warn(`Dropping invalid status.message of type '${typeof status.message}', expected 'string'`);
    }
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (!this.isEnded()) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.isEnded()) {
      diag.error(`${this.name} ${this._spanContext.traceId}-${this._spanContext.spanId} - You can only call end() on a span once.`);
      return;
    }
    this.endTime = this.time(endTime);
    this._duration = hrTimeDuration(this.startTime, this.endTime);
    if (this._duration[0] < 0) {
      diag.warn('Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.', this.startTime, this.endTime);
      this.endTime = [this.startTime[0], this.startTime[1]];
      this._duration = [0, 0];
    }
    if (this._droppedEventsCount > 0) diag.warn(`Dropped ${this._droppedEventsCount} events because eventCountLimit reached`);
    if (this._droppedLinksCount > 0) diag.warn(`Dropped ${this._droppedLinksCount} links because linkCountLimit reached`);
    const processor = this._tracer.processor;
    processor.onEnding?.(this);
    this._ended = true;
    processor.onEnd(this);
  }

  isRecording(): boolean {
    return !this._ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes[ATTR_EXCEPTION_MESSAGE] = exception;
    else if (exception) {
      if (exception.code) attributes[ATTR_EXCEPTION_TYPE] = exception.code.toString();
      else if (exception.name) attributes[ATTR_EXCEPTION_TYPE] = exception.name;
      if (exception.message) attributes[ATTR_EXCEPTION_MESSAGE] = exception.message;
      if (exception.stack) attributes[ATTR_EXCEPTION_STACKTRACE] = exception.stack;
    }
    if (attributes[ATTR_EXCEPTION_TYPE] || attributes[ATTR_EXCEPTION_MESSAGE]) this.addEvent('exception', attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  get duration(): HrTime {
    return this._duration;
  }

  get ended(): boolean {
    return this._ended;
  }

  get droppedAttributesCount(): number {
    return this._droppedAttributesCount;
  }

  get droppedEventsCount(): number {
    return this._droppedEventsCount;
  }

  get droppedLinksCount(): number {
    return this._droppedLinksCount;
  }

  /** SpanImpl's _getTime: a number below performance.now() is a performance timestamp. */
  private time(input?: TimeInput): HrTime {
    if (typeof input === 'number' && input <= performance.now()) return hrTime(input + this._performanceOffset);
    if (typeof input === 'number') return millisToHrTime(input);
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (isTimeInputHrTime(input)) return input;
    if (this._startTimeProvided) return millisToHrTime(Date.now());
    return addHrTimes(this.startTime, millisToHrTime(performance.now() - this._performanceStartTime));
  }

  private isEnded(): boolean {
    if (this._ended) {
      const { traceId, spanId } = this._spanContext;
      diag.warn(
        `Cannot execute the operation on ended Span {traceId: ${traceId}, spanId: ${spanId}}`,
        new Error(`Operation attempted on ended Span {traceId: ${traceId}, spanId: ${spanId}}`),
      );
    }
    return this._ended;
  }
}
