// Public signup: a tenant and its owner in one transaction, then an access token.
import type { Logger } from '../../observability/logging/logger.ts';
import type { Metrics } from '../../observability/metrics/metrics.ts';
import type { Database } from '../../platform/db/database.ts';
import { uuidv7 } from '../../platform/db/ids.ts';
import { conflict } from '../../platform/http/app-error.ts';
import type { AccessTokens } from '../auth/access-token.ts';
import { hashPassword } from '../auth/password.ts';
import { uniqueViolation } from '../shared/pg-errors.ts';
import { usersRepository } from '../users/users.repository.ts';
import { tenantsRepository } from './tenants.repository.ts';
import { DEFAULT_SIGNUP_SOURCE, signupSourceLabel } from './signup-source.ts';
import type { SignupBody } from './tenants.schemas.ts';

export function tenantsService(deps: { db: Database; tokens: AccessTokens; metrics: Metrics }) {
  return {
    async signup(body: SignupBody, log: Logger) {
      const tenant = { id: uuidv7(), name: body.name, slug: body.slug };
      const email = body.email.toLowerCase();
      const source = body.source ?? DEFAULT_SIGNUP_SOURCE;
      const passwordHash = await hashPassword(body.password);
      let user;
      try {
        user = await deps.db.withTenant(tenant.id, async (tx) => {
          await tenantsRepository.insert(tx, { ...tenant, signupSource: source });
          return usersRepository.insert(tx, { id: uuidv7(), tenantId: tenant.id, email, passwordHash, role: 'owner' });
        });
      } catch (error) {
        if (uniqueViolation(error) === 'tenants_slug_key') throw conflict('slug_taken', `The slug "${tenant.slug}" is taken`);
        throw error;
      }
      log.info({ tenant_id: tenant.id, user_id: user.id, source }, 'tenant_signed_up');
      deps.metrics.signup(tenant.id, signupSourceLabel(source));
      return {
        tenant,
        user: { id: user.id, email: user.email, role: 'owner' as const },
        access_token: deps.tokens.issue({ tenant_id: tenant.id, user_id: user.id, role: 'owner' }),
        token_type: 'Bearer' as const,
        expires_in: deps.tokens.ttlSeconds,
      };
    },
  };
}
