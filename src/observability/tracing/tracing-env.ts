// The OTEL_* environment variables the tracing setup (sdk.ts) reads, turned into SDK parts
// as the spec and NodeSDK define them: exporters (OTEL_TRACES_EXPORTER, OTLP protocol),
// the batch processor's OTEL_BSP_*, the sampler, propagators, span limits and resource
// detectors. Only parsing and construction: nothing here starts or registers anything.
//
// - With no exporter named and no endpoint set, spans are still created (log lines carry
//   trace ids) but exported nowhere, quietly: a laptop without a collector must not log
//   connection errors every five seconds.
// - Samplers per the spec (OTEL_TRACES_SAMPLER/_ARG), parentbased_always_on by default.
import type { TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { envDetector, hostDetector, osDetector, processDetector, serviceInstanceIdDetector, type ResourceDetector } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanLimits,
} from '@opentelemetry/sdk-trace';
import { createRequire } from 'node:module';
import type { ExportSpanProcessorOptions } from './export-span-processor.ts';
import { OtlpProtobufSpanExporter } from './otlp-exporter.ts';

/** A comma-separated list variable, lower-cased, blanks dropped. */
export const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

// Exporters' transports are loaded only when chosen (synchronously: the --import entry must
// finish before the app loads): the gRPC one alone pulls in @grpc/grpc-js, megabytes a
// process without it never needs.
const require = createRequire(import.meta.url);
type ExporterModule = { OTLPTraceExporter: new () => SpanExporter };

function otlpExporter(env: NodeJS.ProcessEnv): { exporter: SpanExporter; name: string } {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  // The exporters read OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT/_HEADERS/_TIMEOUT/_COMPRESSION themselves.
  switch (protocol) {
    case 'grpc':
      return { exporter: new OtlpProtobufSpanExporter('grpc'), name: 'otlp/grpc' };
    case 'http/json': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as ExporterModule;
      return { exporter: new OTLPTraceExporter(), name: 'otlp/http-json' };
    }
    default:
      return { exporter: new OtlpProtobufSpanExporter('http/protobuf'), name: 'otlp/http-protobuf' };
  }
}

/** The exporters OTEL_TRACES_EXPORTER asks for, or otlp when only an endpoint is set. */
export function exportersFromEnv(env: NodeJS.ProcessEnv): { exporter: SpanExporter; name: string }[] {
  let names = list(env.OTEL_TRACES_EXPORTER);
  if (names.length === 0) {
    const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
    names = endpoint ? ['otlp'] : [];
  }
  if (names.includes('none')) return [];
  return names.flatMap((name) => {
    if (name === 'otlp') return [otlpExporter(env)];
    if (name === 'console') return [{ exporter: new ConsoleSpanExporter(), name: 'console' }];
    return [];
  });
}

/** The spec's batch span processor variables (OTEL_BSP_*), honoured by our processor. */
export function batchSettingsFromEnv(env: NodeJS.ProcessEnv): Omit<ExportSpanProcessorOptions, 'exporter'> {
  const num = (name: string) => {
    const n = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const settings = {
    scheduledDelayMillis: num('OTEL_BSP_SCHEDULE_DELAY'),
    maxExportBatchSize: num('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    maxQueueSize: num('OTEL_BSP_MAX_QUEUE_SIZE'),
    exportTimeoutMillis: num('OTEL_BSP_EXPORT_TIMEOUT'),
  };
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
}

/** OTEL_TRACES_SAMPLER / _ARG per the spec; parentbased_always_on when unset or unknown. */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase();
  const raw = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG !== undefined && Number.isFinite(raw) && raw >= 0 && raw <= 1 ? raw : 1;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** OTEL_PROPAGATORS: tracecontext and baggage (the default), or none. */
export function propagatorFromEnv(env: NodeJS.ProcessEnv): TextMapPropagator | undefined {
  const names = list(env.OTEL_PROPAGATORS);
  if (names.includes('none')) return undefined;
  const chosen = names.length === 0 ? ['tracecontext', 'baggage'] : names;
  const propagators: TextMapPropagator[] = [];
  if (chosen.includes('tracecontext')) propagators.push(new W3CTraceContextPropagator());
  if (chosen.includes('baggage')) propagators.push(new W3CBaggagePropagator());
  return new CompositePropagator({ propagators });
}

/** OTEL_SPAN_*_LIMIT / OTEL_ATTRIBUTE_*_LIMIT, as the spec names them. */
export function spanLimitsFromEnv(env: NodeJS.ProcessEnv): SpanLimits {
  const num = (...names: string[]) => {
    for (const name of names) {
      const n = Number(env[name]);
      if (env[name] !== undefined && Number.isInteger(n) && n >= 0) return n;
    }
    return undefined;
  };
  const limits = {
    attributeCountLimit: num('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'),
    attributeValueLengthLimit: num('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'),
    eventCountLimit: num('OTEL_SPAN_EVENT_COUNT_LIMIT'),
    linkCountLimit: num('OTEL_SPAN_LINK_COUNT_LIMIT'),
  };
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

/** Resource detectors as NodeSDK picks them (OTEL_NODE_RESOURCE_DETECTORS, default all). */
export function detectorsFromEnv(env: NodeJS.ProcessEnv): ResourceDetector[] {
  const all: Record<string, ResourceDetector> = {
    env: envDetector,
    host: hostDetector,
    os: osDetector,
    process: processDetector,
    serviceinstance: serviceInstanceIdDetector,
  };
  const names = list(env.OTEL_NODE_RESOURCE_DETECTORS);
  if (names.length === 0 || names.includes('all')) return [serviceInstanceIdDetector, processDetector, hostDetector, osDetector, envDetector];
  if (names.includes('none')) return [];
  return names.flatMap((n) => all[n] ?? []);
}
