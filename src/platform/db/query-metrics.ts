// What every SQL statement reports when it completes: its duration into
// db_query_duration_seconds{operation}, and, past SLOW_QUERY_MS, slow_queries_total and a
// `slow_query` warning. The warning shows at most the first 200 characters of the statement
// as written in the code (placeholders, never the parameters' values) and, being logged in
// the query's own context, its trace id.
import type { Logger } from '../../observability/logging/logger.ts';
import type { Metrics } from '../../observability/metrics/metrics.ts';
import { summarize, type QueryObserver } from './traced-query.ts';

export const SLOW_QUERY_SQL_CHARS = 200;

export function queryMetrics(deps: { metrics: Metrics; log: Logger; slowQueryMs: number }): QueryObserver {
  const { metrics, log, slowQueryMs } = deps;
  return (text, seconds) => {
    const { operation } = summarize(text);
    metrics.queryFinished(operation, seconds);
    const ms = seconds * 1000;
    if (ms > slowQueryMs) {
      metrics.slowQuery();
      log.warn({ duration_ms: Math.round(ms * 10) / 10, operation, sql: text.replace(/\s+/g, ' ').trim().slice(0, SLOW_QUERY_SQL_CHARS) }, 'slow_query');
    }
  };
}
