// Glassbox's four dashboards, as code. `npm run ops:generate` writes them to
// ops/grafana/dashboards/*.json, which Grafana imports unchanged (compose.yaml provisions them).
// Metric names are the CONTRACT's; the SLO panels read the recording rules generated from
// ops/slo/*.yaml (ops/generate/slo.ts), so a new SLO spec gets its panels by itself.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type { SloSpec } from '../../generate/slo-spec.ts';
import { WINDOWS } from '../../generate/slo.ts';
import { bars, F, newDashboard, ROUTES, series, single } from './panels.ts';

const rate = (selector: string) => `rate(${selector}[$__rate_interval])`;

function service() {
  const latency = (q: number) => ({
    expr: `histogram_quantile(${q}, sum by (endpoint, le) (${rate(`http_request_duration_seconds_bucket{${ROUTES}}`)}))`,
    legend: `p${Math.round(q * 100)} {{endpoint}}`,
    exemplar: true,
  });
  return newDashboard('glassbox-service', 'Glassbox / Service (RED)', 'Rate, errors and duration of the requests callers make (probes and scrapes left out).')
    .withRow(new dashboard.RowBuilder('Requests'))
    .withPanel(series('Request rate', 'reqps', [{ expr: `sum by (endpoint) (${rate(`http_requests_total{${ROUTES}}`)})`, legend: '{{endpoint}}' }]))
    .withPanel(
      series(
        'Error ratio',
        'percentunit',
        [
          {
            expr: `(sum(${rate(`http_requests_total{${ROUTES},status=~"5.."}`)}) or vector(0)) / sum(${rate(`http_requests_total{${ROUTES}}`)})`,
            legend: '5xx share',
          },
        ],
        { description: 'Share of requests answered 5xx. GlassboxHighErrorRatio pages above 5 % for 5 minutes.' },
      ),
    )
    .withPanel(
      series('Latency p50 / p95 / p99 by route', 's', [latency(0.5), latency(0.95), latency(0.99)], {
        description: 'From http_request_duration_seconds. The dots are exemplars: a sampled request of that bucket; click one to open its trace.',
        traces: true,
        w: 24,
      }),
    )
    .withPanel(series('Requests in flight', 'short', [{ expr: `sum by (instance) (http_requests_in_flight{${F}})`, legend: '{{instance}}' }]))
    .withPanel(
      series('Requests by status', 'reqps', [{ expr: `sum by (status) (${rate(`http_requests_total{${F},endpoint=~"$route"}`)})`, legend: '{{status}}' }]),
    );
}

function resources() {
  return newDashboard('glassbox-resources', 'Glassbox / Resources', 'The process, the Node runtime, the database pool and the cache.')
    .withRow(new dashboard.RowBuilder('Process and runtime'))
    .withPanel(
      series('CPU', 'percentunit', [{ expr: `sum by (instance) (${rate(`process_cpu_seconds_total{${F}}`)})`, legend: '{{instance}}' }], {
        description: 'CPU seconds a second: 1 = one core.',
      }),
    )
    .withPanel(series('Memory (RSS)', 'bytes', [{ expr: `process_resident_memory_bytes{${F}}`, legend: '{{instance}}' }]))
    .withPanel(
      series('Heap used / total', 'bytes', [
        { expr: `nodejs_heap_size_used_bytes{${F}}`, legend: 'used {{instance}}' },
        { expr: `nodejs_heap_size_total_bytes{${F}}`, legend: 'total {{instance}}' },
      ]),
    )
    .withPanel(
      series(
        'Event-loop lag',
        's',
        [
          { expr: `nodejs_eventloop_lag_p50_seconds{${F}}`, legend: 'p50 {{instance}}' },
          { expr: `nodejs_eventloop_lag_p99_seconds{${F}}`, legend: 'p99 {{instance}}' },
        ],
        { description: 'GlassboxEventLoopLagHigh files a ticket when p99 stays above 200 ms for 5 minutes.' },
      ),
    )
    .withPanel(
      series(
        'GC time',
        'percentunit',
        [{ expr: `sum by (instance, kind) (${rate(`nodejs_gc_duration_seconds_sum{${F}}`)})`, legend: '{{kind}} {{instance}}' }],
        {
          description: 'Share of wall time spent in garbage collection, by kind.',
        },
      ),
    )
    .withRow(new dashboard.RowBuilder('Database and cache'))
    .withPanel(
      series(
        'DB pool: active vs size',
        'short',
        [
          { expr: `sum by (instance) (active_database_connections{${F}})`, legend: 'active {{instance}}' },
          { expr: `sum by (instance) (db_pool_max_connections{${F}})`, legend: 'size {{instance}}' },
        ],
        { description: 'GlassboxDatabasePoolSaturated pages at 90 % of the size for 5 minutes.' },
      ),
    )
    .withPanel(series('DB pool: waiting clients', 'short', [{ expr: `sum by (instance) (db_pool_waiting_clients{${F}})`, legend: '{{instance}}' }]))
    .withPanel(
      series('Query latency p95 by operation', 's', [
        { expr: `histogram_quantile(0.95, sum by (operation, le) (${rate(`db_query_duration_seconds_bucket{${F}}`)}))`, legend: '{{operation}}' },
      ]),
    )
    .withPanel(
      series('Slow queries', 'short', [{ expr: `sum by (instance) (increase(slow_queries_total{${F}}[$__rate_interval]))`, legend: '{{instance}}' }], {
        description: 'Statements slower than SLOW_QUERY_MS; each one is also logged as slow_query with its trace_id.',
      }),
    )
    .withPanel(
      single(
        'Redis connected',
        'bool_yes_no',
        { expr: `min(redis_connected{${F}})` },
        { description: '0 also where no REDIS_URL is set (the in-memory cache).' },
      ),
    )
    .withPanel(
      series(
        'Cache hit ratio',
        'percentunit',
        [
          {
            expr: `sum by (cache) (${rate(`cache_hits_total{${F}}`)}) / (sum by (cache) (${rate(`cache_hits_total{${F}}`)}) + sum by (cache) (${rate(`cache_misses_total{${F}}`)}))`,
            legend: '{{cache}}',
          },
        ],
        { w: 18 },
      ),
    );
}

function business() {
  return newDashboard(
    'glassbox-business',
    'Glassbox / Business',
    'What the tenants do: revenue, orders, payments, signups, usage. Tenant labels are capped at METRICS_MAX_TENANTS.',
  )
    .withPanel(
      single(
        'Revenue today',
        'currencyUSD',
        { expr: `sum(increase(revenue_total_usd{${F}}[$__range]))` },
        { timeFrom: 'now/d', description: 'USD captured since midnight (dashboard time zone).', decimals: 2 },
      ),
    )
    .withPanel(single('Active users', 'short', { expr: `sum(active_users{${F}})` }, { description: 'Distinct users seen in the last 15 minutes.' }))
    .withPanel(single('API calls (24 h)', 'short', { expr: `sum(increase(api_calls_total{${F}}[24h]))` }, { w: 12 }))
    .withPanel(series('Orders by status', 'short', [{ expr: `sum by (status) (increase(orders_total{${F}}[$__rate_interval]))`, legend: '{{status}}' }]))
    .withPanel(
      series(
        'Failed payments by reason',
        'short',
        [{ expr: `sum by (reason) (increase(payments_failed_total{${F}}[$__rate_interval]))`, legend: '{{reason}}' }],
        {
          description: 'GlassboxPaymentFailureSpike pages when failures pass 20 % of orders.',
        },
      ),
    )
    .withPanel(series('Signups by source', 'short', [{ expr: `sum by (source) (increase(user_signups_total{${F}}[$__rate_interval]))`, legend: '{{source}}' }]))
    .withPanel(
      bars('Noisiest tenants (top 10)', 'short', { expr: `topk(10, sum by (tenant_id) (increase(api_calls_total{${F}}[24h])))`, legend: '{{tenant_id}}' }),
    );
}

function slos(specs: SloSpec[]) {
  let builder = newDashboard(
    'glassbox-slo',
    'Glassbox / SLOs',
    'Generated from ops/slo/*.yaml: error budget left over 30 days, burn rate per window (1 = spending exactly the budget), and the events that burned it. The SLO series are per job, so the instance and route variables do not filter them.',
  );
  for (const spec of specs) {
    const s = `slo="${spec.name}",job="glassbox"`;
    builder = builder
      .withRow(new dashboard.RowBuilder(`${spec.name}: ${spec.description} Objective ${Number((spec.objective * 100).toPrecision(6))} % over ${spec.period}`))
      .withPanel(single(`${spec.name}: error budget left`, 'percentunit', { expr: `slo:error_budget_remaining:ratio30d{${s}}` }, { w: 6, decimals: 1 }))
      .withPanel(
        series(
          `${spec.name}: burn rate by window`,
          'short',
          WINDOWS.map((w) => ({ expr: `slo:burn_rate:ratio${w}{${s}}`, legend: w })),
          {
            w: 12,
            description: `${spec.alert.name} pages at 14.4× (1 h and 5 m) or 6× (6 h and 30 m), files a ticket at 3× (1 d and 2 h) or 1× (3 d and 6 h).`,
          },
        ),
      )
      .withPanel(
        series(
          `${spec.name}: events that burned the budget`,
          'short',
          [
            { expr: `slo:errors:increase5m{${s}}`, legend: 'bad events / 5 m' },
            { expr: `slo:requests:increase5m{${s}}`, legend: 'all events / 5 m' },
          ],
          { w: 6 },
        ),
      );
  }
  return builder;
}

/** File name → dashboard JSON (the model Grafana imports), deterministic. */
export function renderDashboards(specs: SloSpec[]): Record<string, string> {
  const boards = { 'service.json': service(), 'resources.json': resources(), 'business.json': business(), 'slo.json': slos(specs) };
  return Object.fromEntries(Object.entries(boards).map(([file, b]) => [file, `${JSON.stringify(b.build(), null, 2)}\n`]));
}
