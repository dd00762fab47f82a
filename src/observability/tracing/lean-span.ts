// The span of the lean tracer (lean-tracer.ts, which says why it exists): the SDK's SpanImpl
// ported, field for field and rule for rule (limits, status, times, events, links,
// exceptions, the processor calls at end), with attribute values checked by
// lean-span-limits.ts's `typeof` rule instead of core's per-value WeakSet.
import {
  diag,
  SpanStatusCode,
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';
import {
  addHrTimes,
  cleanAttributes,
  cleanSimpleAttributes,
  hrTime,
  hrTimeDuration,
  isTimeInput,
  isTimeInputHrTime,
  millisToHrTime,
  type InstrumentationScope,
} from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace';
import { ATTR_EXCEPTION_MESSAGE, ATTR_EXCEPTION_STACKTRACE, ATTR_EXCEPTION_TYPE } from '@opentelemetry/semantic-conventions';
import { attributeValue, type Limits } from './lean-span-limits.ts';

/** What a span reads from the tracer that made it (the SDK's span reads the same from its Tracer). */
export interface SpanOwner {
  readonly scope: InstrumentationScope;
  readonly resource: Resource;
  readonly processor: SpanProcessor;
  readonly limits: Limits;
}

/** A recording span: SpanImpl's fields and rules (see lean-tracer.ts's header for what differs). */
export class LeanSpan implements Span, ReadableSpan {
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
  private readonly _tracer: SpanOwner;
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
    tracer: SpanOwner,
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
    const stored = attributeValue(key, value, this._tracer.limits.attributeValueLengthLimit);
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
    const stored = attributeValue(key, value, this._tracer.limits.attributeValueLengthLimit);
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
