// Creates and closes the outside world the app runs against: the database (embedded PGlite
// or DATABASE_URL), migrations, the cache (memory or REDIS_URL), the job queue and the
// payment gateway. main.ts and the tests share this wiring, so tests run what users run.
import type { Config } from './config.ts';
import type { AppLogger } from './observability/logging/logger.ts';
import { retryStartup, type StartupRetryOptions } from './observability/lifecycle/startup-retry.ts';
import { createErrorReporting, type ErrorReporter, type ErrorReporting } from './observability/errors/error-reporting.ts';
import { releaseName } from './observability/errors/release.ts';
import { createSentryReporter, logErrorTracking } from './observability/errors/sentry-reporter.ts';
import { createMetrics, DISABLED_METRICS, type Metrics } from './observability/metrics/metrics.ts';
import { tracingRuntime } from './observability/tracing/sdk.ts';
import type { Cache } from './platform/cache/cache.ts';
import { MemoryCache } from './platform/cache/memory-cache.ts';
import { Database } from './platform/db/database.ts';
import type { EmbeddedPostgres } from './platform/db/embedded-postgres.ts';
import { runMigrations } from './platform/db/migrations.ts';
import { queryMetrics } from './platform/db/query-metrics.ts';
import { JobQueue } from './platform/jobs/job-queue.ts';
import { queueDefinitions } from './modules/orders/orders.queues.ts';
import { HttpPaymentGateway } from './modules/payments/http-gateway.ts';
import type { PaymentGateway } from './modules/payments/payment-gateway.ts';
import { SimulatedPaymentGateway } from './modules/payments/simulated-gateway.ts';
import { IDEMPOTENCY_CACHE } from './modules/orders/idempotency-cache.ts';
import packageJson from '../package.json' with { type: 'json' };

export interface Dependencies {
  config: Config;
  logger: AppLogger;
  /** The metrics facade (a no-op one when METRICS_ENABLED=false). */
  metrics: Metrics;
  db: Database;
  cache: Cache;
  jobs: JobQueue;
  gateway: PaymentGateway;
  /** Where 5xx answers, failed jobs and crashes are reported (error tracking's hook point). */
  errors: ErrorReporting;
  embedded?: EmbeddedPostgres;
  /** Stops the job workers after their current job (the first step of closing; close() does it too). */
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

export interface DependencyOptions {
  /** Keep the embedded database in memory instead of DATA_DIR (tests). */
  inMemory?: boolean;
  /** Tries to reach each dependency before giving up (startup); default STARTUP_ATTEMPTS. */
  attempts?: number;
  gateway?: PaymentGateway;
  /** Error trackers to report to (tests pass a recording one). */
  errorReporters?: ErrorReporter[];
}

const JOB_POOL_SIZE = 3;

/** A dependency that never answered at startup; its critical line is already logged. */
export class DependencyStartupError extends Error {
  readonly dependency: string;
  constructor(dependency: string, cause: unknown) {
    super(`${dependency} did not answer at startup: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'DependencyStartupError';
    this.dependency = dependency;
  }
}

/**
 * Reaches one dependency with bounded retries and logs the FastAPI guide's events:
 * `<name>_connection_ok` (info) once it answers, `<name>_connection_failed` (critical) when
 * it never did; the caller then stops the process.
 */
async function connectOrFail(name: 'database' | 'redis', retry: StartupRetryOptions, log: AppLogger, fn: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await retryStartup(name, retry, log, fn);
  } catch (error) {
    log.critical(
      { dependency: name, attempts: retry.attempts, duration_ms: Date.now() - started, error: (error as Error).message },
      `${name}_connection_failed`,
    );
    throw new DependencyStartupError(name, error);
  }
  log.info({ dependency: name, duration_ms: Date.now() - started }, `${name}_connection_ok`);
}

export async function createDependencies(config: Config, logger: AppLogger, options: DependencyOptions = {}): Promise<Dependencies> {
  const retry: StartupRetryOptions = {
    attempts: options.attempts ?? config.STARTUP_ATTEMPTS,
    maxDelayMs: config.STARTUP_RETRY_MAX_MS,
    attemptTimeoutMs: config.STARTUP_CONNECT_TIMEOUT_MS,
  };
  const closers: { name: string; close: () => Promise<void> }[] = [];
  const close = async () => {
    for (const c of closers.reverse()) {
      logger.debug({ dependency: c.name }, 'dependency_closing');
      await c.close().catch((error: Error) => logger.error({ dependency: c.name, error }, 'dependency_close_failed'));
    }
    closers.length = 0;
  };

  // One registry per app; with METRICS_ENABLED=false the same calls do nothing.
  // Glassbox feeds every group: the pool and queries, the idempotency cache, the business
  // events, and what the span export pipeline lost.
  const metrics = config.METRICS_ENABLED
    ? createMetrics({
        maxTenants: config.METRICS_MAX_TENANTS,
        database: true,
        cache: { names: [IDEMPOTENCY_CACHE] },
        business: true,
        telemetry: () => tracingRuntime().loss(),
        ...(tracingRuntime().enabled ? { exportBlocking: () => tracingRuntime().exportBlocking() } : {}),
      })
    : DISABLED_METRICS;

  // Sentry when SENTRY_DSN is set (its module is loaded only then), unless the caller chose the trackers.
  let reporters = options.errorReporters;
  if (!reporters) {
    reporters = [];
    if (config.SENTRY_DSN) {
      const release = releaseName({ name: packageJson.name, version: packageJson.version, ...(config.GIT_COMMIT ? { commit: config.GIT_COMMIT } : {}) });
      const sentry = await createSentryReporter({
        dsn: config.SENTRY_DSN,
        environment: config.SENTRY_ENVIRONMENT ?? config.APP_ENV,
        ...(release ? { release } : {}),
        ...(config.SENTRY_TRACES_SAMPLE_RATE !== undefined ? { tracesSampleRate: config.SENTRY_TRACES_SAMPLE_RATE } : {}),
      });
      reporters.push(sentry);
      // Last to close: what the pools' closing logs can still be reported, and the flush is bounded.
      closers.push({ name: 'sentry', close: async () => void (await sentry.close(config.TELEMETRY_FLUSH_TIMEOUT_MS)) });
    }
    logErrorTracking(logger, reporters);
  }
  const errors = createErrorReporting(reporters, (reporter, error) => logger.warn({ reporter, error }, 'error_reporter_failed'));

  try {
    let url = config.DATABASE_URL;
    let embedded: EmbeddedPostgres | undefined;
    if (!url) {
      // Loaded only when used: PGlite is a large module a server on real Postgres never needs.
      const { startEmbeddedPostgres } = await import('./platform/db/embedded-postgres.ts');
      embedded = await startEmbeddedPostgres({
        ...(options.inMemory ? {} : { dataDir: `${config.DATA_DIR}/pgdata` }),
        // the app's one connection (see below), plus room for an operator's psql
        maxConnections: 4,
      });
      closers.push({ name: 'embedded_database', close: () => embedded!.stop() });
      url = embedded.url;
      logger.info({ database: 'embedded', data_dir: options.inMemory ? 'memory' : config.DATA_DIR }, 'embedded_database_started');
    }

    // The embedded server runs one backend session and interleaves the messages of its
    // connections; outside a transaction, one connection's extended-protocol exchange can be
    // split by another's and lose replies (pglite-socket 0.2.17, electric-sql/pglite#1046).
    // One connection, shared by the app and pg-boss, makes that impossible; PGlite runs one
    // query at a time anyway, so it costs no throughput.
    const poolSize = embedded ? 1 : config.DATABASE_POOL_SIZE;
    const db = new Database({
      url,
      poolSize,
      onError: (error) => logger.warn({ error }, 'database_client_error'),
      onQuery: queryMetrics({ metrics, log: logger, slowQueryMs: config.SLOW_QUERY_MS }),
    });
    metrics.watch({ pool: () => db.stats() });
    closers.push({ name: 'database_pool', close: () => db.close() });
    await connectOrFail('database', retry, logger, () => db.ping());
    const applied = await runMigrations(db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations_applied');

    let cache: Cache;
    if (config.REDIS_URL) {
      // Loaded only when configured, like PGlite: ioredis costs memory a cache-less process never uses.
      const { RedisCache } = await import('./platform/cache/redis-cache.ts');
      const redis = new RedisCache(config.REDIS_URL, { onError: (error) => logger.warn({ error: error.message }, 'redis_error') });
      closers.push({ name: 'redis', close: () => redis.close() });
      await connectOrFail('redis', retry, logger, async () => {
        if (redis.client.status === 'wait' || redis.client.status === 'end') await redis.connect();
        await redis.ping();
      });
      cache = redis;
      metrics.watch({ redisConnected: () => redis.client.status === 'ready' });
    } else {
      cache = new MemoryCache();
    }

    const jobs = new JobQueue({
      url,
      maxConnections: JOB_POOL_SIZE,
      ...(embedded ? { executeSql: (text: string, values?: unknown[]) => db.pool.query(text, values) } : {}),
      queues: queueDefinitions,
      onError: (error) => logger.error({ error }, 'job_queue_error'),
      onJobFailed: (error, context) => errors.report(error, context),
    });
    await jobs.start({ enqueueRole: 'app_user', grant: (sql) => db.query(sql) });
    closers.push({ name: 'job_queue', close: () => jobs.stop() });

    const gateway =
      options.gateway ??
      (config.PAYMENT_GATEWAY_URL
        ? new HttpPaymentGateway({ baseUrl: config.PAYMENT_GATEWAY_URL, timeoutMs: config.PAYMENT_GATEWAY_TIMEOUT_MS })
        : new SimulatedPaymentGateway({ latencyMs: config.PAYMENT_SIMULATOR_LATENCY_MS, failureRate: config.PAYMENT_SIMULATOR_FAILURE_RATE }));

    return { config, logger, metrics, db, cache, jobs, gateway, errors, ...(embedded ? { embedded } : {}), stopWorkers: () => jobs.stop(), close };
  } catch (error) {
    await close();
    throw error;
  }
}
