// An error nobody handled (uncaught exception, unhandled rejection): logged at fatal with its
// type, reported to error tracking and flushed first (the report is the one thing that must
// leave the process), then the same orderly stop as SIGTERM, with exit code 1. Running on
// in an unknown state is worse than stopping; stopping abruptly would lose in-flight
// requests, queued jobs and the telemetry that explains the crash.
import type { ErrorReporting } from '../errors/error-reporting.ts';
import type { Logger } from '../logging/logger.ts';
import { activeTraceIds } from '../tracing/tracer.ts';
import type { Shutdown } from './graceful-shutdown.ts';

export interface CrashHandlerOptions {
  log: Logger;
  /** Where the crash is reported; absent before the dependencies exist. */
  errors?: () => ErrorReporting | undefined;
  /** The orderly stop; absent before the server listens (then the process exits 1 at once). */
  shutdown?: () => Shutdown | undefined;
  flushTimeoutMs: number;
  exit?: (code: number) => void;
}

const typeOf = (error: unknown) => (error instanceof Error ? error.name : typeof error);

/** Installs the process-wide handlers; returns a function that removes them (tests). */
export function installCrashHandlers(options: CrashHandlerOptions): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const onCrash = (event: 'uncaught_exception' | 'unhandled_rejection') => (error: unknown) => {
    options.log.fatal({ error, error_type: typeOf(error) }, event);
    const errors = options.errors?.();
    const shutdown = options.shutdown?.();
    void (async () => {
      if (errors?.active) {
        errors.report(error, { source: 'crash', ...activeTraceIds() });
        const failed = await errors.flush(options.flushTimeoutMs);
        for (const reporter of failed) options.log.warn({ telemetry: 'errors', reporter, timeout_ms: options.flushTimeoutMs }, 'telemetry_flush_failed');
      }
      if (shutdown) await shutdown(event, 1);
      else exit(1);
    })();
  };
  const uncaught = onCrash('uncaught_exception');
  const unhandled = onCrash('unhandled_rejection');
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', unhandled);
  return () => {
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', unhandled);
  };
}
