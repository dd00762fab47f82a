// OpenAPI 3 from the routes' TypeBox schemas (@fastify/swagger) at /docs/openapi.json, and
// an interactive reference (Scalar) at /docs.
//
// Scalar's Fastify plugin embeds its ~5 MB browser bundle as a string: ~30 MB of memory
// in every process, for a page few processes ever serve. So it is loaded on the first
// /docs request, into a small Fastify instance of its own that the /docs routes forward to.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** The base URL of a listener on host:port; a wildcard address (0.0.0.0, ::) is reached as localhost. */
export function serverUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/**
 * The OpenAPI collector: registered before every route (the observability plugin's probes
 * included), since @fastify/swagger learns the routes from an onRoute hook.
 */
export const openApiCollector = fp(
  async function openApi(app: FastifyInstance, opts: { version: string; host: string; port: number }) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Glassbox API',
          version: opts.version,
          description: 'Multi-tenant SaaS API. Errors are JSON: {"error","message","request_id"[,"details"]}.',
          // No licence has been chosen for Glassbox yet (package.json says so too); the field is
          // there so clients and linters find the terms stated rather than missing.
          license: { name: 'UNLICENSED', url: 'https://github.com/glassbox-dev/glassbox/blob/main/README.md#licence' },
        },
        // Where the configured listener answers, so a client generated from this document has a default base URL.
        servers: [{ url: serverUrl(opts.host, opts.port), description: 'This instance (HOST and PORT)' }],
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      },
      // Only the product API and probes are documented; the docs routes themselves are not.
      hideUntagged: true,
    });
  },
  { name: 'openapi-collector' },
);

/** GET /docs/openapi.json and the reference pages; after the observability plugin, so they are logged and measured like any route. */
export const docsRoutes = fp(
  async function docs(app: FastifyInstance) {
    app.get('/docs/openapi.json', { logLevel: 'warn' }, async () => app.swagger());

    let reference: Promise<FastifyInstance> | undefined;
    const loadReference = async () => {
      const { default: scalar } = await import('@scalar/fastify-api-reference');
      const docsApp = Fastify({ logger: false });
      await docsApp.register(scalar, {
        routePrefix: '/docs',
        // Nothing leaves the reader's browser for a third party: Scalar's default fonts come
        // from fonts.scalar.com (requests that fail on a closed network and tell a CDN who
        // reads the docs); the system's fonts serve as well. Its telemetry stays off too.
        configuration: { url: '/docs/openapi.json', withDefaultFonts: false, telemetry: false },
      });
      await docsApp.ready();
      return docsApp;
    };
    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      reference ??= loadReference();
      const res = await (await reference).inject({ method: 'GET', url: request.url, headers: { accept: request.headers.accept ?? '*/*' } });
      for (const name of ['content-type', 'location', 'cache-control', 'etag']) {
        const value = res.headers[name];
        if (value !== undefined) void reply.header(name, value);
      }
      return reply.code(res.statusCode).send(res.rawPayload);
    };
    app.get('/docs', { logLevel: 'warn' }, forward);
    app.get('/docs/*', { logLevel: 'warn' }, forward);
  },
  { name: 'docs', dependencies: ['openapi-collector'] },
);
