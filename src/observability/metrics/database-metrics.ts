// The database group (`database: true`): pool gauges read at scrape time, query latency by
// SQL operation, and the slow-query count. The service's query hook feeds them through the
// facade (queryFinished, slowQuery) and hands the pool over with watch({ pool }).
import { Counter, Gauge, type OpenMetricsContentType, type Registry } from 'prom-client';
import { LabeledHistogram } from './lean-histogram.ts';
import type { Metrics, PoolStats } from './metrics-types.ts';

/** Queries are faster than requests: from 1 ms up to the slow-query range. */
export const DB_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** SQL operations we label by; anything else is `OTHER`, so a stray statement mints no series. */
const OPERATIONS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'BEGIN', 'COMMIT', 'ROLLBACK', 'SET', 'WITH', 'CREATE', 'ALTER', 'DROP', 'GRANT']);

export type DatabaseMetrics = Pick<Metrics, 'queryFinished' | 'slowQuery' | 'watch'>;

export function databaseMetrics(registry: Registry<OpenMetricsContentType>): DatabaseMetrics {
  const registers = [registry];
  let poolStats: (() => PoolStats) | undefined;
  new Gauge({
    name: 'active_database_connections',
    help: 'Database connections checked out of the pool (in use by a request or job).',
    registers,
    collect() {
      const s = poolStats?.();
      this.set(s ? s.total - s.idle : 0);
    },
  });
  new Gauge({
    name: 'db_pool_waiting_clients',
    help: 'Callers waiting for a database connection because the pool is exhausted.',
    registers,
    collect() {
      this.set(poolStats?.().waiting ?? 0);
    },
  });
  // The size beside the use, so a dashboard draws active against size and an alert fires at 90 %
  // of it without knowing DATABASE_POOL_SIZE.
  new Gauge({
    name: 'db_pool_max_connections',
    help: 'The database pool size (DATABASE_POOL_SIZE): the most connections active_database_connections can reach.',
    registers,
    collect() {
      this.set(poolStats?.().max ?? 0);
    },
  });
  // One observation per SQL statement: kept lean like the RED series.
  const queryDuration = new LabeledHistogram('operation', DB_DURATION_BUCKETS);
  queryDuration.register(registry, 'db_query_duration_seconds', 'SQL statement time as the application sees it (round trip included), by operation.');
  const slowQueries = new Counter({ name: 'slow_queries_total', help: 'SQL statements slower than SLOW_QUERY_MS (each also logs slow_query).', registers });

  return {
    queryFinished: (operation, seconds) => queryDuration.observe(OPERATIONS.has(operation) ? operation : 'OTHER', seconds),
    slowQuery: () => slowQueries.inc(),
    watch(sources) {
      poolStats = sources.pool ?? poolStats;
    },
  };
}
