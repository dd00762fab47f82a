// buildApp(deps): the Fastify instance with the observability layer and every module
// registered. It never listens (main.ts does) so tests can build it and call `app.inject()`.
import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.ts';
import { observability, observabilityServerOptions, type AppLogger, type LifecycleState, type Metrics, type ReadinessCheck } from './observability/index.ts';
import type { ErrorReporting } from './observability/errors/error-reporting.ts';
import type { Cache } from './platform/cache/cache.ts';
import type { Database } from './platform/db/database.ts';
import { corsPlugin, parseCorsOrigins } from './platform/http/cors.ts';
import { docsRoutes, openApiCollector } from './platform/http/docs.ts';
import { frameworkErrorHandler, registerErrorHandling } from './platform/http/error-handler.ts';
import { securityHeaders } from './platform/http/security-headers.ts';
import { ajvOptions, schemaController } from './platform/http/validation.ts';
import { authRoutes } from './modules/auth/auth.routes.ts';
import { ordersRoutes } from './modules/orders/orders.routes.ts';
import { productsRoutes } from './modules/products/products.routes.ts';
import { ErrorResponse, errors } from './modules/shared/schemas.ts';
import { tenantsRoutes } from './modules/tenants/tenants.routes.ts';
import { usersRoutes } from './modules/users/users.routes.ts';
import type { Services } from './services.ts';
import packageJson from '../package.json' with { type: 'json' };

export interface AppDeps {
  config: Config;
  logger: AppLogger;
  /** The metrics facade (a no-op one when METRICS_ENABLED=false). */
  metrics: Metrics;
  db: Database;
  cache: Cache;
  /** Built once by createServices, shared with the job workers. */
  services: Services;
  /** Shared with main.ts: startup flips `started`, SIGTERM flips `shuttingDown`. */
  state?: LifecycleState;
  /** Make a server span per request; default: whether the OpenTelemetry SDK runs. */
  tracing?: boolean;
  /** Where 5xx answers are reported (error tracking). */
  errors: ErrorReporting;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** What /health/ready checks: the database, and Redis when configured (the memory cache reports "disabled"). */
export function readinessChecks(deps: Pick<AppDeps, 'db' | 'cache'>): ReadinessCheck[] {
  return [
    { name: 'database', check: () => deps.db.ping() },
    { name: 'redis', check: async () => (deps.cache.kind === 'memory' ? 'disabled' : deps.cache.ping()) },
  ];
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...observabilityServerOptions(deps.logger),
    bodyLimit: BODY_LIMIT_BYTES,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // A request that reaches a still-open connection while the server drains is served, not
    // refused with 503: it was accepted, and nothing accepted may fail on shutdown. Every answer
    // while draining says `connection: close`, so such connections end after it.
    return503OnClosing: false,
    ajv: ajvOptions,
    schemaController,
    // Errors raised before routing (a malformed URL escape, an over-long path parameter)
    // get the contract's body and an x-request-id too.
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Before any route: @fastify/swagger learns the routes (the probes too) as they are added.
  await app.register(openApiCollector, { version: packageJson.version, host: deps.config.HOST, port: deps.config.PORT });
  // Then, before every other route: request ids, request logging, server spans, HTTP
  // metrics, /metrics and the probes.
  await app.register(observability, {
    ...(deps.tracing !== undefined ? { tracing: deps.tracing } : {}),
    metrics: deps.metrics.enabled ? deps.metrics : false,
    readiness: readinessChecks(deps),
    lifecycle: deps.state ?? { started: true, shuttingDown: false },
    errors: deps.errors,
    health: { checkTimeoutMs: deps.config.HEALTH_CHECK_TIMEOUT_MS, cacheMs: deps.config.HEALTH_CACHE_MS },
    slowRequestMs: deps.config.SLOW_REQUEST_MS,
    overload: {
      maxEventLoopDelayMs: deps.config.MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: deps.config.MAX_HEAP_USED_MB * 1024 * 1024,
      maxRssBytes: deps.config.MAX_RSS_MB * 1024 * 1024,
    },
    rateLimit:
      deps.config.RATE_LIMIT_PER_MINUTE > 0
        ? { perMinute: deps.config.RATE_LIMIT_PER_MINUTE, ...('client' in deps.cache ? { redis: deps.cache.client } : {}) }
        : false,
    ...(deps.config.ADMIN_TOKEN ? { adminToken: deps.config.ADMIN_TOKEN } : {}),
  });

  // The headers callers and their scanners expect on every /api answer; CORS when CORS_ORIGINS lists origins.
  await app.register(securityHeaders, { production: deps.config.APP_ENV === 'production' });
  await app.register(corsPlugin, { origins: parseCorsOrigins(deps.config.CORS_ORIGINS) });

  app.decorateRequest('auth', null);
  app.addSchema(ErrorResponse);
  // Answers any /api route can give besides its own, declared on each so the OpenAPI document
  // lists every error a caller can really get: the rate limit and load shedding (429, 503),
  // and, from Fastify before the handler, a body too large or of another type (413, 415) and
  // a path parameter past its length limit (414). The route's own entries win.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api') || !route.schema || route.schema.hide) return;
    const withBody = route.method === 'POST' || route.method === 'PATCH' || route.method === 'PUT';
    const common = errors(...(withBody ? [413, 415] : []), ...(route.url.includes(':') ? [414] : []), 429, 503);
    route.schema.response = { ...common, ...(route.schema.response as object | undefined) };
  });
  registerErrorHandling(app);
  await app.register(docsRoutes);

  const { services } = deps;
  const tokens = services.tokens;
  await app.register(tenantsRoutes, { service: services.tenants });
  await app.register(authRoutes, { service: services.auth });
  await app.register(usersRoutes, { service: services.users, tokens });
  await app.register(productsRoutes, { service: services.products, tokens });
  await app.register(ordersRoutes, { service: services.orders, tokens });
  return app;
}
