import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { bindRequestIdentity } from '../../observability/logging/request-logging.ts';
import { errors } from '../shared/schemas.ts';
import { LoginBody, TokenResponse } from './auth.schemas.ts';
import type { authService } from './auth.service.ts';

export const authRoutes: FastifyPluginAsyncTypebox<{ service: ReturnType<typeof authService> }> = async (app, { service }) => {
  app.post(
    '/api/auth/login',
    {
      schema: {
        operationId: 'login',
        tags: ['auth'],
        // Public: this is where a token comes from.
        security: [],
        summary: 'Log in to a tenant; returns an access token',
        body: LoginBody,
        response: { 200: TokenResponse, ...errors(400, 401, 429) },
      },
    },
    async (request) => {
      const { identity, token } = await service.login(request.body, request.log);
      // Bound first, so the success line (and every later one of this request) carries tenant_id and user_id.
      bindRequestIdentity(request, { tenant_id: identity.tenant_id, user_id: identity.user_id });
      request.log.info({ role: identity.role }, 'user_login_successful');
      return token;
    },
  );
};
