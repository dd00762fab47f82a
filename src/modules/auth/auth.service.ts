// Login: tenant slug + e-mail + password → access token. Failures are logged with a reason
// (never the password) and counted per account; too many get 429 before any work is done.
// No HTTP here: the route binds the identity this returns to its request (and its logs).
import type { Logger } from '../../observability/logging/logger.ts';
import type { Cache } from '../../platform/cache/cache.ts';
import type { Database } from '../../platform/db/database.ts';
import { AppError, tooManyRequests } from '../../platform/http/app-error.ts';
import { tenantsRepository } from '../tenants/tenants.repository.ts';
import { usersRepository } from '../users/users.repository.ts';
import type { AccessClaims, AccessTokens } from './access-token.ts';
import type { LoginBody, TokenResponse } from './auth.schemas.ts';
import { loginThrottle } from './login-throttle.ts';
import { dummyPasswordHash, verifyPassword } from './password.ts';

export function authService(deps: { db: Database; cache: Cache; tokens: AccessTokens }) {
  const throttle = loginThrottle(deps.cache);
  return {
    /** The token answer, and who logged in: the route binds that identity to its request before logging the success. */
    async login(body: LoginBody, log: Logger): Promise<{ identity: AccessClaims; token: TokenResponse }> {
      const email = body.email.toLowerCase();
      const retryAfter = await throttle.blockedFor(body.tenant, email);
      if (retryAfter > 0) {
        log.warn({ tenant: body.tenant, reason: 'too_many_failures' }, 'user_login_failed');
        throw tooManyRequests(retryAfter, 'Too many failed logins for this account; try again later', 'too_many_login_attempts');
      }
      const found = await deps.db.withTenant({ tenantSlug: body.tenant }, async (tx) => {
        const tenant = await tenantsRepository.enterBySlug(tx, body.tenant);
        const user = tenant ? await usersRepository.findCredentials(tx, email) : undefined;
        return { tenant, user };
      });
      // Always run one scrypt, so an unknown tenant or e-mail takes as long as a wrong password.
      const valid = await verifyPassword(body.password, found.user?.password_hash ?? (await dummyPasswordHash));
      if (!found.tenant || !found.user || !valid) {
        const reason = !found.tenant ? 'unknown_tenant' : !found.user ? 'unknown_user' : 'wrong_password';
        const failures = await throttle.recordFailure(body.tenant, email);
        logFailure(log, { tenant: body.tenant, tenant_id: found.tenant?.id, user_id: found.user?.id, reason, failures });
        throw new AppError(401, 'invalid_credentials', 'Invalid tenant, e-mail or password');
      }
      await throttle.reset(body.tenant, email);
      const identity: AccessClaims = { tenant_id: found.tenant.id, user_id: found.user.id, role: found.user.role };
      return {
        identity,
        token: {
          access_token: deps.tokens.issue(identity),
          token_type: 'Bearer' as const,
          expires_in: deps.tokens.ttlSeconds,
        },
      };
    },
  };
}

function logFailure(log: Logger, fields: Record<string, unknown>) {
  log.warn(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)), 'user_login_failed');
}
