// OpenAPI 3 from the routes' TypeBox schemas (@fastify/swagger), served with an interactive
// reference at /docs and the raw document at /docs/openapi.json.
import swagger from '@fastify/swagger';
import scalar from '@scalar/fastify-api-reference';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const docsPlugin = fp(
  async function docs(app: FastifyInstance, opts: { version: string }) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Glassbox API',
          version: opts.version,
          description: 'Multi-tenant SaaS API. Errors are JSON: {"error","message","request_id"[,"details"]}.',
        },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      },
      // Only the product API and probes are documented; the docs routes themselves are not.
      hideUntagged: true,
    });
    await app.register(scalar, { routePrefix: '/docs', logLevel: 'warn' });
  },
  { name: 'docs' },
);
