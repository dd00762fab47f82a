// The only file that listens. It loads the configuration, reaches the dependencies with
// bounded retries, builds the app, starts the job workers, and owns the process's lifecycle
// with the FastAPI guide's event names: application_starting → database_connection_ok /
// redis_connection_ok (or their critical `_failed` line and exit 1) → application_started;
// SIGTERM/SIGINT or a crash → the orderly stop of observability/lifecycle/graceful-shutdown.ts
// → application_stopped.
import { buildApp } from './app.ts';
import { configOrExit, processLogger } from './bootstrap.ts';
import { createDependencies, DependencyStartupError, type Dependencies } from './dependencies.ts';
import { createServices } from './services.ts';
import type { LifecycleState } from './observability/health/health.routes.ts';
import { installCrashHandlers } from './observability/lifecycle/crash-handler.ts';
import { gracefulShutdown, type Shutdown } from './observability/lifecycle/graceful-shutdown.ts';
import { tracingRuntime } from './observability/tracing/sdk.ts';
import { logConfirmationSender, startOrderWorkers } from './modules/orders/orders.jobs.ts';
import packageJson from '../package.json' with { type: 'json' };

async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = configOrExit();
  const tracing = tracingRuntime();
  const logger = processLogger(config);
  const state: LifecycleState = { started: false, shuttingDown: false };
  let deps: Dependencies | undefined;
  // Set once the server exists; the crash handler reads it through the closure before then.
  let shutdown: Shutdown | undefined = undefined;
  installCrashHandlers({ log: logger, errors: () => deps?.errors, shutdown: () => shutdown, flushTimeoutMs: config.TELEMETRY_FLUSH_TIMEOUT_MS });

  logger.info({ version: packageJson.version, app_env: config.APP_ENV, node_version: process.version, pid: process.pid }, 'application_starting');
  if (config.jwtSecretGenerated) {
    logger.warn({ detail: 'JWT_SECRET is not set; a random secret signs tokens until this process stops' }, 'jwt_secret_generated');
  }

  try {
    deps = await createDependencies(config, logger);
  } catch (error) {
    // A dependency that never answered has logged its own critical line; anything else
    // (a failed migration, a bad data folder) gets one here.
    if (!(error instanceof DependencyStartupError)) logger.critical({ error }, 'startup_failed');
    await tracing.shutdown().catch(() => {});
    process.exit(1);
  }

  const services = createServices(deps);
  const app = await buildApp({ ...deps, services, state, tracing: tracing.enabled });
  if (config.WORKER_ENABLED) {
    await startOrderWorkers({
      db: deps.db,
      jobs: deps.jobs,
      log: logger,
      settlement: services.settlement,
      sender: logConfirmationSender,
      reconcileAfterSeconds: deps.config.ORDER_RECONCILE_AFTER_SECONDS,
    });
  }

  const running = deps;
  shutdown = gracefulShutdown({
    log: logger,
    state,
    delayMs: config.shutdownDelayMs,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    flushTimeoutMs: config.TELEMETRY_FLUSH_TIMEOUT_MS,
    closeServer: () => app.close(),
    stopWorkers: () => running.stopWorkers(),
    flush: [
      { name: 'traces', flush: async () => (await tracing.shutdown(), true) },
      { name: 'errors', flush: async (timeoutMs) => (await running.errors.flush(timeoutMs)).length === 0 },
    ],
    closeResources: () => running.close(),
  });
  process.once('SIGTERM', () => void shutdown?.('SIGTERM'));
  process.once('SIGINT', () => void shutdown?.('SIGINT'));

  // Fastify's own "Server listening at…" line is replaced by application_started below.
  await app.listen({ port: config.PORT, host: config.HOST, listenTextResolver: () => 'server_listening' });
  state.started = true;
  logger.info(
    {
      version: packageJson.version,
      url: `http://${config.HOST}:${config.PORT}`,
      host: config.HOST,
      port: config.PORT,
      app_env: config.APP_ENV,
      backends: { database: deps.embedded ? 'embedded' : 'postgres', cache: deps.cache.kind },
      tracing: tracing.enabled ? 'enabled' : 'disabled',
      trace_exporters: tracing.exporters,
      error_tracking: deps.errors.active ? 'on' : 'off',
      startup_ms: Date.now() - startedAt,
    },
    'application_started',
  );
}

await main();
