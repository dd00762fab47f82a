// The OTLP span exporter for protobuf over HTTP (the spec's default) and over gRPC: the
// stock exporters' transports (endpoint, headers, timeout, compression, TLS and retries
// from the OTEL_EXPORTER_OTLP_* variables, all theirs), fed with spans our export
// processor has already encoded (otlp-span-encoder.ts) instead of span objects. http/json
// keeps the stock exporter: it has no protobuf to share.
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { createRequire } from 'node:module';
import { SpanEncoder, type EncodedSpans } from './otlp-span-encoder.ts';

/** What the stock export delegates are (otlp-exporter-base's IOtlpExportDelegate). */
interface ExportDelegate {
  export(batch: EncodedSpans, done: (result: ExportResult) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** An exporter that takes encoded spans; ExportSpanProcessor encodes as spans end when it has one. */
export interface EncodedSpanExporter extends SpanExporter {
  createEncoder(): SpanEncoder;
  exportEncoded(batch: EncodedSpans, done: (result: ExportResult) => void): void;
}

export function isEncodedSpanExporter(exporter: SpanExporter): exporter is EncodedSpanExporter {
  return typeof (exporter as Partial<EncodedSpanExporter>).exportEncoded === 'function';
}

// Loaded when chosen: the gRPC transport alone pulls in @grpc/grpc-js.
const require = createRequire(import.meta.url);

type Serializer = { serializeRequest(batch: EncodedSpans): Uint8Array; deserializeResponse(data: Uint8Array): unknown };
const metricsHelper = { name: 'span', countItems: (batch: EncodedSpans) => batch.count };

function serializer(): Serializer {
  const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer') as {
    ProtobufTraceSerializer: { deserializeResponse(data: Uint8Array): unknown };
  };
  return { serializeRequest: (batch) => batch.bytes, deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data) };
}

function httpDelegate(): ExportDelegate {
  const http = require('@opentelemetry/otlp-exporter-base/node-http') as {
    convertLegacyHttpOptions(config: object, signal: string, path: string, headers: Record<string, string>): object;
    createOtlpHttpExportDelegate(options: object, serializer: Serializer, componentType: string, helper: typeof metricsHelper): ExportDelegate;
  };
  const options = http.convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  return http.createOtlpHttpExportDelegate(options, serializer(), 'otlp_http_span_exporter', metricsHelper);
}

function grpcDelegate(): ExportDelegate {
  const grpc = require('@opentelemetry/otlp-grpc-exporter-base') as {
    convertLegacyOtlpGrpcOptions(config: object, signal: string): object;
    createOtlpGrpcExportDelegate(
      options: object,
      serializer: Serializer,
      componentType: string,
      helper: typeof metricsHelper,
      meterProvider: undefined,
      grpcName: string,
      grpcPath: string,
    ): ExportDelegate;
  };
  const options = grpc.convertLegacyOtlpGrpcOptions({}, 'TRACES');
  return grpc.createOtlpGrpcExportDelegate(
    options,
    serializer(),
    'otlp_grpc_span_exporter',
    metricsHelper,
    undefined,
    'TraceExportService',
    '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  );
}

export class OtlpProtobufSpanExporter implements EncodedSpanExporter {
  private readonly delegate: ExportDelegate;

  constructor(protocol: 'grpc' | 'http/protobuf') {
    this.delegate = protocol === 'grpc' ? grpcDelegate() : httpDelegate();
  }

  createEncoder(): SpanEncoder {
    return new SpanEncoder();
  }

  exportEncoded(batch: EncodedSpans, done: (result: ExportResult) => void): void {
    this.delegate.export(batch, done);
  }

  /** The plain SpanExporter call, for any other caller: encodes, then sends. */
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const encoder = new SpanEncoder();
    for (const span of spans) encoder.add(span);
    this.exportEncoded(encoder.take(), done);
  }

  forceFlush(): Promise<void> {
    return this.delegate.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.delegate.shutdown();
  }
}
