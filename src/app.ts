// buildApp(deps): the Fastify instance with every plugin and module registered. It never
// listens (main.ts does) so tests can build it and call `app.inject()`.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.ts';
import { httpServerSpans } from './observability/tracing/http-server-spans.ts';
import { healthRoutes, type LifecycleState, type ReadinessCheck } from './observability/health/health.routes.ts';
import type { AppLogger } from './observability/logging/logger.ts';
import { httpMetrics } from './observability/metrics/http-metrics.ts';
import type { Metrics } from './observability/metrics/metrics.ts';
import { childLoggerFactory, genRequestId, RequestLogController } from './observability/logging/request-logging.ts';
import type { Cache } from './platform/cache/cache.ts';
import type { Database } from './platform/db/database.ts';
import { docsPlugin } from './platform/http/docs.ts';
import { frameworkErrorHandler, registerErrorHandling } from './platform/http/error-handler.ts';
import { ajvOptions, schemaController } from './platform/http/validation.ts';
import type { JobQueue } from './platform/jobs/job-queue.ts';
import { AccessTokens } from './modules/auth/access-token.ts';
import { authRoutes } from './modules/auth/auth.routes.ts';
import { authService } from './modules/auth/auth.service.ts';
import { orderSettlement } from './modules/orders/order-settlement.ts';
import { ordersRoutes } from './modules/orders/orders.routes.ts';
import { ordersService } from './modules/orders/orders.service.ts';
import type { PaymentGateway } from './modules/payments/payment-gateway.ts';
import { productsRoutes } from './modules/products/products.routes.ts';
import { productsService } from './modules/products/products.service.ts';
import { ErrorResponse } from './modules/shared/schemas.ts';
import { tenantsRoutes } from './modules/tenants/tenants.routes.ts';
import { tenantsService } from './modules/tenants/tenants.service.ts';
import { usersRoutes } from './modules/users/users.routes.ts';
import { usersService } from './modules/users/users.service.ts';
import packageJson from '../package.json' with { type: 'json' };

export interface AppDeps {
  config: Config;
  logger: AppLogger;
  /** The metrics facade (a no-op one when METRICS_ENABLED=false). */
  metrics: Metrics;
  db: Database;
  cache: Cache;
  jobs: JobQueue;
  gateway: PaymentGateway;
  /** Shared with main.ts: startup flips `started`, SIGTERM flips `shuttingDown`. */
  state?: LifecycleState;
  /** Make a server span per request (false when the OpenTelemetry SDK is not running). */
  tracing?: boolean;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as the base logger so plugins and routes see the usual FastifyInstance.
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new RequestLogController(),
    childLoggerFactory,
    genReqId: genRequestId,
    requestIdHeader: false, // genReqId reads x-request-id itself and rejects unsafe values
    bodyLimit: BODY_LIMIT_BYTES,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    ajv: ajvOptions,
    schemaController,
    // Errors raised before routing (a malformed URL escape, an over-long path parameter)
    // get the contract's body and an x-request-id too.
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('auth', null);
  // First, so its onRoute hook sees (and wraps) every route registered after it.
  if (deps.tracing) await app.register(httpServerSpans);
  // After the span plugin, so the latency exemplar can read the request's trace id.
  if (deps.metrics.enabled) await app.register(httpMetrics, { metrics: deps.metrics });
  app.addSchema(ErrorResponse);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  registerErrorHandling(app);
  await app.register(docsPlugin, { version: packageJson.version });

  const state = deps.state ?? { started: true, shuttingDown: false };
  // While draining, every answer closes its connection: keep-alive clients reconnect
  // elsewhere and the server's close() is not held open by idle sockets.
  app.addHook('onSend', async (_request, reply) => {
    if (state.shuttingDown) void reply.header('connection', 'close');
  });
  const checks: ReadinessCheck[] = [
    { name: 'database', check: () => deps.db.ping() },
    { name: 'redis', check: async () => (deps.cache.kind === 'memory' ? 'disabled' : deps.cache.ping()) },
  ];
  await app.register(healthRoutes, { checks, state });

  const tokens = new AccessTokens({ secret: deps.config.jwtSecret, ttlSeconds: deps.config.JWT_TTL_SECONDS });
  const { metrics } = deps;
  const settlement = orderSettlement({ db: deps.db, gateway: deps.gateway, jobs: deps.jobs, metrics });
  await app.register(tenantsRoutes, { service: tenantsService({ db: deps.db, tokens, metrics }) });
  await app.register(authRoutes, { service: authService({ db: deps.db, cache: deps.cache, tokens }) });
  await app.register(usersRoutes, { service: usersService({ db: deps.db, metrics }), tokens });
  await app.register(productsRoutes, { service: productsService({ db: deps.db }), tokens });
  await app.register(ordersRoutes, {
    service: ordersService({
      db: deps.db,
      jobs: deps.jobs,
      gateway: deps.gateway,
      cache: deps.cache,
      metrics,
      settlement,
      reconcileAfterSeconds: deps.config.ORDER_RECONCILE_AFTER_SECONDS,
    }),
    tokens,
  });

  app.decorate('settlement', settlement);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    settlement: ReturnType<typeof orderSettlement>;
  }
}
