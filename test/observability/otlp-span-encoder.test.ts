// SpanEncoder (otlp-span-encoder.ts) claims its output is byte for byte the stock
// serializer's (ProtobufTraceSerializer.serializeRequest of @opentelemetry/otlp-transformer)
// for the same spans in the same order. These tests make real spans with a real
// TracerProvider (every attribute value type, events, links, status, kinds, parents, trace
// state, several scopes and resources, large spans, random spans) and compare the bytes;
// one batch is also decoded with the official opentelemetry-proto definitions (the
// protobufjs code generated into @opentelemetry/otlp-transformer 0.57, installed as
// `otlp-proto-definitions`) so that the checks do not rest on the stock serializer alone.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type AttributeValue,
  type Attributes,
  type Context,
  type Link,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { hrTimeToNanoseconds, TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan, type SpanLimits } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { SpanEncoder } from '../../src/observability/tracing/otlp-span-encoder.ts';
import { decodeTraceRequest } from '../helpers/otlp-proto.ts';

// ---------------------------------------------------------------------------------------
// Real spans

/** One exporter for every provider: getFinishedSpans() is then every span in the order they ended. */
function world(limits: SpanLimits = {}) {
  const exporter = new InMemorySpanExporter();
  const spanLimits: SpanLimits = { attributeCountLimit: 1_000, ...limits };
  const provider = (resource: Resource) => new TracerProvider({ resource, spanLimits, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const resourceA = resourceFromAttributes({ 'service.name': 'glassbox', 'service.version': '0.1.0', 'host.name': 'hôte-1', 'process.pid': 4242 });
  const resourceB = resourceFromAttributes(
    { 'service.name': 'worker', 'deployment.environment': 'test', 'x.list': ['a', 'b'] },
    { schemaUrl: 'https://opentelemetry.io/schemas/1.28.0' },
  );
  const providerA = provider(resourceA);
  const providerB = provider(resourceB);
  return {
    exporter,
    providerA,
    providerB,
    /** The spans ended so far, in order, and forgets them. */
    take(): ReadableSpan[] {
      const spans = [...exporter.getFinishedSpans()];
      exporter.reset();
      return spans;
    },
  };
}

const remoteParent: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
  isRemote: true,
  traceState: new TraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'),
};

function endedSpan(
  tracer: Tracer,
  name: string,
  options: { attributes?: Attributes; kind?: SpanKind; links?: Link[] } = {},
  parent: Context = ROOT_CONTEXT,
): ReadableSpan {
  const span = tracer.startSpan(name, options, parent);
  span.end();
  return span as unknown as ReadableSpan;
}

// ---------------------------------------------------------------------------------------
// Comparing with the stock serializer, and decoding

interface DecodedAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: DecodedAnyValue[] };
  kvlistValue?: { values?: DecodedKeyValue[] };
}
interface DecodedKeyValue {
  key: string;
  value?: DecodedAnyValue;
}
interface DecodedSpan {
  traceId: string;
  spanId: string;
  traceState?: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: DecodedKeyValue[];
  droppedAttributesCount?: number;
  events?: { timeUnixNano: string; name: string; attributes?: DecodedKeyValue[] }[];
  links?: { traceId: string; spanId: string; traceState?: string; attributes?: DecodedKeyValue[] }[];
  status?: { message?: string; code?: number };
}
interface DecodedRequest {
  resourceSpans?: {
    resource?: { attributes?: DecodedKeyValue[] };
    schemaUrl?: string;
    scopeSpans?: { scope?: { name?: string; version?: string }; schemaUrl?: string; spans?: DecodedSpan[] }[];
  }[];
}

function decode(bytes: Uint8Array): DecodedRequest {
  return decodeTraceRequest<DecodedRequest>(bytes);
}

const hex = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('hex');

function stock(spans: ReadableSpan[]): Buffer {
  // The transformer is typed against its own copy of sdk-trace; the span objects are the same shape.
  const bytes = ProtobufTraceSerializer.serializeRequest(spans as Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0]);
  if (!bytes) throw new Error('the stock serializer returned nothing');
  return Buffer.from(bytes);
}

/** Where two byte strings first differ, with the bytes around it, for a failure message. */
function difference(ours: Buffer, theirs: Buffer): string {
  let i = 0;
  while (i < ours.length && i < theirs.length && ours[i] === theirs[i]) i++;
  const around = (b: Buffer) => b.subarray(Math.max(0, i - 16), i + 16).toString('hex');
  return `encoder ${ours.length} bytes, stock serializer ${theirs.length} bytes; first difference at byte ${i}: encoder …${around(ours)}…, stock …${around(theirs)}…`;
}

/** The encoder's bytes for `spans` equal the stock serializer's; a semantic diff first makes a failure readable. */
function expectStockBytes(ours: Uint8Array, spans: ReadableSpan[], what: string): void {
  const encoded = Buffer.from(ours);
  const expected = stock(spans);
  if (encoded.equals(expected)) return;
  // A semantic diff is readable for small messages only (one value here is 2 MiB).
  if (expected.length > 64 * 1024) expect.fail(`${what}: ${difference(encoded, expected)}`);
  let decoded: DecodedRequest | undefined;
  try {
    decoded = decode(encoded);
  } catch (error) {
    expect.fail(`${what}: the encoder's bytes do not decode (${String(error)}); ${difference(encoded, expected)}`);
  }
  expect(decoded, `${what}: decoded encoder output vs decoded stock output`).toEqual(decode(expected));
  expect(encoded.equals(expected), `${what}: same message, different bytes; ${difference(encoded, expected)}`).toBe(true);
}

/** Encodes `spans` with a fresh encoder (or `encoder`) and compares with the stock serializer. */
function expectSameAsStock(spans: ReadableSpan[], what: string, encoder = new SpanEncoder()): void {
  for (const span of spans) encoder.add(span);
  const batch = encoder.take();
  expect(batch.count, `${what}: count`).toBe(spans.length);
  expectStockBytes(batch.bytes, spans, what);
}

// ---------------------------------------------------------------------------------------
// Attribute values

const VALUES: [string, AttributeValue | Uint8Array | null | Record<string, unknown> | unknown[]][] = [
  ['ascii string', 'GET /users/:id'],
  ['empty string', ''],
  ['multibyte string', 'héllo wörld — ñ, 日本語, ключ'],
  ['emoji string', '🚀 ok 👩‍💻 done'],
  ['lone high surrogate', 'a\uD800b'],
  ['lone low surrogate at the end', 'abc\uDC00'],
  ['lone surrogate in a long string', 'x'.repeat(60) + '\uD83D'],
  ['42 ascii chars', 'a'.repeat(42)],
  ['43 ascii chars', 'a'.repeat(43)],
  ['42 chars of 3 bytes (126 bytes)', '€'.repeat(42)],
  ['43 chars of 3 bytes (129 bytes)', '€'.repeat(43)],
  ['42 UTF-16 units of emoji (84 bytes)', '😀'.repeat(21)],
  ['44 UTF-16 units of emoji (88 bytes)', '😀'.repeat(22)],
  ['127 bytes', 'b'.repeat(127)],
  ['128 bytes', 'b'.repeat(128)],
  ['200 bytes', 'b'.repeat(200)],
  ['16 KiB + 5 ascii', 'c'.repeat(16 * 1024 + 5)],
  ['18000 bytes of 2-byte chars', 'é'.repeat(9000)],
  ['2 MiB + 1000 ascii (4-byte lengths)', 'd'.repeat(2 * 1024 * 1024 + 1000)],
  ['true', true],
  ['false', false],
  ['0', 0],
  ['-0', -0],
  ['1', 1],
  ['127', 127],
  ['128', 128],
  ['300', 300],
  ['16383', 16383],
  ['16384', 16384],
  ['2^31 - 1', 2 ** 31 - 1],
  ['2^31', 2 ** 31],
  ['2^32 - 1', 2 ** 32 - 1],
  ['2^32', 2 ** 32],
  ['2^32 + 1', 2 ** 32 + 1],
  ['2^40 + 12345', 2 ** 40 + 12345],
  ['2^53 - 1', 2 ** 53 - 1],
  ['2^53', 2 ** 53],
  ['2^53 + 2', 2 ** 53 + 2],
  ['2^60', 2 ** 60],
  ['largest double below 2^63', 2 ** 63 - 1024],
  ['2^63 (a double: past int64)', 2 ** 63],
  ['-1', -1],
  ['-127', -127],
  ['-128', -128],
  ['-(2^31)', -(2 ** 31)],
  ['-(2^32)', -(2 ** 32)],
  ['-(2^32) - 1', -(2 ** 32) - 1],
  ['-(2^53) + 1', -(2 ** 53) + 1],
  ['-(2^53)', -(2 ** 53)],
  ['-(2^63)', -(2 ** 63)],
  ['-(2^64) (a double)', -(2 ** 64)],
  ['0.5', 0.5],
  ['-1.25', -1.25],
  ['pi', Math.PI],
  ['1e-300', 1e-300],
  ['Number.MIN_VALUE', Number.MIN_VALUE],
  ['Number.MAX_VALUE', Number.MAX_VALUE],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['array of strings', ['a', 'é', '🚀', '', 'z'.repeat(50)]],
  ['array of ints', [0, 1, -1, 300, 2 ** 40, -(2 ** 40)]],
  ['array of doubles', [1.5, -2.25, NaN, Infinity]],
  ['array of booleans', [true, false, true]],
  ['array of strings with null and undefined', ['a', null, 'b', undefined, 'c']],
  ['array of numbers with null', [null, 1, null]],
  ['array of booleans with undefined', [undefined, false]],
  ['empty array', []],
  ['array of one null', [null]],
  ['array of 200 strings (multi-byte length)', Array.from({ length: 200 }, (_, i) => `item-${i}`)],
  ['mixed array', [1, 'two', true, 4.5, null, [6, ['seven']], { eight: 8 }]],
  ['bytes', new Uint8Array([0, 1, 127, 128, 255])],
  ['empty bytes', new Uint8Array(0)],
  ['200 bytes of bytes', new Uint8Array(200).fill(7)],
  ['a Buffer', Buffer.from('héllo')],
  ['map', { a: 1, b: 'deux', c: { d: [true, null], e: -3.5 }, 'ключ 🚀': '' }],
  ['empty map', {}],
  ['null', null],
];

describe('SpanEncoder: the same bytes as the stock OTLP serializer', () => {
  it('for every attribute value type, one span per value', () => {
    const w = world();
    const tracer = w.providerA.getTracer('values');
    for (const [label, value] of VALUES) {
      const span = endedSpan(tracer, label, { attributes: { value: value as AttributeValue } });
      expect(Object.hasOwn(span.attributes, 'value'), `${label}: the SDK kept the attribute`).toBe(true);
      expectSameAsStock(w.take(), label);
    }
  });

  it('for all attribute values on one span, and on one batch of spans (a span over 2 MiB among them)', () => {
    const w = world();
    const tracer = w.providerA.getTracer('values');
    const attributes = Object.fromEntries(VALUES.map(([label, value]) => [label, value])) as Attributes;
    endedSpan(tracer, 'all values', { attributes });
    for (const [label, value] of VALUES) endedSpan(tracer, label, { attributes: { value: value as AttributeValue } });
    const spans = w.take();
    expect(spans).toHaveLength(VALUES.length + 1);
    expectSameAsStock(spans, 'all values');
  });

  it('for keys that are multibyte, emoji, 42/43 chars, longer than 127 bytes; and attributes set after start', () => {
    const w = world();
    const tracer = w.providerA.getTracer('keys');
    const span = tracer.startSpan(
      'keys',
      { attributes: { ключ: 'значение', '🔑': 1, ['k'.repeat(42)]: true, ['k'.repeat(43)]: false, ['é'.repeat(100)]: 'long key' } },
      ROOT_CONTEXT,
    );
    span.setAttribute('later', 'set after start');
    span.setAttributes({ 'http.response.status_code': 200, ключ: 'overwritten' });
    span.end();
    // A key seen again (the encoder caches the bytes of keys) still encodes the same.
    endedSpan(tracer, 'keys again', { attributes: { ключ: 'x', '🔑': 2, ['é'.repeat(100)]: 'again' } });
    expectSameAsStock(w.take(), 'keys');
  });

  it('for more distinct keys than the encoder caches (1024)', () => {
    const w = world({ attributeCountLimit: 2_000 });
    const tracer = w.providerA.getTracer('many keys');
    const attributes: Attributes = {};
    for (let i = 0; i < 1_500; i++) attributes[`uncached.key.${i}.${'é'.repeat(i % 50)}`] = i;
    endedSpan(tracer, 'many keys', { attributes });
    endedSpan(tracer, 'many keys again', { attributes });
    expectSameAsStock(w.take(), 'many keys');
  });

  it('for 200 attributes (lengths of 2 and 3 varint bytes), and past the attribute count limit (dropped count)', () => {
    const w = world();
    const tracer = w.providerA.getTracer('big');
    const attributes: Attributes = {};
    for (let i = 0; i < 200; i++) attributes[`attr.${i}`] = i % 3 === 0 ? `value-${i}-${'v'.repeat(i)}` : i % 3 === 1 ? i * 1_000_003 : i % 2 === 0;
    const big = endedSpan(tracer, 'two hundred attributes', { attributes });
    expect(Object.keys(big.attributes)).toHaveLength(200);
    expectSameAsStock(w.take(), '200 attributes');

    const limited = world({ attributeCountLimit: 128 });
    const span = endedSpan(limited.providerA.getTracer('limited'), 'limited', { attributes });
    expect(span.droppedAttributesCount).toBe(72);
    expectSameAsStock(limited.take(), '128 of 200 attributes');
  });

  it('for events: with and without attributes, with explicit times, recordException, past the event and attribute limits', () => {
    const w = world({ eventCountLimit: 5, attributePerEventCountLimit: 3 });
    const tracer = w.providerA.getTracer('events');
    const plain = tracer.startSpan('events', {}, ROOT_CONTEXT);
    plain.addEvent('no attributes');
    plain.addEvent('with attributes', { 'cache.hit': true, 'db.rows': 12, note: 'ça va', list: ['a', 'b'] });
    plain.addEvent('at a time', [1_700_000_000, 123_456_789]);
    plain.addEvent('at a date', { k: 'v' }, new Date(1_700_000_000_123));
    plain.recordException(new Error('boom: 💥'));
    plain.end();

    const limited = tracer.startSpan('too many events', {}, ROOT_CONTEXT);
    for (let i = 0; i < 8; i++) limited.addEvent(`event ${i}`, { a: 1, b: 2, c: 3, d: 4, e: 5 });
    limited.recordException('just a message');
    limited.end();

    const spans = w.take();
    expect(spans[0]!.events).toHaveLength(5);
    expect(spans[1]!.droppedEventsCount).toBe(4);
    expect(spans[1]!.events[0]!.droppedAttributesCount).toBe(2);
    expectSameAsStock(spans, 'events');
  });

  it('for links with and without attributes and trace state, remote and local, past the link limits', () => {
    const w = world({ linkCountLimit: 3, attributePerLinkCountLimit: 2 });
    const tracer = w.providerA.getTracer('links');
    const local = tracer.startSpan('linked', {}, ROOT_CONTEXT);
    local.end();
    const localContext = local.spanContext();
    const span = tracer.startSpan(
      'with links',
      {
        links: [{ context: remoteParent, attributes: { 'link.kind': 'follows', n: 1 } }, { context: localContext }],
      },
      ROOT_CONTEXT,
    );
    span.addLink({ context: { ...remoteParent, isRemote: false, traceState: undefined, traceFlags: 0 }, attributes: { a: 1, b: 2, c: 3 } });
    span.end();
    const many = tracer.startSpan('too many links', {}, ROOT_CONTEXT);
    for (let i = 0; i < 5; i++) many.addLink({ context: remoteParent, attributes: { i } });
    many.end();
    const spans = w.take();
    expect(spans[1]!.links).toHaveLength(3);
    expect(spans[1]!.links[2]!.droppedAttributesCount).toBe(1);
    expect(spans[2]!.droppedLinksCount).toBe(2);
    expectSameAsStock(spans, 'links');
  });

  it('for each status: unset, ok, error with and without a message', () => {
    const w = world();
    const tracer = w.providerA.getTracer('status');
    const statuses = [
      { code: SpanStatusCode.UNSET },
      { code: SpanStatusCode.OK },
      { code: SpanStatusCode.ERROR },
      { code: SpanStatusCode.ERROR, message: 'it broke — très' },
      { code: SpanStatusCode.ERROR, message: 'm'.repeat(300) },
    ];
    for (const status of statuses) {
      const span = tracer.startSpan(`status ${status.code} ${status.message?.length ?? 0}`, {}, ROOT_CONTEXT);
      span.setStatus(status);
      span.end();
    }
    expectSameAsStock(w.take(), 'status');
  });

  it('for each SpanKind', () => {
    const w = world();
    const tracer = w.providerA.getTracer('kinds');
    for (const kind of [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]) endedSpan(tracer, `kind ${kind}`, { kind });
    expectSameAsStock(w.take(), 'kinds');
  });

  it('for a remote sampled parent with trace state, a local parent, a non-remote parent context and a root', () => {
    const w = world();
    const tracer = w.providerA.getTracer('parents');
    const child = tracer.startSpan('child of remote', { kind: SpanKind.SERVER }, trace.setSpanContext(ROOT_CONTEXT, remoteParent));
    expect(child.spanContext().traceState?.serialize()).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    endedSpan(tracer, 'grandchild (local parent)', {}, trace.setSpan(ROOT_CONTEXT, child));
    child.end();
    endedSpan(tracer, 'child of a non-remote context', {}, trace.setSpanContext(ROOT_CONTEXT, { ...remoteParent, isRemote: false, traceState: undefined }));
    endedSpan(tracer, 'root');
    const spans = w.take();
    expect(spans[1]!.parentSpanContext?.isRemote).toBe(true);
    expect(spans[0]!.parentSpanContext?.isRemote).toBeFalsy();
    expectSameAsStock(spans, 'parents');
  });

  it('for explicit start and end times, zero and far ones among them', () => {
    const w = world();
    const tracer = w.providerA.getTracer('times');
    const times: [number, number][] = [
      [0, 0],
      [0, 1],
      [1, 999_999_999],
      [4_294, 967_295],
      [4_295, 0],
      [1_700_000_000, 123_456_789],
      [2 ** 31, 999_999_999],
      [2 ** 32 - 1, 999_999_999],
      // The largest second whose nanoseconds the encoder's time() computes exactly (2116-02-20).
      [4_611_686_018, 999_999_999],
    ];
    for (const time of times) {
      const span = tracer.startSpan(`time ${time.join('.')}`, { startTime: time }, ROOT_CONTEXT);
      span.addEvent('at the start', time);
      span.end([time[0], Math.min(time[1] + 1, 999_999_999)]);
    }
    const dated = tracer.startSpan('dates', { startTime: new Date(1_700_000_000_001) }, ROOT_CONTEXT);
    dated.end(new Date(1_700_000_000_999));
    expectSameAsStock(w.take(), 'times');
  });

  it('for times after 2116-02-20 (seconds × 1953125 past 2^53), which the stock serializer still writes exactly', () => {
    const w = world();
    const tracer = w.providerA.getTracer('far times');
    for (const time of [[4_611_686_019, 0] as [number, number], [9_000_000_001, 5] as [number, number]]) {
      tracer.startSpan(`time ${time.join('.')}`, { startTime: time }, ROOT_CONTEXT).end(time);
      expectSameAsStock(w.take(), `start and end at ${time.join('.')}`);
    }
  });

  it('for several scopes (with and without version and schemaUrl) and two resources (one with a schemaUrl), interleaved', () => {
    const w = world();
    const tracers = [
      w.providerA.getTracer('scope-plain'),
      w.providerA.getTracer('scope-versioned', '1.2.3'),
      w.providerB.getTracer('scope-schema', '2.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.27.0' }),
      w.providerA.getTracer('scope-schema-only', undefined, { schemaUrl: 'https://example.com/schema' }),
      w.providerB.getTracer('scope-plain'),
      w.providerB.getTracer('scöpe-ünicode', 'v🚀'),
    ];
    for (let i = 0; i < 40; i++) endedSpan(tracers[(i * 7) % tracers.length]!, `span ${i}`, { attributes: { i } });
    const spans = w.take();
    expect(new Set(spans.map((s) => s.resource)).size).toBe(2);
    expect(new Set(spans.map((s) => s.instrumentationScope)).size).toBe(6);
    expectSameAsStock(spans, 'scopes and resources');
  });

  it('for an empty batch', () => {
    const encoder = new SpanEncoder();
    const batch = encoder.take();
    expect(batch.count).toBe(0);
    expectStockBytes(batch.bytes, [], 'empty');
  });
});

describe('SpanEncoder: batches', () => {
  it('counts the spans added since the last take; take() starts over with only the spans added after it', () => {
    const w = world();
    const tracer = w.providerA.getTracer('batches');
    const encoder = new SpanEncoder();
    expect(encoder.count).toBe(0);
    for (let i = 0; i < 3; i++) {
      encoder.add(endedSpan(tracer, `first ${i}`));
      expect(encoder.count).toBe(i + 1);
    }
    const first = w.take();
    const batch1 = encoder.take();
    expect(batch1.count).toBe(3);
    expect(encoder.count).toBe(0);
    expectStockBytes(batch1.bytes, first, 'first batch');

    for (let i = 0; i < 2; i++) encoder.add(endedSpan(tracer, `second ${i}`));
    expect(encoder.count).toBe(2);
    const second = w.take();
    const batch2 = encoder.take();
    expect(batch2.count).toBe(2);
    expectStockBytes(batch2.bytes, second, 'second batch');
    expect((decode(batch2.bytes).resourceSpans ?? []).flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((s) => s.name)))).toEqual([
      'second 0',
      'second 1',
    ]);

    // The bytes returned are the caller's: taking again (empty) does not touch them.
    const copy = Buffer.from(batch2.bytes);
    const batch3 = encoder.take();
    expect(batch3.count).toBe(0);
    expect(batch3.bytes).toHaveLength(0);
    expect(Buffer.from(batch2.bytes).equals(copy)).toBe(true);
  });

  it('after a take, a batch whose scopes come in another order than in an earlier batch', () => {
    const w = world();
    const a = w.providerA.getTracer('scope-a');
    const b = w.providerA.getTracer('scope-b');
    const encoder = new SpanEncoder();
    expectSameAsStock([endedSpan(a, 'a1')], 'first batch: a', encoder);
    w.take();
    // The stock serializer orders scopes as their first span comes in the batch: b, then a.
    const spans = [endedSpan(b, 'b2'), endedSpan(a, 'a2')];
    w.take();
    expectSameAsStock(spans, 'second batch: b, a', encoder);
  });

  it('after a take, a batch whose resources come in another order than in an earlier batch', () => {
    const w = world();
    const a = w.providerA.getTracer('scope');
    const b = w.providerB.getTracer('scope');
    const encoder = new SpanEncoder();
    expectSameAsStock([endedSpan(a, 'resource A 1')], 'first batch: resource A', encoder);
    w.take();
    const spans = [endedSpan(b, 'resource B 2'), endedSpan(a, 'resource A 2')];
    w.take();
    expectSameAsStock(spans, 'second batch: resource B, resource A', encoder);
  });

  it('after a take, a batch with only some of the earlier scopes and resources, in the same order', () => {
    const w = world();
    const a = w.providerA.getTracer('scope-a');
    const b = w.providerA.getTracer('scope-b');
    const c = w.providerB.getTracer('scope-c');
    const encoder = new SpanEncoder();
    expectSameAsStock([endedSpan(a, 'a'), endedSpan(b, 'b'), endedSpan(c, 'c')], 'first batch: a, b, c', encoder);
    w.take();
    expectSameAsStock([endedSpan(b, 'only b')], 'second batch: b alone', encoder);
    w.take();
    expectSameAsStock([endedSpan(c, 'only c')], 'third batch: c alone', encoder);
    w.take();
    expectSameAsStock([endedSpan(a, 'a again'), endedSpan(c, 'c again')], 'fourth batch: a, c', encoder);
  });

  it('for random spans (seeded), in batches of random sizes from one encoder, as the export processor uses it', () => {
    const spans = randomSpans(0x5eed, 400);
    const encoder = new SpanEncoder();
    const random = mulberry32(7);
    for (let at = 0; at < spans.length;) {
      const size = 1 + Math.floor(random() * 80);
      const batch = spans.slice(at, at + size);
      expectSameAsStock(batch, `random batch at ${at} (seed 0x5eed)`, encoder);
      at += size;
    }
  });

  it('for random spans (seeded), each seed in one batch', () => {
    for (const seed of [1, 2, 3]) expectSameAsStock(randomSpans(seed, 150), `random spans, seed ${seed}`);
  });
});

describe('SpanEncoder: decoded with the official definitions', () => {
  it('says what the spans say: names, ids, parents, kinds, times in nanoseconds, attributes, events, links, status, scopes, resources', () => {
    const w = world();
    const server = w.providerA.getTracer('decoded', '9.9.9');
    const other = w.providerB.getTracer('other', undefined, { schemaUrl: 'https://example.com/s' });
    const parent = server.startSpan(
      'GET /users/:id',
      { kind: SpanKind.SERVER, startTime: [1_700_000_000, 987_654_321] },
      trace.setSpanContext(ROOT_CONTEXT, remoteParent),
    );
    parent.setAttributes({
      str: 'héllo 🚀',
      int: -42,
      big: 2 ** 53 + 2,
      dbl: 0.25,
      yes: true,
      list: ['a', 'b'],
      nums: [1, 2.5],
      bytes: new Uint8Array([1, 2, 255]),
    });
    parent.addEvent('cache miss', { key: 'users:1' }, [1_700_000_000, 999_999_999]);
    parent.setStatus({ code: SpanStatusCode.ERROR, message: 'not found' });
    const child = other.startSpan(
      'SELECT users',
      { kind: SpanKind.CLIENT, links: [{ context: remoteParent, attributes: { why: 'batch' } }] },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    child.end();
    parent.end([1_700_000_001, 5]);
    const spans = w.take();
    const [childSpan, parentSpan] = spans as [ReadableSpan, ReadableSpan];

    const encoder = new SpanEncoder();
    for (const span of spans) encoder.add(span);
    const request = decode(encoder.take().bytes);

    const resources = request.resourceSpans ?? [];
    expect(resources).toHaveLength(2);
    // Grouped by resource in order of first appearance: the child (resource B) ended first.
    expect(resources[0]!.schemaUrl).toBe('https://opentelemetry.io/schemas/1.28.0');
    expect(resources[0]!.resource?.attributes?.find((kv) => kv.key === 'service.name')?.value?.stringValue).toBe('worker');
    expect(resources[1]!.schemaUrl ?? '').toBe('');
    expect(resources[1]!.resource?.attributes?.find((kv) => kv.key === 'host.name')?.value?.stringValue).toBe('hôte-1');
    expect(resources[1]!.resource?.attributes?.find((kv) => kv.key === 'process.pid')?.value?.intValue).toBe('4242');
    const scopeB = resources[0]!.scopeSpans![0]!;
    const scopeA = resources[1]!.scopeSpans![0]!;
    expect(scopeB.scope).toMatchObject({ name: 'other' });
    expect(scopeB.schemaUrl).toBe('https://example.com/s');
    expect(scopeA.scope).toMatchObject({ name: 'decoded', version: '9.9.9' });

    const decodedChild = scopeB.spans![0]!;
    const decodedParent = scopeA.spans![0]!;
    expect(decodedParent.name).toBe('GET /users/:id');
    expect(decodedChild.name).toBe('SELECT users');
    expect(hex(decodedParent.traceId)).toBe(remoteParent.traceId);
    expect(hex(decodedParent.spanId)).toBe(parentSpan.spanContext().spanId);
    expect(hex(decodedParent.parentSpanId)).toBe(remoteParent.spanId);
    expect(decodedParent.traceState).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(hex(decodedChild.parentSpanId)).toBe(parentSpan.spanContext().spanId);
    // proto SpanKind: SERVER 2, CLIENT 3 (the API's are one less).
    expect(decodedParent.kind).toBe(2);
    expect(decodedChild.kind).toBe(3);
    // Span.flags and Link.flags (fixed32 16 and 6) are newer than these definitions, which skip
    // them: the byte comparisons above check them.

    const nanos = (t: readonly [number, number]) => (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
    expect(decodedParent.startTimeUnixNano).toBe('1700000000987654321');
    expect(decodedParent.startTimeUnixNano).toBe(nanos(parentSpan.startTime));
    expect(decodedParent.endTimeUnixNano).toBe('1700000001000000005');
    expect(decodedChild.startTimeUnixNano).toBe(nanos(childSpan.startTime));
    expect(decodedChild.endTimeUnixNano).toBe(nanos(childSpan.endTime));
    // hrTimeToNanoseconds is a double (past 2^53 it rounds): the exact value rounds to it.
    expect(Number(decodedChild.startTimeUnixNano)).toBe(hrTimeToNanoseconds(childSpan.startTime));

    const attributes = Object.fromEntries((decodedParent.attributes ?? []).map((kv) => [kv.key, kv.value]));
    expect(attributes).toEqual({
      str: { stringValue: 'héllo 🚀' },
      int: { intValue: '-42' },
      big: { intValue: '9007199254740994' },
      dbl: { doubleValue: 0.25 },
      yes: { boolValue: true },
      list: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } },
      nums: { arrayValue: { values: [{ intValue: '1' }, { doubleValue: 2.5 }] } },
      bytes: { bytesValue: Buffer.from([1, 2, 255]).toString('base64') },
    });
    expect(decodedParent.events).toHaveLength(1);
    expect(decodedParent.events![0]).toMatchObject({
      name: 'cache miss',
      timeUnixNano: '1700000000999999999',
      attributes: [{ key: 'key', value: { stringValue: 'users:1' } }],
    });
    expect(decodedParent.status).toEqual({ message: 'not found', code: 2 });
    expect(decodedChild.links).toHaveLength(1);
    expect(hex(decodedChild.links![0]!.spanId)).toBe(remoteParent.spanId);
    expect(decodedChild.links![0]!.traceState).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(decodedChild.links![0]!.attributes).toEqual([{ key: 'why', value: { stringValue: 'batch' } }]);
  });
});

// ---------------------------------------------------------------------------------------
// Random spans

/** A small seeded PRNG (mulberry32): the same spans on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomSpans(seed: number, count: number): ReadableSpan[] {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const alphabet = ['a', 'z', '0', ' ', '/', '.', 'é', 'ß', '€', '日', '🚀', '\uD800', '\uDFFF', '\n', '"'];
  const text = (max: number) => {
    let s = '';
    const length = random() < 0.05 ? 100 + int(300) : int(max);
    for (let i = 0; i < length; i++) s += pick(alphabet);
    return s;
  };
  const number = (): number =>
    pick([
      () => int(128),
      () => int(2 ** 31),
      () => int(2 ** 31) * 2 ** 21 + int(2 ** 21),
      () => -int(2 ** 31),
      () => -(int(2 ** 31) * 2 ** 22 + int(2 ** 22)),
      () => (random() - 0.5) * 10 ** int(20),
      () => pick([NaN, Infinity, -Infinity, -0, 2 ** 63, -(2 ** 63), Number.MAX_SAFE_INTEGER]),
    ])();
  const scalar = (): AttributeValue => pick([() => text(50), number, () => random() < 0.5])();
  const value = (): AttributeValue => {
    if (random() < 0.8) return scalar();
    const kind = int(3);
    return Array.from({ length: int(6) }, () => (random() < 0.15 ? null : kind === 0 ? text(10) : kind === 1 ? number() : random() < 0.5)) as AttributeValue;
  };
  const attributes = (max: number): Attributes => {
    const out: Attributes = {};
    for (let i = 0, n = int(max); i < n; i++) out[text(20) || 'k'] = value();
    return out;
  };

  const w = world({ eventCountLimit: 6 });
  const tracers = [
    w.providerA.getTracer('fuzz-a'),
    w.providerA.getTracer('fuzz-b', '1.0.0'),
    w.providerB.getTracer('fuzz-c', '2.0.0', { schemaUrl: 'https://example.com/fuzz' }),
    w.providerB.getTracer('fuzz-a'),
  ];
  const kinds = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER];
  const open: ReturnType<Tracer['startSpan']>[] = [];
  for (let i = 0; i < count; i++) {
    const tracer = pick(tracers);
    const parentChoice = random();
    const parent =
      parentChoice < 0.2
        ? trace.setSpanContext(ROOT_CONTEXT, remoteParent)
        : parentChoice < 0.5 && open.length > 0
          ? trace.setSpan(ROOT_CONTEXT, pick(open))
          : ROOT_CONTEXT;
    const links: Link[] = random() < 0.2 ? [{ context: remoteParent, attributes: attributes(3) }] : [];
    const span = tracer.startSpan(`${i} ${text(30)}`, { kind: pick(kinds), attributes: attributes(12), links }, parent);
    for (let e = 0, n = int(random() < 0.1 ? 10 : 3); e < n; e++) span.addEvent(text(20), random() < 0.5 ? undefined : attributes(4));
    if (random() < 0.1) span.recordException(new Error(text(40)));
    const status = int(5);
    if (status === 1) span.setStatus({ code: SpanStatusCode.OK });
    if (status === 2) span.setStatus({ code: SpanStatusCode.ERROR, message: text(40) });
    open.push(span);
    // End a random open span now and then, so that children and parents end in mixed order.
    while (open.length > 0 && random() < 0.6) open.splice(int(open.length), 1)[0]!.end();
  }
  for (const span of open) span.end();
  const spans = w.take();
  expect(spans).toHaveLength(count);
  return spans;
}
