import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccessTokens } from '../auth/access-token.ts';
import { authenticate, claims, requireRole } from '../auth/authenticate.ts';
import { bearerSecurity, errors, IdParams, ListOf, ListQuery, pageLimit } from '../shared/schemas.ts';
import { CreateProductBody, ProductSchema, UpdateProductBody } from './products.schemas.ts';
import type { productsService } from './products.service.ts';

export const productsRoutes: FastifyPluginAsyncTypebox<{ service: ReturnType<typeof productsService>; tokens: AccessTokens }> = async (
  app,
  { service, tokens },
) => {
  app.addHook('onRequest', authenticate(tokens));
  const tags = ['products'];
  const security = bearerSecurity;

  app.post(
    '/api/products',
    {
      preHandler: requireRole('admin'),
      schema: {
        operationId: 'createProduct',
        tags,
        security,
        summary: 'Create a product (owners and admins)',
        body: CreateProductBody,
        response: { 201: ProductSchema, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(claims(request), request.body, request.log)),
  );

  app.get(
    '/api/products',
    {
      schema: {
        operationId: 'listProducts',
        tags,
        security,
        summary: 'List products, newest first',
        querystring: ListQuery,
        response: { 200: ListOf(ProductSchema), ...errors(400, 401) },
      },
    },
    async (request) => service.list(claims(request), pageLimit(request.query), request.query.cursor),
  );

  app.get(
    '/api/products/:id',
    {
      schema: {
        operationId: 'getProduct',
        tags,
        security,
        summary: 'One product',
        params: IdParams,
        response: { 200: ProductSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => service.get(claims(request), request.params.id),
  );

  app.patch(
    '/api/products/:id',
    {
      preHandler: requireRole('admin'),
      schema: {
        operationId: 'updateProduct',
        tags,
        security,
        summary: 'Change a product (owners and admins)',
        params: IdParams,
        body: UpdateProductBody,
        response: { 200: ProductSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => service.update(claims(request), request.params.id, request.body, request.log),
  );
};
