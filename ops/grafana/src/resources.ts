// Glassbox / Resources: the process, the Node runtime, the database pool and the cache, per
// instance. None of these series has a route label: the route variable does not apply here.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { newDashboard, rate, row, SERVICE, series, single } from './panels.ts';

const connected: dashboard.ValueMapping = {
  type: dashboard.MappingType.ValueToText,
  options: { '0': { text: 'not connected', color: 'red', index: 0 }, '1': { text: 'connected', color: 'green', index: 1 } },
};

export function resourcesDashboard() {
  return newDashboard('glassbox-resources', 'Glassbox / Resources', 'The process, the Node runtime, the database pool and the cache, per instance.')
    .withRow(row('Process and runtime'))
    .withPanel(
      series('CPU', 'percentunit', [{ expr: `sum by (instance) (${rate(`process_cpu_seconds_total{${SERVICE}}`)})`, legend: '{{instance}}' }], {
        description: 'CPU seconds a second: 100 % is one core, all of what a Node main thread can use.',
        min: 0,
      }),
    )
    .withPanel(series('Memory (RSS)', 'bytes', [{ expr: `process_resident_memory_bytes{${SERVICE}}`, legend: '{{instance}}' }]))
    .withPanel(
      series('Heap used / total', 'bytes', [
        { expr: `nodejs_heap_size_used_bytes{${SERVICE}}`, legend: 'used {{instance}}' },
        { expr: `nodejs_heap_size_total_bytes{${SERVICE}}`, legend: 'total {{instance}}' },
      ]),
    )
    .withPanel(
      series(
        'Event-loop lag',
        's',
        [
          { expr: `nodejs_eventloop_lag_p50_seconds{${SERVICE}}`, legend: 'p50 {{instance}}' },
          { expr: `nodejs_eventloop_lag_p99_seconds{${SERVICE}}`, legend: 'p99 {{instance}}' },
          { expr: `nodejs_eventloop_lag_max_seconds{${SERVICE}}`, legend: 'max {{instance}}' },
        ],
        {
          description: 'GlassboxEventLoopLagHigh files a ticket when p99 stays above 200 ms for 5 minutes (dashed line).',
          thresholds: { base: 'green', steps: [[0.2, 'red']] },
        },
      ),
    )
    .withPanel(
      series(
        'GC time',
        'percentunit',
        [{ expr: `sum by (instance, kind) (${rate(`nodejs_gc_duration_seconds_sum{${SERVICE}}`)})`, legend: '{{kind}} {{instance}}' }],
        { description: 'Share of wall time spent in garbage collection, by kind.', min: 0 },
      ),
    )
    .withRow(row('Database and cache'))
    .withPanel(
      series(
        'DB pool: active vs size',
        'short',
        [
          { expr: `sum by (instance) (active_database_connections{${SERVICE}})`, legend: 'active {{instance}}' },
          { expr: `sum by (instance) (db_pool_max_connections{${SERVICE}})`, legend: 'size {{instance}}' },
        ],
        { description: 'Connections checked out against the pool size (DATABASE_POOL_SIZE). GlassboxDatabasePoolSaturated pages at 90 % for 5 minutes.' },
      ),
    )
    .withPanel(
      series('DB pool: waiting clients', 'short', [{ expr: `sum by (instance) (db_pool_waiting_clients{${SERVICE}})`, legend: '{{instance}}' }], {
        description: 'Queries queued for a connection. GlassboxDatabasePoolSaturated pages when any wait for 5 minutes.',
        thresholds: { base: 'green', steps: [[1, 'red']] },
      }),
    )
    .withPanel(
      series(
        'Query latency p95 by operation',
        's',
        [{ expr: `histogram_quantile(0.95, sum by (operation, le) (${rate(`db_query_duration_seconds_bucket{${SERVICE}}`)}))`, legend: '{{operation}}' }],
        { description: 'SQL statement time as the application sees it (round trip included).' },
      ),
    )
    .withPanel(
      series('Slow queries', 'cpm', [{ expr: `60 * sum by (instance) (${rate(`slow_queries_total{${SERVICE}}`)})`, legend: '{{instance}}' }], {
        description: 'Statements slower than SLOW_QUERY_MS, a minute; each one is also logged as slow_query with its trace_id.',
      }),
    )
    .withPanel(
      single(
        'Redis connected',
        'none',
        { expr: `redis_connected{${SERVICE}}`, legend: '{{instance}}' },
        { description: 'Per instance. "not connected" also where no REDIS_URL is set (the in-memory cache).', mappings: [connected] },
      ),
    )
    .withPanel(
      series(
        'Cache hit ratio',
        'percentunit',
        [
          {
            expr: `sum by (cache) (${rate(`cache_hits_total{${SERVICE}}`)}) / (sum by (cache) (${rate(`cache_hits_total{${SERVICE}}`)}) + sum by (cache) (${rate(`cache_misses_total{${SERVICE}}`)}))`,
            legend: '{{cache}}',
          },
        ],
        { description: 'Lookups answered from the cache (idempotency: replayed orders).', min: 0, w: 18 },
      ),
    );
}
