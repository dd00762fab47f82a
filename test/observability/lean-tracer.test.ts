// LeanTracer (lean-tracer.ts) claims to behave as the SDK's Tracer + SpanImpl for everything
// a ReadableSpan exposes and for every span-processor call. These tests are differential:
// each scenario runs once on a real SDK tracer (TracerProvider.getTracer) and once on a
// LeanTracer, both with the same resource, sampler, limits and a counting IdGenerator, and
// the ended spans are compared field by field (name, kind, attributes and their key order,
// links, events, status, dropped counts, ended, ids, trace flags and state, parent, scope,
// resource, times) together with the calls each tracer made to its span processor
// (onStart with a snapshot of the span and the context it was given, onEnding, onEnd).
//
// Date.now() and performance.now() are frozen, and moved by hand, while a scenario runs, so
// that every time (given or defaulted) compares exactly; one test runs on the real clock.
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type AttributeValue,
  type Attributes,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { hrTimeToMilliseconds, millisToHrTime, suppressTracing, TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TracerProvider,
  type IdGenerator,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type Span as SdkSpan,
  type SpanLimits,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LeanTracer } from '../../src/observability/tracing/lean-tracer.ts';

// ---------------------------------------------------------------------------------------
// The two tracers, a recording processor, counting ids, a frozen clock

const resource = resourceFromAttributes({ 'service.name': 'lean-tracer-test', 'service.version': '0.0.1' });
const SCOPE = { name: 'glassbox-test', version: '1.2.3' };

/** A context value, so the processor's onStart shows which context it was handed. */
const TAG = createContextKey('lean-tracer-test.tag');

const REMOTE_SAMPLED: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'),
};
const REMOTE_UNSAMPLED: SpanContext = { ...REMOTE_SAMPLED, traceFlags: TraceFlags.NONE };
const LOCAL_SAMPLED: SpanContext = { ...REMOTE_SAMPLED, isRemote: false };
const LOCAL_UNSAMPLED: SpanContext = { ...REMOTE_SAMPLED, isRemote: false, traceFlags: TraceFlags.NONE };
const LINK_A: SpanContext = { traceId: '11111111111111111111111111111111', spanId: '1111111111111111', traceFlags: TraceFlags.SAMPLED };
const LINK_B: SpanContext = { traceId: '22222222222222222222222222222222', spanId: '2222222222222222', traceFlags: TraceFlags.NONE };
const LINK_C: SpanContext = {
  traceId: '33333333333333333333333333333333',
  spanId: '3333333333333333',
  traceFlags: TraceFlags.SAMPLED,
  traceState: new TraceState('k=v'),
};

/** A tagged context, with `parent` as its span when given. */
function parentCtx(parent?: SpanContext): Context {
  const ctx = ROOT_CONTEXT.setValue(TAG, 'given');
  return parent ? trace.setSpanContext(ctx, parent) : ctx;
}

/** Ids from a counter: both tracers get the same ids as long as they ask in the same order. */
class CountingIds implements IdGenerator {
  traceIds = 0;
  spanIds = 0;
  generateTraceId(): string {
    return `${'a'.repeat(16)}${(++this.traceIds).toString(16).padStart(16, '0')}`;
  }
  generateSpanId(): string {
    return `${'b'.repeat(8)}${(++this.spanIds).toString(16).padStart(8, '0')}`;
  }
}

/** What a processor call saw: a copy, since the span goes on changing after the call. */
interface Call {
  call: 'onStart' | 'onEnding' | 'onEnd';
  name: string;
  ended: boolean;
  recording: boolean;
  attributes: Attributes;
  droppedAttributesCount: number;
  links: number;
  events: number;
  startTime: HrTime;
  endTime: HrTime;
  /** onStart only: the span of the context onStart was given, and its tag. */
  contextSpan?: SpanContext;
  contextTag?: unknown;
}

class Recorder implements SpanProcessor {
  readonly calls: Call[] = [];
  readonly spans: ReadableSpan[] = [];
  /** Runs in onEnding, after the snapshot: the SDK lets a processor still write the span there. */
  private readonly whileEnding?: (span: SdkSpan) => void;
  constructor(whileEnding?: (span: SdkSpan) => void) {
    this.whileEnding = whileEnding;
  }

  private snapshot(call: Call['call'], span: ReadableSpan & { isRecording?: () => boolean }): Call {
    return {
      call,
      name: span.name,
      ended: span.ended,
      recording: span.isRecording?.() ?? false,
      attributes: { ...span.attributes },
      droppedAttributesCount: span.droppedAttributesCount,
      links: span.links.length,
      events: span.events.length,
      startTime: [...span.startTime],
      endTime: [...span.endTime],
    };
  }
  onStart(span: SdkSpan, parentContext: Context): void {
    this.spans.push(span);
    this.calls.push({ ...this.snapshot('onStart', span), contextSpan: trace.getSpanContext(parentContext), contextTag: parentContext.getValue(TAG) });
  }
  onEnding(span: SdkSpan): void {
    this.calls.push(this.snapshot('onEnding', span));
    this.whileEnding?.(span);
  }
  onEnd(span: ReadableSpan): void {
    this.calls.push(this.snapshot('onEnd', span));
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const EPOCH = 1_750_000_000_000; // Date.now() when a scenario starts
const PERF = 20_000; // performance.now() when a scenario starts
let clock = { date: EPOCH, perf: PERF };

function freezeClock(): () => void {
  clock = { date: EPOCH, perf: PERF };
  const date = vi.spyOn(Date, 'now').mockImplementation(() => clock.date);
  const perf = vi.spyOn(performance, 'now').mockImplementation(() => clock.perf);
  return () => {
    date.mockRestore();
    perf.mockRestore();
  };
}

/** Moves the frozen clocks on; the wall clock and the monotonic clock may move differently, so a span that reads the wrong one shows. */
function tick(dateMs: number, perfMs = dateMs): void {
  clock = { date: clock.date + dateMs, perf: clock.perf + perfMs };
}

// ---------------------------------------------------------------------------------------
// Running a scenario on both tracers and comparing

interface Setup {
  sampler?: Sampler;
  spanLimits?: SpanLimits;
  whileEnding?: (span: SdkSpan) => void;
  /** Run on the real clock: times are then checked for sense, not compared. */
  realClock?: boolean;
}

/** A scenario starts spans on the tracer it is given, does things to them, and returns them. */
type Scenario = (tracer: Tracer) => Span | Span[];

function readable(span: Span): ReadableSpan {
  return span as unknown as ReadableSpan;
}

/** Everything a ReadableSpan exposes, as plain data; times only when they are deterministic. */
function view(span: Span, exactTimes: boolean) {
  const r = readable(span);
  return {
    name: r.name,
    kind: r.kind,
    spanContext: r.spanContext(),
    parentSpanContext: r.parentSpanContext,
    status: r.status,
    attributes: r.attributes,
    attributeKeys: Object.keys(r.attributes), // exporters write them in this order
    links: r.links,
    events: exactTimes ? r.events : r.events.map(({ time: _time, ...event }) => event),
    droppedAttributesCount: r.droppedAttributesCount,
    droppedEventsCount: r.droppedEventsCount,
    droppedLinksCount: r.droppedLinksCount,
    ended: r.ended,
    recording: span.isRecording(),
    // The SDK's scope object also carries `schemaUrl: undefined`; compare the fields.
    instrumentationScope: { name: r.instrumentationScope.name, version: r.instrumentationScope.version, schemaUrl: r.instrumentationScope.schemaUrl },
    ...(exactTimes ? { startTime: r.startTime, endTime: r.endTime, duration: r.duration } : {}),
  };
}

function callsView(calls: Call[], exactTimes: boolean) {
  return exactTimes ? calls : calls.map(({ startTime: _s, endTime, ...call }) => ({ ...call, endTimeSet: endTime[0] !== 0 }));
}

interface Run {
  spans: Span[];
  recorder: Recorder;
  ids: CountingIds;
}

/**
 * Runs `scenario` on the SDK's tracer and on a LeanTracer and expects the same spans and
 * the same processor calls. Returns both runs: tests add expectations on the SDK's result,
 * so that a scenario is known to exercise what it says (not just two equal no-ops).
 */
function differential(setup: Setup, scenario: Scenario): { sdk: SdkSpan[]; lean: SdkSpan[]; calls: Call[]; ids: CountingIds } {
  const sampler = setup.sampler ?? new AlwaysOnSampler();
  const run = (make: (processor: SpanProcessor, ids: IdGenerator) => Tracer): Run => {
    const recorder = new Recorder(setup.whileEnding);
    const ids = new CountingIds();
    const tracer = make(recorder, ids);
    const restore = setup.realClock ? undefined : freezeClock();
    try {
      return { spans: [scenario(tracer)].flat(), recorder, ids };
    } finally {
      restore?.();
    }
  };
  const sdk = run((processor, idGenerator) =>
    new TracerProvider({ resource, sampler, spanLimits: setup.spanLimits, idGenerator, spanProcessors: [processor] }).getTracer(SCOPE.name, SCOPE.version),
  );
  const lean = run(
    (spanProcessor, idGenerator) => new LeanTracer({ scope: SCOPE, resource, sampler, spanProcessor, spanLimits: setup.spanLimits, idGenerator }),
  );

  const exact = !setup.realClock;
  expect(lean.spans).toHaveLength(sdk.spans.length);
  sdk.spans.forEach((expected, i) => {
    const actual = lean.spans[i]!;
    expect(actual.spanContext(), `span ${i}: spanContext`).toStrictEqual(expected.spanContext());
    expect(actual.isRecording(), `span ${i}: isRecording`).toBe(expected.isRecording());
    const recorded = 'attributes' in expected;
    expect('attributes' in actual, `span ${i}: recorded`).toBe(recorded);
    if (!recorded) {
      // Both hand back the API's NonRecordingSpan.
      expect(actual.constructor, `span ${i}: non-recording span class`).toBe(expected.constructor);
      return;
    }
    expect(view(actual, exact), `span ${i}`).toStrictEqual(view(expected, exact));
    expect(readable(actual).resource, `span ${i}: resource`).toBe(resource);
    expect(readable(expected).resource).toBe(resource);
  });
  expect(callsView(lean.recorder.calls, exact), 'processor calls').toStrictEqual(callsView(sdk.recorder.calls, exact));
  // The processor is given the very object the caller holds.
  for (const { recorder, spans } of [sdk, lean]) for (const span of recorder.spans) expect(spans).toContain(span);
  expect({ traceIds: lean.ids.traceIds, spanIds: lean.ids.spanIds }, 'ids generated').toStrictEqual({ traceIds: sdk.ids.traceIds, spanIds: sdk.ids.spanIds });
  return { sdk: sdk.spans as SdkSpan[], lean: lean.spans as SdkSpan[], calls: sdk.recorder.calls, ids: sdk.ids };
}

/** The first span of the SDK's run. */
function first(result: { sdk: SdkSpan[] }): SdkSpan {
  return result.sdk[0]!;
}

// ---------------------------------------------------------------------------------------
// Attribute values

class Point {
  x = 1;
}
function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { a: 'alpha' };
  value.self = value;
  return value;
}

/** Factories: each run gets its own copy (the tracers must not share mutable input). */
const VALUES: [string, () => unknown][] = [
  ['a string', () => 'hello world'],
  ['an empty string', () => ''],
  ['an integer', () => 42],
  ['a float', () => -1.25],
  ['NaN', () => NaN],
  ['-0', () => -0],
  ['true', () => true],
  ['false', () => false],
  ['a string array', () => ['alpha', 'beta']],
  ['a number array', () => [1, 2, 3]],
  ['a mixed array', () => ['alpha', 1, true, null]],
  ['an array with undefined in it', () => [1, undefined, 3]],
  ['an empty array', () => []],
  ['a nested plain object', () => ({ a: 'alpha', b: { c: [1, 'beta'], d: null }, skipped: undefined })],
  ['an empty object', () => ({})],
  ['a null-prototype object', () => Object.assign(Object.create(null) as object, { a: 'alpha' })],
  ['a Uint8Array', () => new Uint8Array([1, 2, 3, 4, 5, 6])],
  ['a Buffer', () => Buffer.from('bytes!')],
  ['null', () => null],
  ['undefined', () => undefined],
  ['a function', () => () => 1],
  ['a Symbol', () => Symbol('s')],
  ['a BigInt', () => 10n],
  ['a Date', () => new Date(0)],
  ['a class instance', () => new Point()],
  ['a circular object', () => circular()],
  ['an array holding a function', () => [1, () => 2]],
  ['an object holding a Date', () => ({ when: new Date(0) })],
];

describe('attribute values', () => {
  // Each value at start, via setAttribute (new key and overwriting one), via setAttributes,
  // on an event and on a link; without a length limit and with a 4-character one.
  it.each(VALUES)('%s', (_label, make) => {
    for (const attributeValueLengthLimit of [undefined, 4]) {
      differential({ spanLimits: { attributeValueLengthLimit } }, (tracer) => {
        const span = tracer.startSpan('values', { attributes: { value: make(), kept: 'kept' } as Attributes }, parentCtx());
        span.setAttribute('later', make() as AttributeValue);
        span.setAttribute('kept', make() as AttributeValue);
        span.setAttributes({ many: make(), more: 'more' } as Attributes);
        span.addEvent('event', { value: make(), plain: 'plain' } as Attributes);
        span.addLink({ context: LINK_A, attributes: { value: make() } as Attributes });
        span.end();
        return span;
      });
    }
  });

  it('all kinds together at start: invalid ones dropped and counted, undefined dropped silently, inputs copied', () => {
    const result = differential({}, (tracer) => {
      const strings = ['alpha', 'beta'];
      const nested = { a: 'alpha', deeper: { list: [1, 2] }, gone: undefined };
      const attributes = {
        str: 'text',
        int: 42,
        bool: true,
        strings,
        mixed: ['alpha', 1, false, null],
        nested,
        bytes: new Uint8Array([1, 2, 3]),
        nil: null,
        undef: undefined,
        fn: () => 1,
        sym: Symbol('s'),
        big: 10n,
        date: new Date(0),
        instance: new Point(),
        circular: circular(),
        '': 'empty key',
      } as unknown as Attributes;
      const span = tracer.startSpan('start', { attributes }, parentCtx());
      // The span holds copies: changing the caller's arrays and objects afterwards changes nothing.
      strings.push('gamma');
      nested.a = 'changed';
      span.end();
      return span;
    });
    const span = first(result);
    expect(span.attributes).toStrictEqual({
      str: 'text',
      int: 42,
      bool: true,
      strings: ['alpha', 'beta'],
      mixed: ['alpha', 1, false, null],
      nested: { a: 'alpha', deeper: { list: [1, 2] } },
      bytes: new Uint8Array([1, 2, 3]),
      nil: null,
    });
    expect(span.droppedAttributesCount).toBe(7); // fn, sym, big, date, instance, circular, ''
    // onStart ran after the start attributes were set.
    expect(result.calls[0]).toMatchObject({ call: 'onStart', attributes: span.attributes, droppedAttributesCount: 7 });
  });

  it('an empty key: dropped and counted at start, ignored (not counted) by setAttribute', () => {
    const result = differential({}, (tracer) => {
      const span = tracer.startSpan('empty key', { attributes: { '': 'at start', ok: 1 } }, parentCtx());
      span.setAttribute('', 'later');
      span.setAttributes({ '': 'many' });
      span.end();
      return span;
    });
    expect(first(result).attributes).toStrictEqual({ ok: 1 });
    expect(first(result).droppedAttributesCount).toBe(1);
  });

  it('setAttribute/setAttributes overwrite; an invalid or undefined value leaves the old one; nothing changes once ended', () => {
    const result = differential({}, (tracer) => {
      const span = tracer.startSpan('overwrite', { attributes: { a: 1, b: 'b', c: 'c' } }, parentCtx());
      span.setAttribute('a', 2);
      span.setAttributes({ a: 3, d: 'new', e: undefined });
      span.setAttribute('b', (() => 1) as unknown as AttributeValue);
      span.setAttribute('c', undefined as unknown as AttributeValue);
      span.end();
      span.setAttribute('a', 'after end');
      span.setAttribute('z', 'after end');
      span.setAttributes({ y: 'after end' });
      return span;
    });
    expect(first(result).attributes).toStrictEqual({ a: 3, b: 'b', c: 'c', d: 'new' });
    expect(first(result).droppedAttributesCount).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------
// Limits

describe('attribute limits', () => {
  it('attributeCountLimit at start and afterwards: the same attributes kept, the same drops counted', () => {
    const result = differential({ spanLimits: { attributeCountLimit: 3 } }, (tracer) => {
      const attributes = { a: 1, fn: () => 1, b: 2, u: undefined, c: 3, d: 4, '': 'x', e: 5 } as unknown as Attributes;
      const span = tracer.startSpan('count limit', { attributes }, parentCtx());
      span.setAttribute('a', 'overwrite at the limit'); // existing key: allowed
      span.setAttribute('f', 6); // new key: dropped, counted
      span.setAttribute('g', (() => 1) as unknown as AttributeValue); // at the limit the limit is checked first: counted
      span.setAttribute('h', undefined as unknown as AttributeValue); // undefined: never counted
      span.setAttribute('', 1); // empty key: never counted
      span.setAttributes({ b: 'overwrite too', i: 7 });
      span.end();
      return span;
    });
    expect(first(result).attributes).toStrictEqual({ a: 'overwrite at the limit', b: 'overwrite too', c: 3 });
    // start: fn, d, '', e; then f, g, i
    expect(first(result).droppedAttributesCount).toBe(7);
  });

  it('below the limit an invalid value given to setAttribute is not counted', () => {
    const result = differential({ spanLimits: { attributeCountLimit: 3 } }, (tracer) => {
      const span = tracer.startSpan('below limit', { attributes: { a: 1 } }, parentCtx());
      span.setAttribute('fn', (() => 1) as unknown as AttributeValue);
      span.setAttribute('b', 2);
      span.end();
      return span;
    });
    expect(first(result).droppedAttributesCount).toBe(0);
  });

  it('attributeCountLimit 0 drops every attribute', () => {
    const result = differential({ spanLimits: { attributeCountLimit: 0 } }, (tracer) => {
      const span = tracer.startSpan('none', { attributes: { a: 1, b: [1], fn: (() => 1) as unknown as AttributeValue } }, parentCtx());
      span.setAttribute('c', 'x');
      span.end();
      return span;
    });
    expect(first(result).attributes).toStrictEqual({});
    expect(first(result).droppedAttributesCount).toBe(4);
  });

  // A non-positive length limit is treated as no limit by both.
  it.each([5, 0, -1])('attributeValueLengthLimit %d on strings, arrays, nested objects, bytes, events, links, exceptions', (attributeValueLengthLimit) => {
    const long = 'abcdefghij';
    const error = new RangeError(long); // one instance: its stack trace is part of the event
    const result = differential({ spanLimits: { attributeValueLengthLimit } }, (tracer) => {
      const attributes = {
        long,
        short: 'abc',
        exact: 'abcde',
        strings: [long, 'ab', null],
        nested: { x: long, y: [long, 7], z: { deeper: long } },
        bytes: new Uint8Array(10),
        num: 1234567890,
      } as Attributes;
      const span = tracer.startSpan('length limit', { attributes, links: [{ context: LINK_A, attributes: { long } }] }, parentCtx());
      span.setAttribute('later', long);
      span.setAttribute('laterList', [long, long]);
      span.setAttributes({ laterNested: { x: long } } as unknown as Attributes);
      span.addEvent('event', { long, list: [long] });
      span.addLink({ context: LINK_B, attributes: { long, nested: { x: long } } as unknown as Attributes });
      span.recordException(error);
      span.end();
      return span;
    });
    const span = first(result);
    expect(span.attributes.long).toBe(attributeValueLengthLimit > 0 ? 'abcde' : long);
    expect(span.attributes.strings).toStrictEqual(attributeValueLengthLimit > 0 ? ['abcde', 'ab', null] : [long, 'ab', null]);
    expect(span.events[0]!.attributes).toStrictEqual({
      long: attributeValueLengthLimit > 0 ? 'abcde' : long,
      list: [attributeValueLengthLimit > 0 ? 'abcde' : long],
    });
  });
});

// ---------------------------------------------------------------------------------------
// Events and exceptions

describe('events', () => {
  it('addEvent with a name, attributes, a time, or both; default times from the clock', () => {
    const result = differential({}, (tracer) => {
      const span = tracer.startSpan('events', {}, parentCtx());
      tick(3, 5);
      span.addEvent('plain');
      span.addEvent('attributes', { k: 'v', n: 1, list: [1, 2], nested: { a: 1 }, mixed: [1, 'a'], u: undefined } as unknown as Attributes);
      span.addEvent('epoch ms', EPOCH + 50);
      span.addEvent('date', new Date(EPOCH + 60));
      span.addEvent('hrtime', [1_750_000_000, 70_000_000]);
      span.addEvent('performance.now()', PERF - 1_000.5);
      span.addEvent('attributes and time', { k: 'v' }, EPOCH + 80);
      span.addEvent('time and time', EPOCH + 90, EPOCH + 100);
      tick(7, 2);
      span.addEvent('later');
      span.end();
      span.addEvent('after end');
      return span;
    });
    const span = first(result);
    expect(span.events.map((e) => e.name)).toStrictEqual([
      'plain',
      'attributes',
      'epoch ms',
      'date',
      'hrtime',
      'performance.now()',
      'attributes and time',
      'time and time',
      'later',
    ]);
    // Events take "simple" values only: the nested object and the mixed array are dropped.
    expect(span.events[1]).toMatchObject({ attributes: { k: 'v', n: 1, list: [1, 2] }, droppedAttributesCount: 2 });
    expect(span.events[2]!.time).toStrictEqual(millisToHrTime(EPOCH + 50));
    expect(span.events[7]!.time).toStrictEqual(millisToHrTime(EPOCH + 100));
  });

  it('eventCountLimit drops the oldest and counts', () => {
    const result = differential({ spanLimits: { eventCountLimit: 2 } }, (tracer) => {
      const span = tracer.startSpan('event limit', {}, parentCtx());
      for (const name of ['one', 'two', 'three', 'four']) span.addEvent(name);
      span.recordException('five');
      span.end();
      return span;
    });
    expect(first(result).events.map((e) => e.name)).toStrictEqual(['four', 'exception']);
    expect(first(result).droppedEventsCount).toBe(3);
  });

  it('eventCountLimit 0 drops every event', () => {
    const result = differential({ spanLimits: { eventCountLimit: 0 } }, (tracer) => {
      const span = tracer.startSpan('no events', {}, parentCtx());
      span.addEvent('one');
      span.addEvent('two', { a: 1 });
      span.end();
      return span;
    });
    expect(first(result).events).toStrictEqual([]);
    expect(first(result).droppedEventsCount).toBe(2);
  });

  it('attributePerEventCountLimit', () => {
    const result = differential({ spanLimits: { attributePerEventCountLimit: 1 } }, (tracer) => {
      const span = tracer.startSpan('per event', {}, parentCtx());
      span.addEvent('event', { a: 1, b: 2, c: 3 });
      span.recordException(new Error('limited'));
      span.end();
      return span;
    });
    expect(first(result).events[0]).toMatchObject({ attributes: { a: 1 }, droppedAttributesCount: 2 });
  });

  // One instance: the stack trace is part of the event.
  const ERROR = new TypeError('bad input');
  const EXCEPTIONS: [string, () => Exception, TimeInput | undefined, boolean][] = [
    ['an Error', () => ERROR, undefined, true],
    ['an Error, with a time', () => ERROR, EPOCH + 5, true],
    ['a string', () => 'went wrong', undefined, true],
    ['{ code: 42, message }', () => ({ code: 42, message: 'coded' }), undefined, true],
    ['{ code: "E_X", name }', () => ({ code: 'E_X', name: 'Named' }), undefined, true],
    ['{ name } only', () => ({ name: 'OnlyName' }), PERF - 10, true],
    ['an object with neither type nor message', () => ({ stack: 'at nowhere' }) as unknown as Exception, undefined, false],
    ['an empty string', () => '', undefined, false],
  ];
  it.each(EXCEPTIONS)('recordException with %s', (_label, make, time, makesEvent) => {
    const result = differential({}, (tracer) => {
      const span = tracer.startSpan('exception', {}, parentCtx());
      span.recordException(make(), time);
      span.end();
      span.recordException(make()); // ended: ignored
      return span;
    });
    expect(first(result).events.map((e) => e.name)).toStrictEqual(makesEvent ? ['exception'] : []);
  });
});

// ---------------------------------------------------------------------------------------
// Links

describe('links', () => {
  it('at start and via addLink/addLinks, with attributes', () => {
    const result = differential({}, (tracer) => {
      const links: Link[] = [
        { context: LINK_A, attributes: { k: 'v', bad: (() => 1) as unknown as AttributeValue, nested: { a: [1] } as unknown as AttributeValue } },
        { context: LINK_B },
      ];
      const span = tracer.startSpan('links', { links }, parentCtx());
      span.addLink({ context: LINK_C, attributes: { x: 1, u: undefined } });
      span.addLinks([{ context: LINK_A }, { context: LINK_B, attributes: {} }]);
      span.end();
      span.addLink({ context: LINK_C });
      return span;
    });
    const span = first(result);
    expect(span.links).toHaveLength(5);
    expect(span.links[0]).toStrictEqual({ context: LINK_A, attributes: { k: 'v', nested: { a: [1] } }, droppedAttributesCount: 1 });
    expect(span.links[1]).toStrictEqual({ context: LINK_B });
  });

  it('linkCountLimit at start and afterwards keeps the newest', () => {
    const result = differential({ spanLimits: { linkCountLimit: 1 } }, (tracer) => {
      const span = tracer.startSpan('link limit', { links: [{ context: LINK_A }, { context: LINK_B, attributes: { b: 1 } }] }, parentCtx());
      span.addLink({ context: LINK_C });
      span.addLinks([{ context: LINK_A, attributes: { last: true } }]);
      span.end();
      return span;
    });
    expect(first(result).links).toStrictEqual([{ context: LINK_A, attributes: { last: true }, droppedAttributesCount: 0 }]);
    expect(first(result).droppedLinksCount).toBe(3);
  });

  it('linkCountLimit 0 and attributePerLinkCountLimit', () => {
    differential({ spanLimits: { linkCountLimit: 0 } }, (tracer) => {
      const span = tracer.startSpan('no links', { links: [{ context: LINK_A }, { context: LINK_B }] }, parentCtx());
      span.addLink({ context: LINK_C });
      span.end();
      return span;
    });
    const result = differential({ spanLimits: { attributePerLinkCountLimit: 1 } }, (tracer) => {
      const span = tracer.startSpan('per link', { links: [{ context: LINK_A, attributes: { a: 1, b: 2 } }] }, parentCtx());
      span.addLink({ context: LINK_B, attributes: { c: 3, d: 4, e: 5 } });
      span.end();
      return span;
    });
    expect(first(result).links.map((l) => l.droppedAttributesCount)).toStrictEqual([1, 2]);
  });
});

// ---------------------------------------------------------------------------------------
// Status, name, kind, end, times

describe('status, name, end', () => {
  const STATUSES: [string, SpanStatus[], SpanStatus][] = [
    ['UNSET is ignored', [{ code: SpanStatusCode.UNSET, message: 'x' }], { code: SpanStatusCode.UNSET }],
    ['ERROR with a message', [{ code: SpanStatusCode.ERROR, message: 'boom' }], { code: SpanStatusCode.ERROR, message: 'boom' }],
    ['ERROR with a non-string message', [{ code: SpanStatusCode.ERROR, message: 42 as unknown as string }], { code: SpanStatusCode.ERROR }],
    ['ERROR then UNSET', [{ code: SpanStatusCode.ERROR, message: 'a' }, { code: SpanStatusCode.UNSET }], { code: SpanStatusCode.ERROR, message: 'a' }],
    [
      'ERROR then ERROR',
      [
        { code: SpanStatusCode.ERROR, message: 'a' },
        { code: SpanStatusCode.ERROR, message: 'b' },
      ],
      { code: SpanStatusCode.ERROR, message: 'b' },
    ],
    ['ERROR then OK', [{ code: SpanStatusCode.ERROR, message: 'a' }, { code: SpanStatusCode.OK }], { code: SpanStatusCode.OK }],
    ['OK drops its message', [{ code: SpanStatusCode.OK, message: 'ignored' }], { code: SpanStatusCode.OK }],
    ['OK is final', [{ code: SpanStatusCode.OK }, { code: SpanStatusCode.ERROR, message: 'late' }], { code: SpanStatusCode.OK }],
  ];
  it.each(STATUSES)('setStatus: %s', (_label, statuses, expected) => {
    const result = differential({}, (tracer) => {
      const span = tracer.startSpan('status', {}, parentCtx());
      for (const status of statuses) span.setStatus(status);
      span.end();
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'after end' });
      return span;
    });
    expect(first(result).status).toStrictEqual(expected);
  });

  it.each([SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER, undefined])('kind %s', (kind) => {
    differential({}, (tracer) => {
      const span = tracer.startSpan('kind', { kind }, parentCtx());
      span.end();
      return span;
    });
  });

  it('updateName before end, not after; end twice: the second is ignored', () => {
    const result = differential({}, (tracer) => {
      const span = tracer.startSpan('before', {}, parentCtx());
      span.updateName('after');
      tick(10);
      span.end(EPOCH + 10);
      span.updateName('too late');
      tick(10);
      span.end(EPOCH + 20);
      return span;
    });
    const span = first(result);
    expect(span.name).toBe('after');
    expect(span.endTime).toStrictEqual(millisToHrTime(EPOCH + 10));
    expect(result.calls.map((c) => c.call)).toStrictEqual(['onStart', 'onEnding', 'onEnd']);
  });

  it('onEnding sees a span not yet ended and may still write it; onEnd sees it ended', () => {
    const result = differential({ whileEnding: (span) => span.setAttribute('set.in.onEnding', true) }, (tracer) => {
      const span = tracer.startSpan('ending', { attributes: { a: 1 } }, parentCtx());
      span.end();
      return span;
    });
    expect(first(result).attributes).toStrictEqual({ a: 1, 'set.in.onEnding': true });
    expect(result.calls.map(({ call, ended, recording }) => ({ call, ended, recording }))).toStrictEqual([
      { call: 'onStart', ended: false, recording: true },
      { call: 'onEnding', ended: false, recording: true },
      { call: 'onEnd', ended: true, recording: false },
    ]);
  });

  it('an end time before the start time: duration 0, endTime = startTime', () => {
    const result = differential({}, (tracer) => {
      const given = tracer.startSpan('explicit end', { startTime: EPOCH + 60_000 }, parentCtx());
      given.end(EPOCH);
      // With a start time given, the default end time is Date.now(): also before the start here.
      const defaulted = tracer.startSpan('default end', { startTime: [1_750_000_100, 5] }, parentCtx());
      defaulted.end();
      return [given, defaulted];
    });
    for (const span of result.sdk) {
      expect(span.duration).toStrictEqual([0, 0]);
      expect(span.endTime).toStrictEqual(span.startTime);
    }
  });
});

describe('times', () => {
  const STARTS: [string, () => TimeInput | undefined][] = [
    ['default (now)', () => undefined],
    ['epoch milliseconds', () => EPOCH - 5_000.5],
    ['a Date', () => new Date(EPOCH - 4_000)],
    ['an HrTime', () => [1_749_999_990, 123_456_789]],
    ['a performance.now() timestamp', () => PERF - 3_000.25],
  ];
  const ENDS: [string, () => TimeInput | undefined][] = [
    ['default (now)', () => undefined],
    ['epoch milliseconds', () => EPOCH + 5_000],
    ['a Date', () => new Date(EPOCH + 6_000)],
    ['an HrTime', () => [1_750_000_010, 5]],
    ['a performance.now() timestamp', () => PERF + 20.5],
  ];
  it.each(STARTS)('start time %s, with each kind of end time', (_label, start) => {
    for (const [endLabel, end] of ENDS) {
      const result = differential({}, (tracer) => {
        const span = tracer.startSpan(`ends with ${endLabel}`, { startTime: start() }, parentCtx());
        tick(10, 15);
        span.addEvent('default time'); // start + monotonic delta, or Date.now() when a start time was given
        tick(30, 25);
        span.end(end());
        return span;
      });
      const startTime = start();
      if (typeof startTime === 'number' && startTime > PERF) expect(first(result).startTime).toStrictEqual(millisToHrTime(startTime));
      if (startTime === undefined) expect(first(result).startTime).toStrictEqual(millisToHrTime(EPOCH));
    }
  });

  it('on the real clock: start near Date.now(), duration >= 0, events in between', async () => {
    const before = Date.now();
    const result = differential({ realClock: true }, (tracer) => {
      const span = tracer.startSpan('real', {}, parentCtx());
      span.addEvent('middle');
      span.end();
      return span;
    });
    await new Promise((resolve) => setTimeout(resolve, 1));
    for (const span of [...result.sdk, ...result.lean]) {
      const start = hrTimeToMilliseconds(span.startTime);
      expect(Math.abs(start - before)).toBeLessThan(50);
      expect(hrTimeToMilliseconds(span.duration)).toBeGreaterThanOrEqual(0);
      expect(hrTimeToMilliseconds(span.endTime)).toBeGreaterThanOrEqual(start);
      expect(hrTimeToMilliseconds(span.events[0]!.time)).toBeGreaterThanOrEqual(start);
      expect(hrTimeToMilliseconds(span.events[0]!.time)).toBeLessThanOrEqual(hrTimeToMilliseconds(span.endTime));
    }
  });
});

// ---------------------------------------------------------------------------------------
// Sampling and parents

/** A sampler with a fixed answer that records what it was asked. */
class ScriptedSampler implements Sampler {
  readonly asked: unknown[] = [];
  private readonly result: SamplingResult;
  constructor(result: SamplingResult) {
    this.result = result;
  }
  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    this.asked.push({ contextSpan: trace.getSpanContext(ctx), contextTag: ctx.getValue(TAG), traceId, name, kind, attributes: { ...attributes }, links });
    return this.result;
  }
  toString(): string {
    return 'ScriptedSampler';
  }
}

describe('sampling', () => {
  it('AlwaysOffSampler: a non-recording span, no processor calls, trace flags 0', () => {
    const result = differential({ sampler: new AlwaysOffSampler() }, (tracer) => {
      const span = tracer.startSpan('off', { attributes: { a: 1 }, links: [{ context: LINK_A }] }, parentCtx());
      span.setAttribute('b', 2);
      span.end();
      return span;
    });
    expect(first(result).isRecording()).toBe(false);
    expect(first(result).spanContext().traceFlags).toBe(TraceFlags.NONE);
    expect(result.calls).toStrictEqual([]);
  });

  it('a sampler answering RECORD: recorded, processors called, trace flags 0', () => {
    const result = differential({ sampler: new ScriptedSampler({ decision: SamplingDecision.RECORD }) }, (tracer) => {
      const span = tracer.startSpan('record only', { attributes: { a: 1 } }, parentCtx(REMOTE_SAMPLED));
      span.end();
      return span;
    });
    expect(first(result).isRecording()).toBe(false); // ended
    expect(first(result).ended).toBe(true);
    expect(first(result).spanContext().traceFlags).toBe(TraceFlags.NONE);
    expect(result.calls.map((c) => c.call)).toStrictEqual(['onStart', 'onEnding', 'onEnd']);
  });

  // The SDK merges a sampler's attributes into the caller's before checking them
  // (Object.assign), so a sampler value under a caller's key replaces it even when it is
  // undefined or invalid, and a key the count limit drops is counted once.
  const CLASHES: [string, { caller: Attributes; sampler: Attributes; limits?: SpanLimits; attributes: Attributes; dropped: number }][] = [
    [
      'an invalid value under a caller key',
      { caller: { a: 1, b: 2 }, sampler: { a: (() => 1) as unknown as AttributeValue }, attributes: { b: 2 }, dropped: 1 },
    ],
    ['undefined under a caller key', { caller: { a: 1, b: 2 }, sampler: { a: undefined }, attributes: { b: 2 }, dropped: 0 }],
    [
      'the key of a caller attribute past the count limit',
      { caller: { a: 1, b: 2, c: 3 }, sampler: { c: 'x' }, limits: { attributeCountLimit: 2 }, attributes: { a: 1, b: 2 }, dropped: 1 },
    ],
  ];
  it.each(CLASHES)("a sampler's attribute clashing with the caller's: %s", (_label, { caller, sampler: extra, limits, attributes, dropped }) => {
    const sampler = new ScriptedSampler({ decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: extra });
    const result = differential({ sampler, spanLimits: limits }, (tracer) => {
      const span = tracer.startSpan('clash', { attributes: caller }, parentCtx());
      span.end();
      return span;
    });
    expect(first(result).attributes).toStrictEqual(attributes);
    expect(first(result).droppedAttributesCount).toBe(dropped);
  });

  it('a start attribute named __proto__ (as JSON.parse makes it) is lost without taking a slot', () => {
    const result = differential({ spanLimits: { attributeCountLimit: 2 } }, (tracer) => {
      const span = tracer.startSpan('proto', { attributes: JSON.parse('{"__proto__": "p", "a": 1, "b": 2}') as Attributes }, parentCtx());
      const nested = tracer.startSpan('proto object', { attributes: JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as Attributes }, parentCtx());
      nested.end();
      span.end();
      return [span, nested];
    });
    expect(first(result).attributes).toStrictEqual({ a: 1, b: 2 });
    expect(first(result).droppedAttributesCount).toBe(0);
  });

  it("a sampler's extra attributes (within and past the count limit) and trace state; it is asked the same questions", () => {
    const sampler = new ScriptedSampler({
      decision: SamplingDecision.RECORD_AND_SAMPLED,
      attributes: { shared: 'from the sampler', 'sampler.rate': 0.5, 'sampler.bad': (() => 1) as unknown as AttributeValue, 'sampler.list': ['a'] },
      traceState: new TraceState('vendor=sampled'),
    });
    const result = differential({ sampler, spanLimits: { attributeCountLimit: 3 } }, (tracer) => {
      const links = [{ context: LINK_A, attributes: { l: 1 } }];
      const span = tracer.startSpan('sampled', { kind: SpanKind.SERVER, attributes: { shared: 'from the caller', own: 1 }, links }, parentCtx(REMOTE_SAMPLED));
      span.end();
      return span;
    });
    const span = first(result);
    expect(span.attributes).toStrictEqual({ shared: 'from the sampler', own: 1, 'sampler.rate': 0.5 });
    expect(span.droppedAttributesCount).toBe(2); // sampler.bad, sampler.list
    // The sampler's trace state replaces the parent's.
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=sampled');
    expect(sampler.asked).toHaveLength(2);
    expect(sampler.asked[1]).toStrictEqual(sampler.asked[0]);
  });

  // ParentBasedSampler with an AlwaysOnSampler root: a parent's decision is followed.
  const PARENTS: [string, { parent?: SpanContext; root?: boolean; recorded: boolean; inherits: boolean }][] = [
    ['a remote sampled parent', { parent: REMOTE_SAMPLED, recorded: true, inherits: true }],
    ['a remote unsampled parent', { parent: REMOTE_UNSAMPLED, recorded: false, inherits: true }],
    ['a local sampled parent', { parent: LOCAL_SAMPLED, recorded: true, inherits: true }],
    ['a local unsampled parent', { parent: LOCAL_UNSAMPLED, recorded: false, inherits: true }],
    ['root: true over a sampled parent', { parent: REMOTE_SAMPLED, root: true, recorded: true, inherits: false }],
    ['root: true over an unsampled parent', { parent: REMOTE_UNSAMPLED, root: true, recorded: true, inherits: false }],
    ['an invalid parent span context', { parent: INVALID_SPAN_CONTEXT, recorded: true, inherits: false }],
    ['a parent with a malformed trace id', { parent: { ...REMOTE_SAMPLED, traceId: 'not-a-trace-id' }, recorded: true, inherits: false }],
    ['no parent', { recorded: true, inherits: false }],
  ];
  it.each(PARENTS)('ParentBasedSampler, %s', (_label, { parent, root, recorded, inherits }) => {
    const result = differential({ sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }) }, (tracer) => {
      const span = tracer.startSpan('child', { root, attributes: { a: 1 }, links: [{ context: LINK_A }] }, parentCtx(parent));
      span.setAttribute('b', 2);
      span.end();
      return span;
    });
    const span = first(result);
    expect('attributes' in span).toBe(recorded);
    expect(result.calls.length > 0).toBe(recorded);
    if (inherits) {
      expect(span.spanContext().traceId).toBe(parent!.traceId);
      expect(span.spanContext().traceState).toBe(parent!.traceState);
      if (recorded) expect(span.parentSpanContext).toBe(parent);
    } else {
      expect(span.spanContext().traceId).not.toBe(REMOTE_SAMPLED.traceId);
      expect(span.spanContext().traceState).toBeUndefined();
      expect(span.parentSpanContext).toBeUndefined();
    }
  });

  it('suppressTracing: a non-recording span with the invalid span context, no ids, no calls', () => {
    const result = differential({}, (tracer) => {
      const span = tracer.startSpan('suppressed', { attributes: { a: 1 } }, suppressTracing(parentCtx(REMOTE_SAMPLED)));
      span.end();
      return span;
    });
    expect(first(result).spanContext()).toBe(INVALID_SPAN_CONTEXT);
    expect(result.calls).toStrictEqual([]);
    expect(result.ids.spanIds + result.ids.traceIds).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------
// startActiveSpan

describe('startActiveSpan', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(() => {
    context.disable();
  });

  /** In the callback: the span is active, and a span started without a context is its child. */
  function inside(tracer: Tracer, span: Span): { spans: Span[]; returned: string } {
    expect(trace.getActiveSpan()).toBe(span);
    const child = tracer.startSpan('child');
    child.end();
    span.end();
    return { spans: [span, child], returned: 'from the callback' };
  }

  it('with a name and a callback; the context defaults to the active one', () => {
    const result = differential({}, (tracer) => {
      const out = tracer.startActiveSpan('two arguments', (span) => inside(tracer, span));
      expect(out.returned).toBe('from the callback');
      expect(trace.getActiveSpan()).toBeUndefined();
      // The active context (with its tag and remote parent) is the default parent.
      const nested = context.with(parentCtx(REMOTE_SAMPLED), () => tracer.startActiveSpan('under a parent', (span) => inside(tracer, span)));
      return [...out.spans, ...nested.spans];
    });
    expect(result.sdk[1]!.parentSpanContext).toStrictEqual(result.sdk[0]!.spanContext());
    expect(result.sdk[2]!.parentSpanContext).toBe(REMOTE_SAMPLED);
    expect(result.calls.find((c) => c.call === 'onStart' && c.name === 'under a parent')).toMatchObject({
      call: 'onStart',
      name: 'under a parent',
      contextTag: 'given',
      contextSpan: REMOTE_SAMPLED,
    });
  });

  it('with options', () => {
    const result = differential({}, (tracer) => {
      const out = tracer.startActiveSpan('three arguments', { kind: SpanKind.SERVER, attributes: { route: '/x' }, links: [{ context: LINK_A }] }, (span) =>
        inside(tracer, span),
      );
      expect(out.returned).toBe('from the callback');
      return out.spans;
    });
    expect(result.sdk[0]).toMatchObject({ kind: SpanKind.SERVER, attributes: { route: '/x' } });
  });

  it('with options and a context', () => {
    const result = differential({}, (tracer) => {
      const out = tracer.startActiveSpan('four arguments', { attributes: { a: 1 } }, parentCtx(REMOTE_SAMPLED), (span) => inside(tracer, span));
      expect(out.returned).toBe('from the callback');
      expect(trace.getActiveSpan()).toBeUndefined();
      return out.spans;
    });
    expect(result.sdk[0]!.parentSpanContext).toBe(REMOTE_SAMPLED);
    expect(result.sdk[1]!.parentSpanContext).toStrictEqual(result.sdk[0]!.spanContext());
  });
});
