// Starts OpenTelemetry tracing from the standard OTEL_* variables, as NodeSDK would (and
// with NodeSDK itself when OTLP metrics or logs are asked for). Loaded by the `--import`
// entry (src/observability/instrument.ts) before any application module. What each
// variable means, and the SDK part it becomes, is tracing-env.ts's.
//
// What it sets up, and why:
// - Traces only. Metrics are Prometheus' job (/metrics) and logs go to stdout; OTLP metrics
//   or logs start only when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.
// - One export processor per exporter (export-span-processor.ts), behind the redacting one;
//   the runtime sums what they lose (`loss()`) for the metrics and the loss warning.
// - Resource: service.name (OTEL_SERVICE_NAME, default the service's own name),
//   service.version, deployment.environment from APP_ENV, plus OTEL_RESOURCE_ATTRIBUTES.
// - Instrumentation: the HTTP server span, SQL, jobs and the order flow are ours (see
//   http-server-spans.ts and the README's Performance section for why), made by our lean
//   tracer (lean-tracer.ts: the SDK's span rules without its per-attribute allocations);
//   ioredis and undici (fetch) use the stock instrumentations and the SDK's tracer.
import { context, diag, DiagConsoleLogger, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
// Type only (erased): the module itself is required lazily, see startNodeSdk.
import type { NodeSDK as NodeSDKClass } from '@opentelemetry/sdk-node';
import { diagLogLevelFromString } from '@opentelemetry/core';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { detectResources, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { TracerProvider, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { createRequire } from 'node:module';
import { sumExportBlocking, type ExportBlockingCounts } from './export-blocking.ts';
import { ExportSpanProcessor } from './export-span-processor.ts';
import { LeanTracer } from './lean-tracer.ts';
import { RedactingSpanProcessor } from './redacting-span-processor.ts';
import { NO_TELEMETRY_LOSS, sumTelemetryLoss, type TelemetryLoss } from './telemetry-loss.ts';
import { TRACER_SCOPE, useTracer } from './tracer.ts';
import { batchSettingsFromEnv, detectorsFromEnv, exportersFromEnv, list, propagatorFromEnv, samplerFromEnv, spanLimitsFromEnv } from './tracing-env.ts';

// Earlier public names of this module: kept so their importers need not change.
export { exportersFromEnv, samplerFromEnv } from './tracing-env.ts';

export interface TracingRuntime {
  /** false when OTEL_SDK_DISABLED=true: no spans at all. */
  enabled: boolean;
  /** What the spans are exported to, for the startup log line. */
  exporters: string[];
  /** Exports what is buffered, then stops; idempotent. */
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
  /** What the export pipeline lost since it started, summed over every exporter (cumulative). */
  loss(): TelemetryLoss;
  /** How long the export work held the event loop, block by block, over every exporter (cumulative). */
  exportBlocking(): ExportBlockingCounts;
}

export interface StartTracingOptions {
  env?: NodeJS.ProcessEnv;
  /** service.name unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says otherwise; default "glassbox". */
  serviceName?: string;
  serviceVersion: string;
  /** Extra processors (tests add an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

const DISABLED: TracingRuntime = {
  enabled: false,
  exporters: [],
  shutdown: async () => {},
  forceFlush: async () => {},
  loss: () => NO_TELEMETRY_LOSS,
  exportBlocking: () => sumExportBlocking([]),
};
let current: TracingRuntime = DISABLED;

/** The runtime the `--import` entry started, or a disabled one when the process runs without it. */
export function tracingRuntime(): TracingRuntime {
  return current;
}

// NodeSDK is loaded only when chosen, synchronously: the entry must finish before the app loads.
const require = createRequire(import.meta.url);

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
  const exportProcessors = exporters.map(({ exporter }) => new ExportSpanProcessor({ exporter, ...batchSettingsFromEnv(env) }));
  const processors: SpanProcessor[] = [...exportProcessors, ...(options.spanProcessors ?? [])];
  // Ours first; the detectors (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, host, process) override.
  const resource = resourceFromAttributes({
    'service.name': options.serviceName ?? 'glassbox',
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
    loss: () => sumTelemetryLoss(exportProcessors.map((p) => p.loss())),
    exportBlocking: () => sumExportBlocking(exportProcessors.map((p) => p.blockingCounts())),
  });
}
