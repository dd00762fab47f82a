// Error tracking with Sentry (`@sentry/node` 11), as an ErrorReporter: every report the
// hook points make (a 5xx answer, a failed job, a crash) becomes one Sentry event carrying
// the ids of where it happened and the trace and span ids of the OpenTelemetry span active
// at the error, so the event and the trace in Jaeger or Tempo are found from each other.
//
// Why it is set up this way:
// - `@sentry/node` is imported only when a DSN is given (it is ~0.7 s and ~20 MB to load);
//   a service without SENTRY_DSN never loads it.
// - One tracer: v11 registers no tracer provider unless told to (enableOpenTelemetrySetup,
//   left false). Its OpenTelemetry integration reads the active span of OUR provider, and
//   each report sets `contexts.trace` from the span the hook point saw.
// - Default integrations are replaced by a short list. Left out: Fastify (it decorates the
//   instance with `opentelemetry` and crashes next to @fastify/otel), the global handlers
//   (our crash handler reports once and then shuts down in order), Dedupe (two identical
//   failures are two reports), Console (patches console), ContextLines and LocalVariables
//   (source lines and variable values can hold secrets the key rule cannot see), Modules,
//   sessions, and Http / NativeNodeFetch unless SENTRY_TRACES_SAMPLE_RATE is set.
// - No module load hooks (enableRuntimeChannelInjection: false): our tracing owns them.
// - Every payload goes through the logs' redaction rule (sentry-redaction.ts).
// - Never slows or fails a request: `report` only queues (the SDK sends in the background,
//   with a bounded buffer that drops when Sentry is slow), and `flush` is bounded.
import type { Breadcrumb, ErrorEvent, EventHint, NodeClient, NodeOptions } from '@sentry/node';
import { dirname } from 'node:path';
import type { Logger } from '../logging/logger.ts';
import { createErrorReporting, NO_ERROR_REPORTING, type ErrorContext, type ErrorReporter, type ErrorReporting } from './error-reporting.ts';
import { nearestPackage, releaseName } from './release.ts';
import { redactBreadcrumb, redactEvent, redactSpan } from './sentry-redaction.ts';

export interface SentryReporterOptions {
  dsn: string;
  /** SENTRY_ENVIRONMENT, else APP_ENV. */
  environment: string;
  /** `<name>@<version>+<commit>` (release.ts); none when unknown. */
  release?: string;
  /** SENTRY_TRACES_SAMPLE_RATE; undefined: none of Sentry's tracing runs. */
  tracesSampleRate?: number;
}

export interface SentryReporter extends ErrorReporter {
  readonly name: 'sentry';
  /** What this reporter sends with every event (for the startup log line). */
  readonly settings: { environment: string; release: string | undefined; tracing: 'off' | number };
  /** Flushes (bounded), then stops sending; idempotent. */
  close(timeoutMs: number): Promise<boolean>;
}

/** An ErrorContext's fields that become searchable Sentry tags (ids and names only). */
const TAGS = ['source', 'request_id', 'tenant_id', 'method', 'route', 'status_code', 'job'] as const;

/** Marks, in the capture hint, a report made outside any OpenTelemetry span (a crash from a timer). */
const UNTRACED = 'glassbox_untraced';

/**
 * Sentry gives every event a trace id: with no span active, one it makes up. That id leads
 * nowhere in Jaeger or Tempo, so an error that happened outside any span carries none.
 */
function withoutInventedTrace(event: ErrorEvent, hint: EventHint): ErrorEvent {
  if (!(hint.data as Record<string, unknown> | undefined)?.[UNTRACED]) return event;
  const { trace: _trace, ...contexts } = event.contexts ?? {};
  const { dynamicSamplingContext: _dsc, ...metadata } = event.sdkProcessingMetadata ?? {};
  return { ...event, contexts, sdkProcessingMetadata: metadata };
}

const bounded = (work: PromiseLike<boolean>, timeoutMs: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  return Promise.race([Promise.resolve(work).catch(() => false), timedOut]).finally(() => clearTimeout(timer));
};

/** Loads `@sentry/node`, starts its client, and returns the reporter. Call it only with a DSN. */
export async function createSentryReporter(options: SentryReporterOptions): Promise<SentryReporter> {
  const Sentry = await import('@sentry/node');
  const tracing = options.tracesSampleRate !== undefined;
  const integrations = [
    Sentry.linkedErrorsIntegration(), // error.cause chains
    Sentry.extraErrorDataIntegration({ depth: 3 }), // an error's own fields (code, statusCode…), redacted like a log line's
    Sentry.openTelemetryIntegration(), // trace context from our OpenTelemetry span, for any capture
    Sentry.nodeContextIntegration(), // runtime, OS, memory
    ...(tracing ? [Sentry.httpIntegration({ sessions: false }), Sentry.nativeNodeFetchIntegration(), Sentry.requestDataIntegration()] : []),
  ];
  const init: NodeOptions = {
    dsn: options.dsn,
    environment: options.environment,
    ...(options.release ? { release: options.release } : {}),
    defaultIntegrations: false,
    integrations,
    enableOpenTelemetrySetup: false,
    enableRuntimeChannelInjection: false,
    // v11 has no sendDefaultPii: what is collected is chosen here, and ids only for users.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpBodies: [],
      stackFrameVariables: false,
      frameContextLines: 0,
      databaseQueryData: false,
      graphQL: { document: false, variables: false },
      genAI: { inputs: false, outputs: false },
      mcp: { inputs: false, outputs: false },
    },
    // Without a rate, 'static' keeps even the span streaming integration out; with one, spans
    // are streamed (v11's default) and redacted one by one.
    ...(tracing ? { tracesSampleRate: options.tracesSampleRate, beforeSendSpan: (span) => redactSpan(span) } : { traceLifecycle: 'static' as const }),
    beforeSend: (event: ErrorEvent, hint: EventHint) => redactEvent(withoutInventedTrace(event, hint)),
    beforeBreadcrumb: (breadcrumb: Breadcrumb) => redactBreadcrumb(breadcrumb),
  };
  const client = Sentry.init(init) as NodeClient | undefined;
  if (!client) throw new Error('Sentry did not start (not on the main thread?)');
  let closed: Promise<boolean> | undefined;

  return {
    name: 'sentry',
    settings: { environment: options.environment, release: options.release, tracing: tracing ? options.tracesSampleRate! : 'off' },
    report(error: unknown, context: ErrorContext): void {
      if (closed) return;
      // A scope of this report's own: nothing leaks between reports, and the client is this
      // reporter's even when another Sentry client was started in the process.
      const scope = Sentry.getCurrentScope().clone();
      scope.setClient(client);
      scope.setLevel(context.source === 'crash' ? 'fatal' : 'error');
      for (const tag of TAGS) {
        const value = context[tag];
        if (value !== undefined) scope.setTag(tag, String(value));
      }
      if (context.user_id) scope.setUser({ id: context.user_id });
      const { trace_id: traceId, span_id: spanId } = context;
      const traced = Boolean(traceId && spanId);
      if (traceId && spanId) {
        scope.setContext('trace', { trace_id: traceId, span_id: spanId });
        // The envelope's trace header agrees with the event's trace context.
        scope.setPropagationContext({ traceId, propagationSpanId: spanId, sampleRand: Math.random() });
      }
      // A 5xx sent without a thrown error has no stack of its own: group by route and status.
      if (error instanceof Error && error.name === 'ServerErrorResponse') {
        scope.setFingerprint(['server-error-response', context.route ?? 'unmatched', String(context.status_code ?? 500)]);
      }
      scope.captureException(error, {
        mechanism: { type: `glassbox.${context.source}`, handled: context.source !== 'crash' },
        ...(traced ? {} : { data: { [UNTRACED]: true } }),
      });
    },
    flush(timeoutMs: number): Promise<boolean> {
      return bounded(client.flush(timeoutMs), timeoutMs);
    },
    close(timeoutMs: number): Promise<boolean> {
      closed ??= bounded(client.close(timeoutMs), timeoutMs);
      return closed;
    },
  };
}

/** The startup line naming the trackers that are on (none: no line; application_started says `error_tracking: off`). */
export function logErrorTracking(log: Logger, reporters: readonly ErrorReporter[]): void {
  if (reporters.length === 0) return;
  const sentry = reporters.find((r): r is SentryReporter => r.name === 'sentry' && 'settings' in r);
  log.info(
    {
      trackers: reporters.map((r) => r.name),
      ...(sentry ? { environment: sentry.settings.environment, release: sentry.settings.release, sentry_tracing: sentry.settings.tracing } : {}),
    },
    'error_tracking_enabled',
  );
}

function invalid(variable: string, message: string): Error {
  return new Error(`invalid configuration: ${variable} ${message}`);
}

/**
 * Error reporting for a service that adopts the layer without a configuration of its own:
 * Sentry when SENTRY_DSN is set (SENTRY_ENVIRONMENT or APP_ENV, SENTRY_TRACES_SAMPLE_RATE,
 * release from the entry script's package.json plus GIT_COMMIT or the checkout), nothing
 * (and no Sentry module loaded) otherwise. Hand the result to the plugin (`errors`) and
 * to installCrashHandlers.
 */
export async function errorReportingFromEnv(log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ErrorReporting> {
  const dsn = env.SENTRY_DSN?.trim();
  if (!dsn) return NO_ERROR_REPORTING;
  if (!/^https?:\/\//.test(dsn)) throw invalid('SENTRY_DSN', 'must be an http or https URL');
  const rawRate = env.SENTRY_TRACES_SAMPLE_RATE?.trim();
  const rate = rawRate ? Number(rawRate) : undefined;
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw invalid('SENTRY_TRACES_SAMPLE_RATE', 'must be a number from 0 to 1');
  const entry = process.argv[1];
  const pkg = nearestPackage(entry ? dirname(entry) : process.cwd());
  const release = releaseName({ ...pkg, ...(env.GIT_COMMIT ? { commit: env.GIT_COMMIT.trim() } : {}) });
  const reporter = await createSentryReporter({
    dsn,
    environment: env.SENTRY_ENVIRONMENT?.trim() || env.APP_ENV?.trim() || 'development',
    ...(release ? { release } : {}),
    ...(rate !== undefined ? { tracesSampleRate: rate } : {}),
  });
  logErrorTracking(log, [reporter]);
  return createErrorReporting([reporter], (name, error) => log.warn({ reporter: name, error }, 'error_reporter_failed'));
}
