// CORS for browsers on other origins (a front end calling the API), through @fastify/cors.
// Off unless CORS_ORIGINS lists origins: a same-origin or server-to-server caller needs none,
// and an API that answers every origin by default is a finding in any review.
// The API authenticates with a bearer token, never a cookie, so credentials are never allowed:
// `*` stays safe to configure (the CORS spec refuses `*` together with credentials).
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Headers a browser caller sends beyond the simple ones. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'x-request-id', 'traceparent', 'tracestate'];
/** Answer headers a browser caller may read (the rest stay hidden from its script). */
const EXPOSED_HEADERS = ['x-request-id', 'idempotent-replayed', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

/** CORS_ORIGINS as a list: comma-separated origins, or `*`; empty: CORS off. */
export function parseCorsOrigins(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}

export const corsPlugin = fp(
  async function corsPolicy(app: FastifyInstance, opts: { origins: string[] }) {
    if (opts.origins.length === 0) return;
    const any = opts.origins.includes('*');
    await app.register(cors, {
      origin: any ? '*' : opts.origins,
      credentials: false,
      methods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
      strictPreflight: true,
    });
  },
  { name: 'cors' },
);
