// The operator endpoints (CONTRACT, HTTP surface): profiles of the live process.
//   POST /admin/profile/cpu?seconds=N[&format=pprof][&route=<template>]
//   POST /admin/profile/heap?seconds=N[&format=pprof]
//   POST /admin/heap-snapshot            (pauses the process while V8 writes it)
// Registered only when ADMIN_TOKEN is set (otherwise they are unknown routes: 404), hidden
// from the public API reference, and every call needs `Authorization: Bearer <token>`,
// compared in constant time. One profile at a time in the process (the V8 profilers are
// process-wide): a second call answers 409 while one runs. Every call is logged with who
// (client address, user agent) and what (endpoint, parameters), never the token.
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

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Equal-length digests, so the comparison takes the same time whatever the caller sent. */
export function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = header ? /^Bearer (.+)$/i.exec(header) : null;
  return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
}

const errorBody = (request: FastifyRequest, error: string, message: string) => ({ error, message, request_id: request.id });

// Process-wide, like the profilers.
let running: string | undefined;

const profileQuery = (formats: string[]) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    seconds: { type: 'integer', minimum: 1, maximum: 60, default: 10 },
    format: { type: 'string', enum: formats, default: formats[0] },
    route: { type: 'string', minLength: 1, maxLength: 200 },
  },
});

const stamp = () => new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');

export async function adminRoutes(app: FastifyInstance, opts: AdminRoutesOptions) {
  const expected = digest(opts.token);

  // The CONTRACT's error body for a bad parameter (`seconds=99`), in any service that adopts
  // the layer, whatever error handler it has.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) return reply.code(400).send(errorBody(request, 'validation_error', error.message));
    request.log.error({ error }, 'admin_request_failed');
    return reply.code(500).send(errorBody(request, 'internal_server_error', 'Internal server error'));
  });

  app.addHook('onRequest', async (request, reply) => {
    const who = { client_ip: request.ip, user_agent: request.headers['user-agent'] };
    if (!bearerMatches(request.headers.authorization, expected)) {
      request.log.warn({ ...who, endpoint: request.routeOptions.url }, 'admin_request_denied');
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(errorBody(request, 'unauthorized', 'A valid admin bearer token is required'));
    }
  });
  // After validation, so the line shows the parameters as they are used (defaults included).
  app.addHook('preHandler', async (request) => {
    request.log.info(
      { client_ip: request.ip, user_agent: request.headers['user-agent'], endpoint: request.routeOptions.url, query: request.query },
      'admin_request',
    );
  });

  /** Runs `work` unless a profile already runs (409). */
  const exclusive = async (request: FastifyRequest, reply: FastifyReply, what: string, work: () => Promise<unknown>) => {
    if (running) return reply.code(409).send(errorBody(request, 'profile_in_progress', `A profile is already running (${running}); try again when it ends`));
    running = what;
    const started = Date.now();
    try {
      const result = await work();
      request.log.info({ profile: what, duration_ms: Date.now() - started }, 'admin_profile_taken');
      return result;
    } finally {
      running = undefined;
    }
  };

  const schema = (summary: string, querystring?: object) => ({ hide: true, tags: ['admin'], summary, ...(querystring ? { querystring } : {}) });

  app.post<{ Querystring: ProfileQuery }>(
    '/admin/profile/cpu',
    { schema: schema('CPU profile of the live process', profileQuery(['cpuprofile', 'pprof'])) },
    async (request, reply) => {
      const { seconds, format, route } = request.query;
      if (route !== undefined && format !== 'pprof') {
        return reply.code(400).send(errorBody(request, 'invalid_request', 'route= narrows a pprof profile: add format=pprof'));
      }
      return exclusive(request, reply, `cpu ${format}`, async () => {
        const name = `cpu-${stamp()}`;
        if (format === 'pprof') {
          const body = await pprofCpuProfile(seconds, route);
          return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${name}.pb.gz"`).send(body);
        }
        const body = await cpuProfile(seconds);
        return reply.type('application/json').header('content-disposition', `attachment; filename="${name}.cpuprofile"`).send(body);
      });
    },
  );

  app.post<{ Querystring: Omit<ProfileQuery, 'format'> & { format: 'heapprofile' | 'pprof' } }>(
    '/admin/profile/heap',
    { schema: schema('Sampling heap profile of the live process', profileQuery(['heapprofile', 'pprof'])) },
    async (request, reply) => {
      const { seconds, format, route } = request.query;
      if (route !== undefined) return reply.code(400).send(errorBody(request, 'invalid_request', 'route= applies to CPU profiles only'));
      return exclusive(request, reply, `heap ${format}`, async () => {
        const name = `heap-${stamp()}`;
        if (format === 'pprof') {
          const body = await pprofHeapProfile(seconds);
          return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${name}.pb.gz"`).send(body);
        }
        const body = await heapProfile(seconds);
        return reply.type('application/json').header('content-disposition', `attachment; filename="${name}.heapprofile"`).send(body);
      });
    },
  );

  app.post('/admin/heap-snapshot', { schema: schema('Heap snapshot (pauses the process while it is written)') }, async (request, reply) => {
    if (running) return reply.code(409).send(errorBody(request, 'profile_in_progress', `A profile is already running (${running}); try again when it ends`));
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
