// The composition root of the product: every service is built here once, from the
// dependencies (database, cache, jobs, gateway, metrics), and the same instances are
// handed to the routes (app.ts) and to the job workers (main.ts, the tests). Nothing is
// passed back out of the app through a decorator.
import type { Config } from './config.ts';
import type { Metrics } from './observability/metrics/metrics.ts';
import type { Cache } from './platform/cache/cache.ts';
import type { Database } from './platform/db/database.ts';
import type { JobQueue } from './platform/jobs/job-queue.ts';
import { AccessTokens } from './modules/auth/access-token.ts';
import { authService } from './modules/auth/auth.service.ts';
import { orderSettlement } from './modules/orders/order-settlement.ts';
import { ordersService } from './modules/orders/orders.service.ts';
import type { PaymentGateway } from './modules/payments/payment-gateway.ts';
import { productsService } from './modules/products/products.service.ts';
import { tenantsService } from './modules/tenants/tenants.service.ts';
import { usersService } from './modules/users/users.service.ts';

export interface ServiceDeps {
  config: Config;
  metrics: Metrics;
  db: Database;
  cache: Cache;
  jobs: JobQueue;
  gateway: PaymentGateway;
}

export interface Services {
  tokens: AccessTokens;
  /** Shared by POST /api/orders and the reconcile worker. */
  settlement: ReturnType<typeof orderSettlement>;
  tenants: ReturnType<typeof tenantsService>;
  auth: ReturnType<typeof authService>;
  users: ReturnType<typeof usersService>;
  products: ReturnType<typeof productsService>;
  orders: ReturnType<typeof ordersService>;
}

export function createServices(deps: ServiceDeps): Services {
  const { config, metrics, db, cache, jobs, gateway } = deps;
  const tokens = new AccessTokens({ secret: config.jwtSecret, ttlSeconds: config.JWT_TTL_SECONDS });
  const settlement = orderSettlement({ db, gateway, jobs, metrics });
  return {
    tokens,
    settlement,
    tenants: tenantsService({ db, tokens, metrics }),
    auth: authService({ db, cache, tokens }),
    users: usersService({ db, metrics }),
    products: productsService({ db }),
    orders: ordersService({ db, gateway, cache, metrics, settlement }),
  };
}
