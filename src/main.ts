// The only file that listens. It loads the configuration, starts the dependencies with
// bounded retries, builds the app, starts the job workers, and owns shutdown:
// SIGTERM/SIGINT → readiness 503 → stop accepting → finish in-flight → stop workers →
// close pools → exit 0, all under SHUTDOWN_TIMEOUT_MS.
import { buildApp } from './app.ts';
import { configOrExit, processLogger } from './bootstrap.ts';
import { createDependencies } from './dependencies.ts';
import { createServices } from './services.ts';
import type { LifecycleState } from './observability/health/health.routes.ts';
import type { AppLogger } from './observability/logging/logger.ts';
import { tracingRuntime } from './observability/tracing/sdk.ts';
import { logConfirmationSender, startOrderWorkers } from './modules/orders/orders.jobs.ts';

async function main(): Promise<void> {
  const config = configOrExit();
  const tracing = tracingRuntime();
  const logger = processLogger(config);
  const state: LifecycleState = { started: false, shuttingDown: false };
  process.on('uncaughtException', (error) => crash(logger, error, 'uncaught_exception'));
  process.on('unhandledRejection', (error) => crash(logger, error, 'unhandled_rejection'));

  if (config.jwtSecretGenerated) {
    logger.warn({ detail: 'JWT_SECRET is not set; a random secret signs tokens until this process stops' }, 'jwt_secret_generated');
  }

  let deps;
  try {
    deps = await createDependencies(config, logger);
  } catch (error) {
    logger.critical({ error }, 'startup_failed');
    process.exit(1);
  }

  const services = createServices(deps);
  const app = await buildApp({ ...deps, services, state, tracing: tracing.enabled });
  if (config.WORKER_ENABLED) {
    await startOrderWorkers({ db: deps.db, jobs: deps.jobs, log: logger, settlement: services.settlement, sender: logConfirmationSender });
  }
  // Fastify's own "Server listening at…" line is replaced by server_started below.
  await app.listen({ port: config.PORT, host: config.HOST, listenTextResolver: () => 'server_listening' });
  state.started = true;
  logger.info(
    {
      url: `http://${config.HOST}:${config.PORT}`,
      app_env: config.APP_ENV,
      database: deps.embedded ? 'embedded' : 'postgres',
      cache: deps.cache.kind,
      tracing: tracing.enabled ? tracing.exporters.join(',') || 'no exporter' : 'disabled',
    },
    'server_started',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    state.shuttingDown = true;
    logger.info({ signal }, 'shutdown_started');
    const deadline = setTimeout(() => {
      logger.error({ timeout_ms: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown_deadline_exceeded');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    try {
      await app.close(); // stops accepting, waits for in-flight requests
      await deps.close(); // workers, pools, embedded database
      await tracing.shutdown(); // exports every buffered span
      logger.info('shutdown_complete');
      clearTimeout(deadline);
      process.exit(0);
    } catch (error) {
      logger.error({ error }, 'shutdown_failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

/** An error nobody handled: log it and exit; running on in an unknown state is worse. */
function crash(logger: AppLogger, error: unknown, message: string): void {
  logger.fatal({ error }, message);
  process.exit(1);
}

await main();
