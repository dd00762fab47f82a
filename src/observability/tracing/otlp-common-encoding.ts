// The OTLP messages spans share with every signal, encoded as the stock serializer
// (otlp-transformer) encodes them: attributes (KeyValue and AnyValue, common/v1/common.proto),
// the Resource (resource/v1/resource.proto) and the InstrumentationScope. The span messages
// themselves are otlp-span-encoder.ts's.
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { I64, LEN, ProtobufWriter, tag, VARINT } from './protobuf-writer.ts';

/** KeyValue.key as bytes (tag, length, UTF-8): attribute keys are a small, fixed set. */
const keyBytes = new Map<string, Buffer>();
const KEY_CACHE_LIMIT = 1024;

function writeKey(w: ProtobufWriter, key: string): void {
  let bytes = keyBytes.get(key);
  if (bytes === undefined) {
    const k = new ProtobufWriter(key.length * 3 + 8);
    k.byte(tag(1, LEN));
    k.string(key);
    bytes = k.copyOut();
    if (keyBytes.size < KEY_CACHE_LIMIT) keyBytes.set(key, bytes);
  }
  w.raw(bytes);
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** AnyValue: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7; null is the empty message. */
function writeAnyValue(w: ProtobufWriter, value: unknown): void {
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
export function writeAttributes(w: ProtobufWriter, attributes: Attributes, field: number): void {
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

/** Resource (ResourceSpans field 1): attributes 1, dropped_attributes_count 2. */
function encodeResource(resource: Resource): Buffer {
  const w = new ProtobufWriter(1024);
  w.byte(tag(1, LEN));
  const at = w.begin();
  if (resource.attributes) writeAttributes(w, resource.attributes, 1);
  w.byte(tag(2, VARINT));
  w.byte(0);
  w.end(at);
  return w.copyOut();
}

/** The encoded resource, once its detectors have all answered (before, it may still change). */
const resourceBytes = new WeakMap<Resource, Buffer>();

/** ResourceSpans.resource (field 1, tag included) of a resource: encoded once per resource. */
export function encodedResource(resource: Resource): Buffer {
  let bytes = resourceBytes.get(resource);
  if (bytes === undefined) {
    bytes = encodeResource(resource);
    if (!resource.asyncAttributesPending) resourceBytes.set(resource, bytes);
  }
  return bytes;
}

/** ScopeSpans.scope (field 1, tag included): name 1, version 2, attributes 3, dropped 4. */
export function encodeScope(scope: InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number }): Buffer {
  const w = new ProtobufWriter(256);
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
  return w.copyOut();
}
