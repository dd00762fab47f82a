import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccessTokens } from '../auth/access-token.ts';
import { authenticate, claims } from '../auth/authenticate.ts';
import { bearerSecurity, errors, IdParams, ListOf, ListQuery, pageLimit } from '../shared/schemas.ts';
import { CreateOrderBody, IdempotencyHeaders, OrderSchema } from './orders.schemas.ts';
import type { ordersService } from './orders.service.ts';

export const ordersRoutes: FastifyPluginAsyncTypebox<{ service: ReturnType<typeof ordersService>; tokens: AccessTokens }> = async (
  app,
  { service, tokens },
) => {
  app.addHook('onRequest', authenticate(tokens));
  const tags = ['orders'];
  const security = bearerSecurity;

  app.post(
    '/api/orders',
    {
      schema: {
        operationId: 'createOrder',
        tags,
        security,
        summary: 'Place an order and charge it (idempotent by Idempotency-Key)',
        headers: IdempotencyHeaders,
        body: CreateOrderBody,
        response: { 201: OrderSchema, ...errors(400, 401, 402, 404, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const result = await service.create({
        auth: claims(request),
        idempotencyKey: request.headers['idempotency-key'],
        body: request.body,
        requestId: request.id,
        log: request.log,
      });
      if (result.replayed) void reply.header('idempotent-replayed', 'true');
      // The stored string is sent as is, so a replay is byte for byte the first answer.
      // (The casts: the status and body are the stored ones, which the typed reply cannot know.)
      return reply
        .code(result.statusCode as 201)
        .type('application/json; charset=utf-8')
        .send(result.body as never);
    },
  );

  app.get(
    '/api/orders',
    {
      schema: {
        operationId: 'listOrders',
        tags,
        security,
        summary: 'List orders, newest first',
        querystring: ListQuery,
        response: { 200: ListOf(OrderSchema), ...errors(400, 401) },
      },
    },
    async (request) => service.list(claims(request), pageLimit(request.query), request.query.cursor),
  );

  app.get(
    '/api/orders/:id',
    {
      schema: {
        operationId: 'getOrder',
        tags,
        security,
        summary: 'One order with its items and payment',
        params: IdParams,
        response: { 200: OrderSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => service.get(claims(request), request.params.id),
  );
};
