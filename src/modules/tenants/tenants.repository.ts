import type { Queryable } from '../../platform/db/database.ts';

export interface TenantRow {
  id: string;
  name: string;
  slug: string;
}

export const tenantsRepository = {
  async insert(tx: Queryable, tenant: TenantRow & { signupSource: string }): Promise<void> {
    await tx.query('INSERT INTO tenants (id, name, slug, signup_source) VALUES ($1, $2, $3, $4)', [tenant.id, tenant.name, tenant.slug, tenant.signupSource]);
  },

  async findById(tx: Queryable, id: string): Promise<TenantRow | undefined> {
    const { rows } = await tx.query<TenantRow>('SELECT id, name, slug FROM tenants WHERE id = $1', [id]);
    return rows[0];
  },

  /**
   * Finds a tenant by slug and makes it the transaction's tenant for row-level security, in
   * one round trip. Needs a transaction opened with `tenantSlug` (see the tenants policy).
   */
  async enterBySlug(tx: Queryable, slug: string): Promise<TenantRow | undefined> {
    const { rows } = await tx.query<TenantRow & { entered: string }>(
      "SELECT id, name, slug, set_config('app.tenant_id', id::text, true) AS entered FROM tenants WHERE slug = $1",
      [slug],
    );
    return rows[0];
  },
};
