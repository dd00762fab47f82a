// Bearer-token authentication and role checks, as route hooks. A verified token binds
// tenant_id and user_id to the request logger so every later line carries them.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bindRequestIdentity } from '../../observability/logging/request-logging.ts';
import { forbidden, unauthorized } from '../../platform/http/app-error.ts';
import { InvalidTokenError, type AccessClaims, type AccessTokens, type Role } from './access-token.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AccessClaims | null;
  }
}

export type AuthenticatedRequest = FastifyRequest & { auth: AccessClaims };

export function authenticate(tokens: AccessTokens) {
  return async function authenticateRequest(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    if (!header) throw unauthorized('Missing bearer token');
    const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/i.exec(header);
    if (!match?.[1]) throw unauthorized('Authorization header must be "Bearer <token>"', 'invalid_token');
    try {
      request.auth = tokens.verify(match[1]);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        request.log.info({ reason: error.message }, 'invalid_access_token');
        throw unauthorized('Access token is invalid or expired', 'invalid_token');
      }
      throw error;
    }
    bindRequestIdentity(request, { tenant_id: request.auth.tenant_id, user_id: request.auth.user_id });
  };
}

const RANK: Record<Role, number> = { member: 0, admin: 1, owner: 2 };

/** True when `role` is at least `minimum`. */
export const roleAtLeast = (role: Role, minimum: Role) => RANK[role] >= RANK[minimum];

export function requireRole(minimum: Role) {
  return async function checkRole(request: FastifyRequest): Promise<void> {
    if (!request.auth) throw unauthorized();
    if (!roleAtLeast(request.auth.role, minimum)) throw forbidden(`This action requires the ${minimum} role or above`);
  };
}

/** The claims of a request that passed `authenticate`. */
export function claims(request: FastifyRequest): AccessClaims {
  if (!request.auth) throw unauthorized();
  return request.auth;
}
