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
// Wire format: opentelemetry/proto/trace/v1/trace.proto (the span messages, here), common/v1/
// common.proto (attributes, resource, scope: otlp-common-encoding.ts), written with the
// protobuf primitives of protobuf-writer.ts.
import type { Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { encodedResource, encodeScope, writeAttributes } from './otlp-common-encoding.ts';
import { I32, I64, LEN, ProtobufWriter, tag, VARINT } from './protobuf-writer.ts';

// Span.flags and Link.flags (trace.proto's SpanFlags): the W3C trace flags in the low byte,
// then whether the parent (or linked) context's remoteness is known, and whether it is remote.
const W3C_TRACE_FLAGS_MASK = 0xff;
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const spanFlags = (traceFlags: number, isRemote: boolean | undefined) => (traceFlags & W3C_TRACE_FLAGS_MASK) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);

/** Span.Event: time 1, name 2, attributes 3, dropped_attributes_count 4. */
function writeEvent(w: ProtobufWriter, event: TimedEvent): void {
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
function writeContext(w: ProtobufWriter, ctx: SpanContext): void {
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
function writeLink(w: ProtobufWriter, link: Link): void {
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
function writeSpan(w: ProtobufWriter, span: ReadableSpan): void {
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

interface ScopeGroup {
  scope: InstrumentationScope;
  header: Buffer;
  spans: ProtobufWriter;
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
  private readonly out = new ProtobufWriter(64 * 1024);
  /** Spans added since the last take. */
  count = 0;

  add(span: ReadableSpan): void {
    let resource = this.resources.get(span.resource);
    if (resource === undefined) this.resources.set(span.resource, (resource = { resource: span.resource, scopes: new Map(), batch: [] }));
    const scope = span.instrumentationScope;
    let group = resource.scopes.get(scope);
    if (group === undefined) resource.scopes.set(scope, (group = { scope, header: encodeScope(scope), spans: new ProtobufWriter(16 * 1024) }));
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
      out.raw(encodedResource(resource));
      for (const group of batch) {
        // ScopeSpans { scope 1, spans 2, schema_url 3 }
        out.byte(tag(2, LEN));
        const ss = out.begin();
        out.raw(group.header);
        out.raw(group.spans.buf, 0, group.spans.pos);
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
    const taken = { bytes: out.copyOut(), count: this.count };
    this.count = 0;
    return taken;
  }
}
