// trace_id and span_id on every log line written inside a span: the active span's ids
// (handlers, SQL, jobs), or, for lines written outside the handler's context but during a
// traced request (request_completed, auth failures), the ids its server span left on the
// request logger.
import { activeTraceIds } from './tracer.ts';

/** Where http-server-spans.ts leaves a request's ids on its logger. */
export const TRACE_IDS = Symbol.for('glassbox.trace_ids');

/** A pino mixin: `(mergeObject, level, logger)`. */
export function traceLogMixin(_merge: object, _level: number, logger: object): Record<string, string> {
  return activeTraceIds() ?? (logger as Record<symbol, Record<string, string> | undefined>)[TRACE_IDS] ?? {};
}
