// OTLP protobuf encoding of spans, one span at a time, as they end: the bytes an
// ExportTraceServiceRequest needs, grouped by resource and instrumentation scope. The
// export processor encodes each turn's ended spans right away and keeps only these bytes,
// so a span object dies young instead of waiting in a queue for its batch.
//
// Why not the stock serializer (otlp-transformer's ProtobufTraceSerializer): it encodes a
// whole batch at export time, so every span lives until its batch is full. At 10 %
// sampling a batch of 64 takes ~30 ms to fill, longer than V8's young generation holds
// an object under load (a scavenge every ~20 ms): spans were promoted to the old
// generation (~3 MB/s, --trace-gc) and paid for again by mark-compacts. It also passes
// over a batch twice (size, then bytes). The output here is byte for byte the stock
// serializer's for the same spans (test/observability/otlp-span-encoder.test.ts).
//
// Wire format: opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto.
import type { Attributes, AttributeValue, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const I32 = 5;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

/** A growable byte buffer with the few protobuf primitives OTLP needs. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    // Outside Node's shared 8 KiB pool: these buffers are long-lived and reused.
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint, or an int64 (two's complement, 10 bytes when negative) as protobuf writes it. */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 127) {
        buf[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    const abs = Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / 4294967296) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      buf[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 127;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** HrTime [seconds, nanoseconds] as fixed64 nanoseconds, exactly (the product exceeds 2^53). */
  time(hrTime: HrTime): void {
    // ns = a × 2^16 + b, with a = ⌊s / 2^16⌋ × 1e9 and b = (s mod 2^16) × 1e9 + nanos, both exact.
    const seconds = hrTime[0];
    const hi = Math.floor(seconds / 65536);
    const a = hi * 1e9;
    const b = (seconds - hi * 65536) * 1e9 + hrTime[1];
    const aLow = a % 65536;
    const bLow = b % 4294967296;
    const t = aLow * 65536 + bLow;
    const low = t % 4294967296;
    const high = (a - aLow) / 65536 + (b - bLow) / 4294967296 + (t - low) / 4294967296;
    this.ensure(8);
    this.buf.writeUInt32LE(low, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    const length = s.length;
    if (length < 43) {
      // At most 3 bytes a UTF-16 unit: the length fits the one byte reserved for it.
      this.ensure(1 + 3 * length);
      const n = this.buf.utf8Write(s, this.pos + 1);
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s);
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.utf8Write(s, this.pos);
  }

  /** A trace or span id, hex in the API, bytes on the wire. */
  hexId(hex: string): void {
    this.ensure(1 + (hex.length >>> 1));
    const n = this.buf.hexWrite(hex, this.pos + 1);
    this.buf[this.pos] = n;
    this.pos += 1 + n;
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Reserves one byte for a length; `end` writes it, moving the body when it needs more. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  end(at: number): void {
    const length = this.pos - at - 1;
    if (length < 128) {
      this.buf[at] = length;
      return;
    }
    const size = length < 16384 ? 2 : length < 2097152 ? 3 : length < 268435456 ? 4 : 5;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = length;
    let p = at;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}

// Node's Buffer has these (used by buf.write); @types/node does not declare them.
declare module 'node:buffer' {
  interface Buffer {
    utf8Write(s: string, offset?: number, length?: number): number;
    hexWrite(s: string, offset?: number, length?: number): number;
  }
}

/** KeyValue.key as bytes (tag, length, UTF-8): attribute keys are a small, fixed set. */
const keyBytes = new Map<string, Buffer>();
const KEY_CACHE_LIMIT = 1024;

function writeKey(w: Writer, key: string): void {
  let bytes = keyBytes.get(key);
  if (bytes === undefined) {
    const k = new Writer(key.length * 3 + 8);
    k.byte(tag(1, LEN));
    k.string(key);
    bytes = Buffer.from(k.buf.subarray(0, k.pos));
    if (keyBytes.size < KEY_CACHE_LIMIT) keyBytes.set(key, bytes);
  }
  w.ensure(bytes.length);
  bytes.copy(w.buf, w.pos);
  w.pos += bytes.length;
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** AnyValue: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7; null is the empty message. */
function writeAnyValue(w: Writer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.byte(tag(1, LEN));
      w.string(value);
      return;
    case 'boolean':
      w.byte(tag(2, VARINT));
      w.byte(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.byte(tag(3, VARINT));
        w.varint(value);
      } else {
        w.byte(tag(4, I64));
        w.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    w.byte(tag(7, LEN));
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.byte(tag(5, LEN));
    const array = w.begin();
    for (const item of value) {
      w.byte(tag(1, LEN));
      const at = w.begin();
      writeAnyValue(w, item);
      w.end(at);
    }
    w.end(array);
  } else if (typeof value === 'object' && value !== null) {
    w.byte(tag(6, LEN));
    const list = w.begin();
    writeAttributes(w, value as Attributes, 1);
    w.end(list);
  }
}

/** `repeated KeyValue` as field `field`. */
function writeAttributes(w: Writer, attributes: Attributes, field: number): void {
  const fieldTag = tag(field, LEN);
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    w.byte(fieldTag);
    const kv = w.begin();
    writeKey(w, key);
    w.byte(tag(2, LEN));
    const value = w.begin();
    writeAnyValue(w, attributes[key] as AttributeValue);
    w.end(value);
    w.end(kv);
  }
}

const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const spanFlags = (traceFlags: number, isRemote: boolean | undefined) => (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);

/** Span.Event: time 1, name 2, attributes 3, dropped_attributes_count 4. */
function writeEvent(w: Writer, event: TimedEvent): void {
  w.byte(tag(11, LEN));
  const at = w.begin();
  w.byte(tag(1, I64));
  w.time(event.time);
  w.byte(tag(2, LEN));
  w.string(event.name);
  if (event.attributes) writeAttributes(w, event.attributes, 3);
  w.byte(tag(4, VARINT));
  w.varint(event.droppedAttributesCount ?? 0);
  w.end(at);
}

/** trace_id 1, span_id 2, trace_state 3: the same fields in Span and Span.Link. */
function writeContext(w: Writer, ctx: SpanContext): void {
  w.byte(tag(1, LEN));
  w.hexId(ctx.traceId);
  w.byte(tag(2, LEN));
  w.hexId(ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) {
    w.byte(tag(3, LEN));
    w.string(traceState);
  }
}

/** Span.Link: trace_id 1, span_id 2, trace_state 3, attributes 4, dropped 5, flags 6. */
function writeLink(w: Writer, link: Link): void {
  w.byte(tag(13, LEN));
  const at = w.begin();
  const ctx = link.context;
  writeContext(w, ctx);
  if (link.attributes) writeAttributes(w, link.attributes, 4);
  w.byte(tag(5, VARINT));
  w.varint(link.droppedAttributesCount ?? 0);
  w.byte(tag(6, I32));
  w.fixed32(spanFlags(ctx.traceFlags, ctx.isRemote));
  w.end(at);
}

/** ScopeSpans.spans (field 2): one Span message, fields in the order of trace.proto. */
function writeSpan(w: Writer, span: ReadableSpan): void {
  w.byte(tag(2, LEN));
  const at = w.begin();
  const ctx = span.spanContext();
  writeContext(w, ctx);
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.byte(tag(4, LEN));
    w.hexId(parent.spanId);
  }
  w.byte(tag(5, LEN));
  w.string(span.name);
  // SpanKind in the API starts at INTERNAL = 0; in the proto 0 is UNSPECIFIED.
  if (span.kind != null) {
    w.byte(tag(6, VARINT));
    w.varint(span.kind + 1);
  }
  w.byte(tag(7, I64));
  w.time(span.startTime);
  w.byte(tag(8, I64));
  w.time(span.endTime);
  if (span.attributes) writeAttributes(w, span.attributes, 9);
  w.byte(tag(10, VARINT));
  w.varint(span.droppedAttributesCount);
  for (const event of span.events) writeEvent(w, event);
  w.byte(tag(12, VARINT));
  w.varint(span.droppedEventsCount);
  for (const link of span.links) writeLink(w, link);
  w.byte(tag(14, VARINT));
  w.varint(span.droppedLinksCount);
  // Status: message 2, code 3.
  w.byte(tag(15, LEN));
  const status = w.begin();
  if (span.status.message) {
    w.byte(tag(2, LEN));
    w.string(span.status.message);
  }
  w.byte(tag(3, VARINT));
  w.varint(span.status.code);
  w.end(status);
  w.varint(tag(16, I32));
  w.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
  w.end(at);
}

/** Resource (ResourceSpans field 1): attributes 1, dropped_attributes_count 2. */
function encodeResource(resource: Resource): Buffer {
  const w = new Writer(1024);
  w.byte(tag(1, LEN));
  const at = w.begin();
  if (resource.attributes) writeAttributes(w, resource.attributes, 1);
  w.byte(tag(2, VARINT));
  w.byte(0);
  w.end(at);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** InstrumentationScope (ScopeSpans field 1): name 1, version 2, attributes 3, dropped 4. */
function encodeScope(scope: InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number }): Buffer {
  const w = new Writer(256);
  w.byte(tag(1, LEN));
  const at = w.begin();
  w.byte(tag(1, LEN));
  w.string(scope.name);
  if (scope.version) {
    w.byte(tag(2, LEN));
    w.string(scope.version);
  }
  if (scope.attributes) writeAttributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.byte(tag(4, VARINT));
    w.varint(scope.droppedAttributesCount);
  }
  w.end(at);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** The encoded resource, once its detectors have all answered (before, it may still change). */
const resourceBytes = new WeakMap<Resource, Buffer>();
function resourceOf(resource: Resource): Buffer {
  let bytes = resourceBytes.get(resource);
  if (bytes === undefined) {
    bytes = encodeResource(resource);
    if (!resource.asyncAttributesPending) resourceBytes.set(resource, bytes);
  }
  return bytes;
}

interface ScopeGroup {
  scope: InstrumentationScope;
  header: Buffer;
  spans: Writer;
}

interface ResourceGroup {
  resource: Resource;
  scopes: Map<InstrumentationScope, ScopeGroup>;
  /** The scopes with spans in the current batch, in the order they first appeared in it. */
  batch: ScopeGroup[];
}

/** The encoded spans of one batch: the body of an ExportTraceServiceRequest. */
export interface EncodedSpans {
  bytes: Uint8Array;
  count: number;
}

/** Collects encoded spans; `take` returns them as one ExportTraceServiceRequest and starts over. */
export class SpanEncoder {
  /** Every resource and scope seen, with its encoded header and reusable span buffer. */
  private readonly resources = new Map<Resource, ResourceGroup>();
  /** The resources with spans in the current batch, in the order they first appeared in it. */
  private batch: ResourceGroup[] = [];
  private readonly out = new Writer(64 * 1024);
  /** Spans added since the last take. */
  count = 0;

  add(span: ReadableSpan): void {
    let resource = this.resources.get(span.resource);
    if (resource === undefined) this.resources.set(span.resource, (resource = { resource: span.resource, scopes: new Map(), batch: [] }));
    const scope = span.instrumentationScope;
    let group = resource.scopes.get(scope);
    if (group === undefined) resource.scopes.set(scope, (group = { scope, header: encodeScope(scope), spans: new Writer(16 * 1024) }));
    // Groups in order of first appearance within the batch, as the stock serializer has them.
    if (group.spans.pos === 0) {
      if (resource.batch.length === 0) this.batch.push(resource);
      resource.batch.push(group);
    }
    writeSpan(group.spans, span);
    this.count += 1;
  }

  take(): EncodedSpans {
    const out = this.out;
    out.pos = 0;
    for (const { resource, batch } of this.batch) {
      // ExportTraceServiceRequest.resource_spans (1) → ResourceSpans { resource 1, scope_spans 2, schema_url 3 }
      out.byte(tag(1, LEN));
      const rs = out.begin();
      const header = resourceOf(resource);
      out.ensure(header.length);
      out.pos += header.copy(out.buf, out.pos);
      for (const group of batch) {
        // ScopeSpans { scope 1, spans 2, schema_url 3 }
        out.byte(tag(2, LEN));
        const ss = out.begin();
        out.ensure(group.header.length + group.spans.pos);
        out.pos += group.header.copy(out.buf, out.pos);
        out.pos += group.spans.buf.copy(out.buf, out.pos, 0, group.spans.pos);
        if (group.scope.schemaUrl) {
          out.byte(tag(3, LEN));
          out.string(group.scope.schemaUrl);
        }
        out.end(ss);
        group.spans.pos = 0;
      }
      batch.length = 0;
      if (resource.schemaUrl) {
        out.byte(tag(3, LEN));
        out.string(resource.schemaUrl);
      }
      out.end(rs);
    }
    this.batch = [];
    // A copy of its exact size: the transport keeps it until sent (and for retries).
    const taken = { bytes: Buffer.from(out.buf.subarray(0, out.pos)), count: this.count };
    this.count = 0;
    return taken;
  }
}
