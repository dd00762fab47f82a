// The response headers that callers' browsers, gateways and security scanners expect of a
// JSON API (OWASP REST Security Cheat Sheet), on every /api answer, errors and 404s included:
// - Cache-Control: no-store: answers carry tenant data and tokens; no shared or browser cache
//   may keep them.
// - X-Content-Type-Options: nosniff: a browser never runs a JSON answer as something else.
// - Content-Security-Policy: frame-ancestors 'none': no page may frame an answer
//   (click-jacking); the API serves no documents, so nothing else needs allowing.
// - Strict-Transport-Security with APP_ENV=production: browsers keep to HTTPS (the TLS
//   terminator in front of the service is where it becomes true; in development, over plain
//   HTTP on localhost, it would only confuse).
// Written by one onRequest hook with a fixed header object (a few lines instead of helmet,
// whose defaults also set a CSP that would break the interactive reference at /docs, and
// cost a hook per request for headers /health and /metrics do not need).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export const API_SECURITY_HEADERS = Object.freeze({
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "frame-ancestors 'none'",
});

/** HSTS for a year, subdomains included, when the service runs in production. */
export const HSTS = 'max-age=31536000; includeSubDomains';

export const securityHeaders = fp(
  async function securityHeadersPlugin(app: FastifyInstance, opts: { production: boolean }) {
    const headers = opts.production ? { ...API_SECURITY_HEADERS, 'strict-transport-security': HSTS } : API_SECURITY_HEADERS;
    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      if (request.url.startsWith('/api')) void reply.headers(headers);
      done();
    });
  },
  { name: 'security-headers' },
);
