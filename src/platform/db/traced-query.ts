// A CLIENT span per SQL query, written for our two query paths (the pool and the tenant
// transaction's client) instead of instrumentation-pg, whose pool.connect path parents
// queued queries to the wrong request under pool exhaustion (see STACK.md). The span is
// made only under a recording parent, so unsampled requests and background noise cost
// nothing. The SQL sent carries the span's W3C traceparent as a sqlcommenter comment, so a
// slow query in pg_stat_activity or the server log leads back to its trace.
import type pg from 'pg';
import { recordFailure, recordingSpan, SpanKind, traceparentOf, tracer, type Attributes } from '../../observability/tracing/tracer.ts';

export interface QueryTarget {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface ConnectionAttributes {
  database: string;
  host: string;
  port: number;
}

interface Summary {
  name: string;
  operation: string;
  collection: string | undefined;
  /** `db.query.text`: the statement, cut at 2,000 characters (pg-boss's job insert is longer). */
  text: string;
}

const MAX_QUERY_TEXT = 2000;

const TABLE = /\b(?:FROM|INTO|UPDATE|JOIN)\s+("?[\w.]+"?)/i;
const summaries = new Map<string, Summary>();

/** `SELECT products`, `INSERT orders`, `BEGIN`: the operation and first table, per the DB semantic conventions. */
export function summarize(text: string): Summary {
  let summary = summaries.get(text);
  if (summary) return summary;
  const operation = (/^\s*(\w+)/.exec(text)?.[1] ?? 'QUERY').toUpperCase();
  const collection = operation === 'BEGIN' || operation === 'COMMIT' || operation === 'ROLLBACK' ? undefined : TABLE.exec(text)?.[1]?.replaceAll('"', '');
  // Cut once here, not on every query: the cut copy of a long statement would otherwise be a
  // fresh 2 KB string per job sent.
  const shown = text.length > MAX_QUERY_TEXT ? `${text.slice(0, MAX_QUERY_TEXT)}…` : text;
  summary = { name: collection ? `${operation} ${collection}` : operation, operation, collection, text: shown };
  // Query texts are constants of the code, so this stays small; the bound is a safety net.
  if (summaries.size < 2000) summaries.set(text, summary);
  return summary;
}

/** Told every statement's text (parameterised, never values) and duration: metrics and the slow-query log. */
export type QueryObserver = (text: string, seconds: number) => void;

/** Wraps a query's promise so `observe` hears its duration, success or failure alike. */
function observed<T>(promise: Promise<T>, observe: QueryObserver, text: string, start: number): Promise<T> {
  return promise.then(
    (result) => {
      observe(text, (performance.now() - start) / 1000);
      return result;
    },
    (error: unknown) => {
      observe(text, (performance.now() - start) / 1000);
      throw error;
    },
  );
}

/**
 * `shownText`: the statement the span describes when `text` wraps it (a one-round-trip
 * tenant read sends role and tenant setup before it, with its parameters inlined: the span
 * shows the parameterised statement, never the values).
 */
export function tracedQuery<R extends pg.QueryResultRow>(
  target: QueryTarget,
  connection: ConnectionAttributes,
  text: string,
  values?: unknown[],
  shownText: string = text,
  observe?: QueryObserver,
): Promise<pg.QueryResult<R>> {
  const start = observe ? performance.now() : 0;
  if (!recordingSpan()) {
    const result = target.query<R>(text, values);
    return observe ? observed(result, observe, shownText, start) : result;
  }
  const summary = summarize(shownText);
  const attributes: Attributes = {
    'db.system.name': 'postgresql',
    'db.namespace': connection.database,
    'db.operation.name': summary.operation,
    'db.query.text': summary.text,
    'server.address': connection.host,
    'server.port': connection.port,
  };
  if (summary.collection) attributes['db.collection.name'] = summary.collection;
  const span = tracer.startSpan(summary.name, { kind: SpanKind.CLIENT, attributes });
  const result = target.query<R>(`${text} /*traceparent='${traceparentOf(span)}'*/`, values);
  return (observe ? observed(result, observe, shownText, start) : result).then(
    (result) => {
      if (typeof result.rowCount === 'number') span.setAttribute('db.response.returned_rows', result.rowCount);
      span.end();
      return result;
    },
    (error: unknown) => {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
      recordFailure(span, error);
      span.end();
      throw error;
    },
  );
}

/** Host, port and database of a connection string, for span attributes. */
export function connectionAttributes(url: string): ConnectionAttributes {
  try {
    const u = new URL(url);
    return { database: decodeURIComponent(u.pathname.slice(1)) || 'postgres', host: u.hostname, port: Number(u.port) || 5432 };
  } catch {
    return { database: 'postgres', host: 'unknown', port: 5432 };
  }
}
