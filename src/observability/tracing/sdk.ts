// Starts the OpenTelemetry NodeSDK from the standard OTEL_* variables. Loaded by
// src/instrument.ts (node --import) before any application module.
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
//   http-server-spans.ts and the README's Performance section for why); ioredis and undici
//   (fetch) use the stock instrumentations.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ConsoleSpanExporter, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { createRequire } from 'node:module';
import { ExportSpanProcessor } from './export-span-processor.ts';
import { RedactingSpanProcessor } from './redacting-span-processor.ts';

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

// Exporters are loaded only when chosen (synchronously: instrument.ts must finish before
// the app loads): the gRPC one alone pulls in @grpc/grpc-js, megabytes a process without
// it never needs.
const require = createRequire(import.meta.url);
type ExporterModule = { OTLPTraceExporter: new () => SpanExporter };

function otlpExporter(env: NodeJS.ProcessEnv): { exporter: SpanExporter; name: string } {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  // The exporters read OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT/_HEADERS/_TIMEOUT themselves.
  switch (protocol) {
    case 'grpc': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc') as ExporterModule;
      return { exporter: new OTLPTraceExporter(), name: 'otlp/grpc' };
    }
    case 'http/json': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as ExporterModule;
      return { exporter: new OTLPTraceExporter(), name: 'otlp/http-json' };
    }
    default: {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto') as ExporterModule;
      return { exporter: new OTLPTraceExporter(), name: 'otlp/http-protobuf' };
    }
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

export function startTracing(options: StartTracingOptions): TracingRuntime {
  const env = options.env ?? process.env;
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return (current = DISABLED);
  const exporters = exportersFromEnv(env);
  const processors: SpanProcessor[] = [...exporters.map(({ exporter }) => new ExportSpanProcessor({ exporter, ...batchSettings(env) })), ...(options.spanProcessors ?? [])];
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': 'glassbox',
      'service.version': options.serviceVersion,
      'deployment.environment': env.APP_ENV ?? 'development',
      'deployment.environment.name': env.APP_ENV ?? 'development',
    }),
    // Redaction runs first, on every span, so no exporter ever sees a secret attribute.
    spanProcessors: [new RedactingSpanProcessor(processors)],
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations: [
      new IORedisInstrumentation({ requireParentSpan: true }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
    ],
  });
  sdk.start();
  let stopped: Promise<void> | undefined;
  return (current = {
    enabled: true,
    exporters: exporters.map((e) => e.name),
    shutdown: () => (stopped ??= sdk.shutdown()),
    forceFlush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
    },
  });
}
