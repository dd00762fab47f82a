import type { Logger } from '../../observability/logging/logger.ts';
import type { Database } from '../../platform/db/database.ts';
import { uuidv7 } from '../../platform/db/ids.ts';
import { notFound } from '../../platform/http/app-error.ts';
import type { AccessClaims } from '../auth/access-token.ts';
import { page } from '../shared/schemas.ts';
import { productsRepository } from './products.repository.ts';
import type { CreateProductBody, UpdateProductBody } from './products.schemas.ts';

export function productsService(deps: { db: Database }) {
  return {
    async create(auth: AccessClaims, body: CreateProductBody, log: Logger) {
      const product = await deps.db.withTenant(auth.tenant_id, (tx) =>
        productsRepository.insert(tx, { id: uuidv7(), tenantId: auth.tenant_id, name: body.name, priceCents: body.price_cents, stock: body.stock }),
      );
      log.info({ product_id: product.id }, 'product_created');
      return product;
    },

    async get(auth: AccessClaims, id: string) {
      const product = await deps.db.withTenantRead(auth.tenant_id, (tx) => productsRepository.findById(tx, id));
      if (!product) throw notFound('Product');
      return product;
    },

    async update(auth: AccessClaims, id: string, body: UpdateProductBody, log: Logger) {
      const product = await deps.db.withTenant(auth.tenant_id, (tx) =>
        productsRepository.update(tx, id, { name: body.name, priceCents: body.price_cents, stock: body.stock }),
      );
      if (!product) throw notFound('Product');
      log.info({ product_id: id, changed: Object.keys(body) }, 'product_updated');
      return product;
    },

    async list(auth: AccessClaims, limit: number, cursor?: string) {
      return page(await deps.db.withTenantRead(auth.tenant_id, (tx) => productsRepository.list(tx, limit, cursor)), limit);
    },
  };
}
