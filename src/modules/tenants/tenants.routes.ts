import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errors } from '../shared/schemas.ts';
import { SignupBody, SignupResponse } from './tenants.schemas.ts';
import type { tenantsService } from './tenants.service.ts';

export const tenantsRoutes: FastifyPluginAsyncTypebox<{ service: ReturnType<typeof tenantsService> }> = async (app, { service }) => {
  app.post(
    '/api/tenants',
    {
      schema: {
        operationId: 'createTenant',
        tags: ['tenants'],
        // Public: signing up is how a caller gets its first token.
        security: [],
        summary: 'Sign up: create a tenant and its owner, and log the owner in',
        body: SignupBody,
        response: { 201: SignupResponse, ...errors(400, 409, 413, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.signup(request.body, request.log)),
  );
};
