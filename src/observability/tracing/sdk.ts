// Starts OpenTelemetry tracing from the standard OTEL_* variables, as NodeSDK would (and
// with NodeSDK itself when OTLP metrics or logs are asked for). Loaded by src/instrument.ts
// (node --import) before any application module.
//
// What it sets up, and why:
// - Traces only. Metrics are Prometheus' job (/metrics) and logs go to stdout; OTLP metrics
//   or logs start only when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.
// - Exporters per the spec: OTEL_TRACES_EXPORTER (otlp, console, none) and, for otlp,
//   OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL (grpc, http/protobuf — the default — or http/json)
//   to OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT. With no exporter named and no endpoint set, spans
//   are still created (log lines carry trace ids) but exported nowhere, quietly: a laptop
//   without a collector must not log connection errors every five seconds.
// - Samplers per the spec (OTEL_TRACES_SAMPLER/_ARG), parentbased_always_on by default.
// - Resource: service.name (OTEL_SERVICE_NAME, default "glassbox"), service.version,
//   deployment.environment from APP_ENV, plus OTEL_RESOURCE_ATTRIBUTES.
// - Instrumentation: the HTTP server span, SQL, jobs and the order flow are ours (see
//   http-server-spans.ts and the README's Performance section for why), made by our lean
//   tracer (lean-tracer.ts: the SDK's span rules without its per-attribute allocations);
//   ioredis and undici (fetch) use the stock instrumentations and the SDK's tracer.
import { context, diag, DiagConsoleLogger, propagation, trace, type TextMapPropagator } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
// Type only (erased): the module itself is required lazily, see startNodeSdk.
import type { NodeSDK as NodeSDKClass } from '@opentelemetry/sdk-node';
import { CompositePropagator, diagLogLevelFromString, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import {
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  type Resource,
  type ResourceDetector,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { createRequire } from 'node:module';
import { ExportSpanProcessor } from './export-span-processor.ts';
import { LeanTracer } from './lean-tracer.ts';
import { OtlpProtobufSpanExporter } from './otlp-exporter.ts';
import { RedactingSpanProcessor } from './redacting-span-processor.ts';
import { TRACER_SCOPE, useTracer } from './tracer.ts';

export interface TracingRuntime {
  /** false when OTEL_SDK_DISABLED=true: no spans at all. */
  enabled: boolean;
  /** What the spans are exported to, for the startup log line. */
  exporters: string[];
  /** Exports what is buffered, then stops; idempotent. */
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

// Exporters' transports are loaded only when chosen (synchronously: instrument.ts must
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
function batchSettings(env: NodeJS.ProcessEnv) {
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

export interface StartTracingOptions {
  env?: NodeJS.ProcessEnv;
  serviceVersion: string;
  /** Extra processors (tests add an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

const DISABLED: TracingRuntime = { enabled: false, exporters: [], shutdown: async () => {}, forceFlush: async () => {} };
let current: TracingRuntime = DISABLED;

/** The runtime src/instrument.ts started, or a disabled one when the process runs without it. */
export function tracingRuntime(): TracingRuntime {
  return current;
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
function propagatorFromEnv(env: NodeJS.ProcessEnv): TextMapPropagator | undefined {
  const names = list(env.OTEL_PROPAGATORS);
  if (names.includes('none')) return undefined;
  const chosen = names.length === 0 ? ['tracecontext', 'baggage'] : names;
  const propagators: TextMapPropagator[] = [];
  if (chosen.includes('tracecontext')) propagators.push(new W3CTraceContextPropagator());
  if (chosen.includes('baggage')) propagators.push(new W3CBaggagePropagator());
  return new CompositePropagator({ propagators });
}

/** OTEL_SPAN_*_LIMIT / OTEL_ATTRIBUTE_*_LIMIT, as the spec names them. */
function spanLimitsFromEnv(env: NodeJS.ProcessEnv) {
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
function detectorsFromEnv(env: NodeJS.ProcessEnv): ResourceDetector[] {
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

/**
 * Traces only, from the SDK's own parts: what NodeSDK.start() does for traces (context
 * manager, propagator, resource detection, sampler and span limits from the environment,
 * the tracer provider, the instrumentations), without importing NodeSDK. NodeSDK imports
 * every metrics and logs exporter it could ever start (gRPC included) at load time: 22 MB
 * of resident memory in every process, measured, for signals we do not send by default.
 */
function startTracesOnly(
  env: NodeJS.ProcessEnv,
  resource: Resource,
  spanProcessors: SpanProcessor[],
  instrumentations: Instrumentation[],
  sampler: Sampler,
): () => Promise<void> {
  const provider = new TracerProvider({ resource, sampler, spanLimits: spanLimitsFromEnv(env), spanProcessors });
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  const propagator = propagatorFromEnv(env);
  if (propagator) propagation.setGlobalPropagator(propagator);
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({ instrumentations, tracerProvider: provider });
  return () => provider.shutdown();
}

/** Every signal: NodeSDK, loaded only when OTEL_METRICS_EXPORTER or OTEL_LOGS_EXPORTER asks for OTLP metrics or logs. */
function startNodeSdk(
  env: NodeJS.ProcessEnv,
  resource: Resource,
  spanProcessors: SpanProcessor[],
  instrumentations: Instrumentation[],
  sampler: Sampler,
): () => Promise<void> {
  const { NodeSDK } = require('@opentelemetry/sdk-node') as { NodeSDK: typeof NodeSDKClass };
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false, // detected above, the same way for both paths
    spanProcessors,
    sampler,
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations,
  });
  sdk.start();
  return () => sdk.shutdown();
}

export function startTracing(options: StartTracingOptions): TracingRuntime {
  const env = options.env ?? process.env;
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return (current = DISABLED);
  // The SDK's own diagnostics (export failures…) on the console, only when asked for.
  const diagLevel = diagLogLevelFromString(env.OTEL_LOG_LEVEL);
  if (diagLevel !== undefined) diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLevel });
  const exporters = exportersFromEnv(env);
  const processors: SpanProcessor[] = [
    ...exporters.map(({ exporter }) => new ExportSpanProcessor({ exporter, ...batchSettings(env) })),
    ...(options.spanProcessors ?? []),
  ];
  // Ours first; the detectors (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, host, process) override.
  const resource = resourceFromAttributes({
    'service.name': 'glassbox',
    'service.version': options.serviceVersion,
    'deployment.environment': env.APP_ENV ?? 'development',
    'deployment.environment.name': env.APP_ENV ?? 'development',
  }).merge(detectResources({ detectors: detectorsFromEnv(env) }));
  // Redaction runs first, on every span, so no exporter ever sees a secret attribute.
  const spanProcessors = [new RedactingSpanProcessor(processors)];
  const instrumentations = [new IORedisInstrumentation({ requireParentSpan: true }), new UndiciInstrumentation({ requireParentforSpans: true })];
  const otherSignals = [env.OTEL_METRICS_EXPORTER, env.OTEL_LOGS_EXPORTER].some((v) => v !== undefined && list(v).some((n) => n !== 'none'));
  const sampler = samplerFromEnv(env);
  const shutdown = (otherSignals ? startNodeSdk : startTracesOnly)(env, resource, spanProcessors, instrumentations, sampler);
  // Our own spans come from the lean tracer: the same sampler, resource, limits and
  // processors as the SDK's, without its per-attribute allocations (lean-tracer.ts).
  useTracer(new LeanTracer({ scope: TRACER_SCOPE, resource, sampler, spanProcessor: spanProcessors[0]!, spanLimits: spanLimitsFromEnv(env) }));
  let stopped: Promise<void> | undefined;
  return (current = {
    enabled: true,
    exporters: exporters.map((e) => e.name),
    shutdown: () => (stopped ??= shutdown()),
    forceFlush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
    },
  });
}
