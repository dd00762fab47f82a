// `npm run migrate`: applies the committed migrations and installs pg-boss's schema, on
// DATABASE_URL or on the embedded database in DATA_DIR, then exits. Startup runs the same
// steps, so running this first is optional (useful as a deploy step or init container).
import { configOrExit, processLogger } from './bootstrap.ts';
import { Database } from './platform/db/database.ts';
import { runMigrations } from './platform/db/migrations.ts';
import { JobQueue } from './platform/jobs/job-queue.ts';
import { queueDefinitions } from './modules/orders/orders.queues.ts';

const config = configOrExit();
const logger = processLogger(config);
// Loaded only when used, as in dependencies.ts: PGlite is a large module.
const embedded = config.DATABASE_URL
  ? undefined
  : await (await import('./platform/db/embedded-postgres.ts')).startEmbeddedPostgres({ dataDir: `${config.DATA_DIR}/pgdata`, maxConnections: 8 });
const url = config.DATABASE_URL ?? embedded!.url;
const db = new Database({ url, poolSize: embedded ? 1 : 2 }); // one connection on PGlite: see dependencies.ts
let exitCode = 0;
try {
  const applied = await runMigrations(db);
  const jobs = new JobQueue({
    url,
    maxConnections: 2,
    queues: queueDefinitions,
    ...(embedded ? { executeSql: (text: string, values?: unknown[]) => db.pool.query(text, values) } : {}),
  });
  await jobs.start({ enqueueRole: 'app_user', grant: (sql) => db.query(sql) });
  await jobs.stop();
  logger.info({ applied, database: embedded ? 'embedded' : 'postgres' }, applied.length ? 'migrations_applied' : 'migrations_up_to_date');
} catch (error) {
  logger.error({ error }, 'migrations_failed');
  exitCode = 1;
} finally {
  await db.close();
  await embedded?.stop();
}
process.exit(exitCode);
