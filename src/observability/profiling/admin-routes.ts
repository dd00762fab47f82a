// The operator endpoints (CONTRACT, HTTP surface): profiles of the live process.
//   POST /admin/profile/cpu?seconds=N[&format=pprof][&route=<template>]
//   POST /admin/profile/heap?seconds=N[&format=pprof]
//   POST /admin/heap-snapshot            (pauses the process while V8 writes it)
// Registered only when ADMIN_TOKEN is set (otherwise they are unknown routes: 404), hidden
// from the public API reference, and every call needs `Authorization: Bearer <token>`,
// compared in constant time. One profile at a time in the process (the V8 profilers are
// process-wide): a second call answers 409 while one runs. Every call is logged with who
// (client address, user agent) and what (endpoint, parameters), never the token. When the
// server closes, a running profile ends early and is sent as it is, so an orderly stop is
// not held up to 60 s by an operator's profile.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cpuProfile, pprofCpuProfile } from './cpu-profile.ts';
import { heapProfile, heapSnapshot, pprofHeapProfile } from './heap-profile.ts';

export interface AdminRoutesOptions {
  /** ADMIN_TOKEN. */
  token: string;
}

interface ProfileQuery {
  seconds: number;
  format: 'cpuprofile' | 'pprof';
  route?: string;
}

/** What a profile sends: its body, content type and file name. */
interface Taken {
  body: string | Buffer;
  type: string;
  filename: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Equal-length digests, so the comparison takes the same time whatever the caller sent. */
export function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = header ? /^Bearer (.+)$/i.exec(header) : null;
  return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
}

const errorBody = (request: FastifyRequest, error: string, message: string) => ({ error, message, request_id: request.id });

/** Who called which endpoint, for the log lines (never the Authorization header). */
const caller = (request: FastifyRequest) => ({ client_ip: request.ip, user_agent: request.headers['user-agent'], endpoint: request.routeOptions.url });

// Process-wide, like the profilers.
let running: string | undefined;

const busy = (request: FastifyRequest) =>
  errorBody(request, 'profile_in_progress', `A profile is already running (${running ?? 'unknown'}); try again when it ends`);

const profileQuery = (formats: string[]) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    seconds: { type: 'integer', minimum: 1, maximum: 60, default: 10 },
    format: { type: 'string', enum: formats, default: formats[0] },
    route: { type: 'string', minLength: 1, maxLength: 200 },
  },
});

/** Gzipped protobuf: a download, not text. */
const PPROF_TYPE = 'application/octet-stream';

const stamp = () => new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');

export async function adminRoutes(app: FastifyInstance, opts: AdminRoutesOptions) {
  const expected = digest(opts.token);

  // The CONTRACT's error body for a bad parameter (`seconds=99`), in any service that adopts
  // the layer, whatever error handler it has.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      // Authenticated, so it is an operator's call: logged like the others, with what was sent.
      request.log.warn({ ...caller(request), query: request.query, reason: error.message }, 'admin_request_invalid');
      return reply.code(400).send(errorBody(request, 'validation_error', error.message));
    }
    request.log.error({ error }, 'admin_request_failed');
    return reply.code(500).send(errorBody(request, 'internal_server_error', 'Internal server error'));
  });

  app.addHook('onRequest', async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, expected)) {
      request.log.warn(caller(request), 'admin_request_denied');
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(errorBody(request, 'unauthorized', 'A valid admin bearer token is required'));
    }
  });
  // After validation, so the line shows the parameters as they are used (defaults included).
  app.addHook('preHandler', async (request) => {
    request.log.info({ ...caller(request), query: request.query }, 'admin_request');
  });

  // This server's profiles in progress, ended early when it closes.
  const inProgress = new Set<AbortController>();
  app.addHook('preClose', (done) => {
    for (const controller of inProgress) controller.abort();
    done();
  });

  /** Takes the profile `work` returns and sends it, unless a profile already runs (409). */
  const exclusive = async (request: FastifyRequest, reply: FastifyReply, what: string, work: (signal: AbortSignal) => Promise<Taken>) => {
    if (running) return reply.code(409).send(busy(request));
    running = what;
    const controller = new AbortController();
    inProgress.add(controller);
    const started = Date.now();
    try {
      const { body, type, filename } = await work(controller.signal);
      const endedEarly = controller.signal.aborted ? { ended_early: 'server_closing' } : {};
      // The server is closing: its close() waits for this connection, so do not keep it alive.
      if (controller.signal.aborted) void reply.header('connection', 'close');
      request.log.info({ profile: what, duration_ms: Date.now() - started, ...endedEarly }, 'admin_profile_taken');
      return reply.type(type).header('content-disposition', `attachment; filename="${filename}"`).send(body);
    } finally {
      inProgress.delete(controller);
      running = undefined;
    }
  };

  // A profile takes the seconds it was asked for: slow by design, never a slow_request.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, slowRequestLog: false };
  });
  const schema = (summary: string, querystring?: object) => ({ hide: true, tags: ['admin'], summary, ...(querystring ? { querystring } : {}) });

  app.post<{ Querystring: ProfileQuery }>(
    '/admin/profile/cpu',
    { schema: schema('CPU profile of the live process', profileQuery(['cpuprofile', 'pprof'])) },
    async (request, reply) => {
      const { seconds, format, route } = request.query;
      if (route !== undefined && format !== 'pprof') {
        return reply.code(400).send(errorBody(request, 'invalid_request', 'route= narrows a pprof profile: add format=pprof'));
      }
      return exclusive(request, reply, `cpu ${format}`, async (signal) => {
        const name = `cpu-${stamp()}`;
        if (format === 'pprof') return { body: await pprofCpuProfile(seconds, route, signal), type: PPROF_TYPE, filename: `${name}.pb.gz` };
        return { body: await cpuProfile(seconds, signal), type: 'application/json', filename: `${name}.cpuprofile` };
      });
    },
  );

  app.post<{ Querystring: Omit<ProfileQuery, 'format'> & { format: 'heapprofile' | 'pprof' } }>(
    '/admin/profile/heap',
    { schema: schema('Sampling heap profile of the live process', profileQuery(['heapprofile', 'pprof'])) },
    async (request, reply) => {
      const { seconds, format, route } = request.query;
      if (route !== undefined) return reply.code(400).send(errorBody(request, 'invalid_request', 'route= applies to CPU profiles only'));
      return exclusive(request, reply, `heap ${format}`, async (signal) => {
        const name = `heap-${stamp()}`;
        if (format === 'pprof') return { body: await pprofHeapProfile(seconds, signal), type: PPROF_TYPE, filename: `${name}.pb.gz` };
        return { body: await heapProfile(seconds, signal), type: 'application/json', filename: `${name}.heapprofile` };
      });
    },
  );

  app.post('/admin/heap-snapshot', { schema: schema('Heap snapshot (pauses the process while it is written)') }, async (request, reply) => {
    if (running) return reply.code(409).send(busy(request));
    running = 'heap snapshot';
    const started = Date.now();
    const stream = heapSnapshot((error) => {
      running = undefined;
      if (error) request.log.error({ error }, 'admin_heap_snapshot_failed');
      else request.log.info({ profile: 'heap snapshot', duration_ms: Date.now() - started }, 'admin_profile_taken');
    });
    return reply.type('application/json').header('content-disposition', `attachment; filename="heap-${stamp()}.heapsnapshot"`).send(stream);
  });
}
