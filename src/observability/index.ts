// The observability layer's public entry: what a service imports to adopt it.
//
//   node --import ./src/observability/instrument.ts server.ts     (tracing, loaded first)
//   const app = Fastify({ ...observabilityServerOptions(logger) });
//   await app.register(observability, { readiness: [...] });
//
// Everything else under src/observability/ is the layer's inside. It imports nothing from
// the service (src/modules/, src/platform/); `npm run lint` enforces that.
export { observability } from './plugin.ts';
export type { ObservabilityOptions, OverloadOptions, RateLimitOptions } from './options.ts';
export { observabilityServerOptions, loggerFromEnv, type ObservabilityServerOptions } from './server-options.ts';
export { createLogger, type AppLogger, type Logger, type LoggerSettings } from './logging/logger.ts';
export { bindRequestIdentity, type RequestIdentity } from './logging/request-logging.ts';
export { createMetrics, DISABLED_METRICS, type Metrics, type MetricsOptions } from './metrics/metrics.ts';
export type { LifecycleState, ReadinessCheck } from './health/health.routes.ts';
export { createErrorReporting, NO_ERROR_REPORTING, type ErrorContext, type ErrorReporter, type ErrorReporting } from './errors/error-reporting.ts';
export { errorReportingFromEnv, createSentryReporter, type SentryReporter, type SentryReporterOptions } from './errors/sentry-reporter.ts';
export { withSpan, setActiveAttributes, recordFailure, SpanKind, type Attributes, type Span } from './tracing/tracer.ts';
export { tracingRuntime, type TracingRuntime } from './tracing/sdk.ts';
export { gracefulShutdown, type Flushable, type GracefulShutdownOptions, type Shutdown } from './lifecycle/graceful-shutdown.ts';
export { installCrashHandlers, type CrashHandlerOptions } from './lifecycle/crash-handler.ts';
export { retryStartup, DEFAULT_STARTUP_RETRY, type StartupRetryOptions } from './lifecycle/startup-retry.ts';
