// Builds the real app against the real dependencies, as main.ts does: the embedded PGlite
// (in memory, one per test file) by default, or the servers of DATABASE_URL / REDIS_URL
// when those are set. Log lines are captured so tests can read what was logged.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createDependencies, type Dependencies } from '../../src/dependencies.ts';
import { createServices, type Services } from '../../src/services.ts';
import type { ErrorReporter } from '../../src/observability/errors/error-reporting.ts';
import { createLogger } from '../../src/observability/logging/logger.ts';
import type { LifecycleState } from '../../src/observability/health/health.routes.ts';
import { logConfirmationSender, startOrderWorkers, type ConfirmationSender } from '../../src/modules/orders/orders.jobs.ts';
import type { PaymentGateway } from '../../src/modules/payments/payment-gateway.ts';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-0123456789';

/** Every JSON line the app logged, parsed. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
  find(message: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.message === message);
  }
}

export interface TestApp {
  app: FastifyInstance;
  deps: Dependencies;
  /** The services the routes and workers share (the order settlement, …). */
  services: Services;
  config: Config;
  logs: LogCapture;
  gateway: PaymentGateway;
  state: LifecycleState;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  gateway?: PaymentGateway;
  /** Start the pg-boss workers (confirmation, reconcile) as main.ts does. */
  workers?: boolean;
  sender?: ConfirmationSender;
  /** Make server spans (call startTestTracing() first to collect them). */
  tracing?: boolean;
  /**
   * On a shared Postgres (DATABASE_URL), run in a database of this app's own, dropped on
   * close: a file whose job worker must see only its own jobs (pg-boss workers of other
   * files or child servers would otherwise take them). No effect on the embedded backend.
   */
  ownDatabase?: boolean;
  /** Error trackers the app reports 5xx answers and failed jobs to. */
  errorReporters?: ErrorReporter[];
  /** Called before `app.ready()`: register extra routes (e.g. one that fails on purpose). */
  beforeReady?: (app: FastifyInstance) => void | Promise<void>;
}

/** The backend under test, for test names: "embedded" or "postgres". */
export const backend = process.env.DATABASE_URL ? 'postgres' : 'embedded';

/** Creates a fresh database next to DATABASE_URL's; returns its URL and how to drop it. */
export async function createOwnDatabase(shared: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `glassbox_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: shared });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(shared);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: shared });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const own = options.ownDatabase && process.env.DATABASE_URL ? await createOwnDatabase(process.env.DATABASE_URL) : undefined;
  const env: Record<string, string> = {
    APP_ENV: 'test',
    LOG_LEVEL: 'debug',
    JWT_SECRET: TEST_JWT_SECRET,
    // Load tests send thousands of requests for one tenant; the rate limit's own tests set it low.
    RATE_LIMIT_PER_MINUTE: '1000000',
    // Load shedding off: a test machine running several suites at once lags past 1 s now and
    // then, and a shed 503 would fail a test about something else. The overload tests set it.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...options.env,
    ...(own ? { DATABASE_URL: own.url } : {}),
  };
  const config = loadConfig(env);
  const logs = new LogCapture();
  const logger = createLogger({ level: config.LOG_LEVEL, format: 'json', destination: logs });
  // Without a gateway of the test's own, the configuration chooses (simulator or PAYMENT_GATEWAY_URL).
  const deps = await createDependencies(config, logger, {
    inMemory: true,
    attempts: 3,
    ...(options.gateway ? { gateway: options.gateway } : {}),
    ...(options.errorReporters ? { errorReporters: options.errorReporters } : {}),
  });
  const gateway = deps.gateway;
  const state: LifecycleState = { started: true, shuttingDown: false };
  const services = createServices(deps);
  const app = await buildApp({ ...deps, services, state, tracing: options.tracing ?? false });
  if (options.workers) {
    await startOrderWorkers({
      db: deps.db,
      jobs: deps.jobs,
      log: logger,
      settlement: services.settlement,
      sender: options.sender ?? logConfirmationSender,
      reconcileAfterSeconds: deps.config.ORDER_RECONCILE_AFTER_SECONDS,
    });
  }
  await options.beforeReady?.(app);
  await app.ready();
  return {
    app,
    deps,
    services,
    config,
    logs,
    gateway,
    state,
    async close() {
      await app.close();
      await deps.close();
      await own?.drop();
    },
  };
}
