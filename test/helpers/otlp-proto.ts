// OTLP payloads decoded with the official opentelemetry-proto definitions (the generated
// protobufjs root that `otlp-proto-definitions`, @opentelemetry/otlp-transformer@0.57, ships),
// so what the tests check is what a collector would read.
import { createRequire } from 'node:module';

interface ProtoType {
  decode(buf: Uint8Array): unknown;
  toObject(message: unknown, options: { longs: StringConstructor; bytes: StringConstructor }): unknown;
}

const otlpRoot = createRequire(import.meta.url)('otlp-proto-definitions/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType } } } } };
};
const ExportTraceServiceRequest = otlpRoot.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/** An ExportTraceServiceRequest as a plain object: 64-bit numbers as strings, bytes base64. */
export function decodeTraceRequest<T>(bytes: Uint8Array): T {
  return ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(bytes), { longs: String, bytes: String }) as T;
}
