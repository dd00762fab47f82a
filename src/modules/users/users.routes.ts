import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccessTokens } from '../auth/access-token.ts';
import { authenticate, claims, requireRole } from '../auth/authenticate.ts';
import { bearerSecurity, errors, IdParams, ListOf, ListQuery, pageLimit } from '../shared/schemas.ts';
import { CreateUserBody, MeResponse, UserSchema } from './users.schemas.ts';
import type { usersService } from './users.service.ts';

export const usersRoutes: FastifyPluginAsyncTypebox<{ service: ReturnType<typeof usersService>; tokens: AccessTokens }> = async (app, { service, tokens }) => {
  app.addHook('onRequest', authenticate(tokens));

  app.get(
    '/api/me',
    {
      schema: {
        operationId: 'getMe',
        tags: ['users'],
        summary: 'The caller and their tenant',
        security: bearerSecurity,
        response: { 200: MeResponse, ...errors(401, 404) },
      },
    },
    async (request) => service.me(claims(request)),
  );

  app.post(
    '/api/users',
    {
      preHandler: requireRole('admin'),
      schema: {
        operationId: 'createUser',
        tags: ['users'],
        summary: 'Create a user in the caller’s tenant (owners and admins)',
        security: bearerSecurity,
        body: CreateUserBody,
        response: { 201: UserSchema, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(claims(request), request.body, request.log)),
  );

  app.get(
    '/api/users',
    {
      schema: {
        operationId: 'listUsers',
        tags: ['users'],
        summary: 'List users, newest first',
        security: bearerSecurity,
        querystring: ListQuery,
        response: { 200: ListOf(UserSchema), ...errors(400, 401) },
      },
    },
    async (request) => service.list(claims(request), pageLimit(request.query), request.query.cursor),
  );

  app.get(
    '/api/users/:id',
    {
      schema: {
        operationId: 'getUser',
        tags: ['users'],
        summary: 'One user',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: UserSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => service.get(claims(request), request.params.id),
  );
};
