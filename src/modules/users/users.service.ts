import type { Logger } from '../../observability/logging/logger.ts';
import type { Metrics } from '../../observability/metrics/metrics.ts';
import type { Database } from '../../platform/db/database.ts';
import { uuidv7 } from '../../platform/db/ids.ts';
import { conflict, forbidden, notFound } from '../../platform/http/app-error.ts';
import type { AccessClaims } from '../auth/access-token.ts';
import { roleAtLeast } from '../auth/authenticate.ts';
import { hashPassword } from '../auth/password.ts';
import { uniqueViolation } from '../shared/pg-errors.ts';
import { page } from '../shared/schemas.ts';
import { INVITED_SOURCE } from '../tenants/signup-source.ts';
import { tenantsRepository } from '../tenants/tenants.repository.ts';
import { usersRepository } from './users.repository.ts';
import type { CreateUserBody } from './users.schemas.ts';

export function usersService(deps: { db: Database; metrics: Metrics }) {
  return {
    async me(auth: AccessClaims) {
      return deps.db.withTenantRead(auth.tenant_id, async (tx) => {
        const user = await usersRepository.findById(tx, auth.user_id);
        const tenant = await tenantsRepository.findById(tx, auth.tenant_id);
        // A token can outlive its user (deleted tenant or user): treat it as unknown.
        if (!user || !tenant) throw notFound('User');
        return { user: { id: user.id, email: user.email, role: user.role }, tenant };
      });
    },

    async create(auth: AccessClaims, body: CreateUserBody, log: Logger) {
      if (!roleAtLeast(auth.role, body.role)) throw forbidden(`You may not create a user with the ${body.role} role`);
      const passwordHash = await hashPassword(body.password);
      try {
        const user = await deps.db.withTenant(auth.tenant_id, (tx) =>
          usersRepository.insert(tx, { id: uuidv7(), tenantId: auth.tenant_id, email: body.email.toLowerCase(), passwordHash, role: body.role }),
        );
        log.info({ created_user_id: user.id, role: user.role }, 'user_created');
        deps.metrics.signup(auth.tenant_id, INVITED_SOURCE);
        return user;
      } catch (error) {
        if (uniqueViolation(error) === 'users_tenant_email_key') throw conflict('email_taken', 'A user with this e-mail already exists');
        throw error;
      }
    },

    async get(auth: AccessClaims, id: string) {
      const user = await deps.db.withTenantRead(auth.tenant_id, (tx) => usersRepository.findById(tx, id));
      if (!user) throw notFound('User');
      return user;
    },

    async list(auth: AccessClaims, limit: number, cursor?: string) {
      return page(await deps.db.withTenantRead(auth.tenant_id, (tx) => usersRepository.list(tx, limit, cursor)), limit);
    },
  };
}
