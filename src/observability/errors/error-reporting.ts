// Where failures go beyond the logs: the hook point an error tracker (Sentry, in a later
// issue) plugs into. The observability plugin reports every 5xx once per request, with the
// request's ids and trace context; background jobs and the crash handler report through
// the same object, so a tracker sees requests, jobs and crashes alike.
//
// Reporters must never slow or fail what they observe: `report` is synchronous and
// fire-and-forget, and a reporter that throws is ignored after one warning.

/** What is known about where an error happened; ids only, never bodies or headers. */
export interface ErrorContext {
  /** request (a 5xx answer), job (a failed background job) or crash (uncaught). */
  source: 'request' | 'job' | 'crash';
  request_id?: string;
  tenant_id?: string;
  user_id?: string;
  method?: string;
  /** The route template (`/api/orders/:id`), never the raw path. */
  route?: string;
  status_code?: number;
  /** The job's queue name, for source "job". */
  job?: string;
  trace_id?: string;
  span_id?: string;
}

export interface ErrorReporter {
  readonly name: string;
  report(error: unknown, context: ErrorContext): void;
  /** Sends what is buffered; resolves false when it could not within `timeoutMs`. */
  flush?(timeoutMs: number): Promise<boolean>;
}

export interface ErrorReporting {
  /** True when at least one reporter listens (lets callers skip building a context). */
  readonly active: boolean;
  report(error: unknown, context: ErrorContext): void;
  /** Flushes every reporter, each bounded by `timeoutMs`; names the ones that did not make it. */
  flush(timeoutMs: number): Promise<string[]>;
}

export function createErrorReporting(reporters: readonly ErrorReporter[], onReporterError?: (name: string, error: unknown) => void): ErrorReporting {
  const warned = new Set<string>();
  return {
    active: reporters.length > 0,
    report(error, context) {
      for (const reporter of reporters) {
        try {
          reporter.report(error, context);
        } catch (failure) {
          if (!warned.has(reporter.name)) {
            warned.add(reporter.name);
            onReporterError?.(reporter.name, failure);
          }
        }
      }
    },
    async flush(timeoutMs) {
      const failed: string[] = [];
      await Promise.all(
        reporters.map(async (reporter) => {
          if (!reporter.flush) return;
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), timeoutMs);
          });
          const ok = await Promise.race([reporter.flush(timeoutMs).catch(() => false), timedOut]);
          clearTimeout(timer);
          if (!ok) failed.push(reporter.name);
        }),
      );
      return failed;
    },
  };
}

/** No reporter: reports go nowhere, flushes are instant. */
export const NO_ERROR_REPORTING: ErrorReporting = createErrorReporting([]);
