import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errors } from '../shared/schemas.ts';
import { LoginBody, TokenResponse } from './auth.schemas.ts';
import type { authService } from './auth.service.ts';

export const authRoutes: FastifyPluginAsyncTypebox<{ service: ReturnType<typeof authService> }> = async (app, { service }) => {
  app.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in to a tenant; returns an access token',
        body: LoginBody,
        response: { 200: TokenResponse, ...errors(400, 401, 429) },
      },
    },
    async (request) => service.login(request.body, request),
  );
};
