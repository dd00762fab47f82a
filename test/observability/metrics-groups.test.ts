// createMetrics' groups, on fresh facades (no app):
// - core only by default: the RED series, api_calls_total and active_users (and the runtime
//   metrics unless runtime: false); a group's methods called without the group do nothing
//   and add nothing to the exposition;
// - each group adds exactly its own series;
// - every named cache has cache_hits_total and cache_misses_total at 0 from the first
//   scrape (the CONTRACT: a hit-ratio alert must not see "no data");
// - the telemetry series are read from the loss source at each scrape, both reasons at 0
//   before any loss;
// - active_users forgets a user 15 minutes after their last request;
// - Glassbox's composition (every group) renders both formats, and promtool accepts it.
import { describe, expect, it } from 'vitest';
import { ACTIVE_USERS_WINDOW_MS, createMetrics, type Metrics, type MetricsOptions } from '../../src/observability/metrics/metrics.ts';
import { ExportBlocking } from '../../src/observability/tracing/export-blocking.ts';
import type { TelemetryLoss } from '../../src/observability/tracing/telemetry-loss.ts';
import { findPromtool, parseExposition, PROMTOOL_MISSING, promtoolCheckMetrics, runsWith, type Exposition } from '../helpers/metrics.ts';

/** The cache name src/modules/orders/idempotency-cache.ts counts under (the observability layer cannot import it). */
const IDEMPOTENCY = 'idempotency';

const CORE = [
  'http_requests_total',
  'http_request_duration_seconds',
  'http_requests_in_flight',
  'api_calls_total',
  'rate_limited_requests_total',
  'active_users',
];
const GROUPS = {
  database: ['active_database_connections', 'db_pool_waiting_clients', 'db_pool_max_connections', 'db_query_duration_seconds', 'slow_queries_total'],
  cache: ['redis_connected', 'cache_hits_total', 'cache_misses_total'],
  business: ['revenue_total_usd', 'user_signups_total', 'orders_total', 'payments_failed_total'],
  telemetry: ['telemetry_spans_dropped_total', 'telemetry_span_exports_failed_total'],
} as const;
const NO_LOSS = (): TelemetryLoss => ({ spansDroppedQueueFull: 0, spansDroppedExportFailed: 0, exportsFailed: 0 });
const GROUP_OPTIONS = {
  database: { database: true },
  cache: { cache: { names: [IDEMPOTENCY] } },
  business: { business: true },
  telemetry: { telemetry: NO_LOSS },
} satisfies Record<keyof typeof GROUPS, Partial<MetricsOptions>>;
/** What the composition root passes for Glassbox. */
const GLASSBOX: MetricsOptions = { maxTenants: 10, database: true, cache: { names: [IDEMPOTENCY] }, business: true, telemetry: NO_LOSS };

const render = async (metrics: Metrics, format: 'prometheus' | 'openmetrics' = 'prometheus'): Promise<Exposition> =>
  parseExposition(await metrics.render(format));
const familyNames = (e: Exposition) => [...e.families.keys()];

/** One call of every method of the groups (none of them core). */
function useEveryGroup(metrics: Metrics) {
  metrics.queryFinished('SELECT', 0.01);
  metrics.slowQuery();
  metrics.cacheLookup(IDEMPOTENCY, true);
  metrics.cacheLookup(IDEMPOTENCY, false);
  metrics.watch({ pool: () => ({ total: 5, idle: 2, waiting: 1, max: 8 }), redisConnected: () => true });
  metrics.revenue('t1', 'Gizmo', 12.5);
  metrics.signup('t1', 'direct');
  metrics.order('t1', 'paid');
  metrics.paymentFailed('t1', 'card_declined');
}

describe('createMetrics groups', () => {
  it('registers only the core series by default, and the methods of the other groups do nothing', async () => {
    const metrics = createMetrics({ maxTenants: 10, runtime: false });
    expect(metrics.enabled).toBe(true);
    expect(familyNames(await render(metrics))).toEqual(CORE);
    useEveryGroup(metrics);
    const e = await render(metrics);
    expect(familyNames(e)).toEqual(CORE);
    expect(e.samples.map((s) => s.line)).toEqual(['http_requests_in_flight 0', 'active_users 0']);
  });

  it('adds the Node runtime metrics unless runtime: false, and none of a group', async () => {
    const names = familyNames(await render(createMetrics({ maxTenants: 10 })));
    expect(names.slice(0, CORE.length)).toEqual(CORE);
    const rest = names.slice(CORE.length);
    expect(rest).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']));
    for (const name of rest) expect(name).toMatch(/^(process|nodejs)_/);
  });

  it.each(Object.keys(GROUPS) as (keyof typeof GROUPS)[])('adds exactly the %s series when asked for', async (group) => {
    const metrics = createMetrics({ maxTenants: 10, runtime: false, ...GROUP_OPTIONS[group] });
    useEveryGroup(metrics); // the other groups' calls still do nothing
    expect(familyNames(await render(metrics))).toEqual([...CORE, ...GROUPS[group]]);
  });

  it('feeds each group from its methods', async () => {
    const metrics = createMetrics({ ...GLASSBOX, runtime: false });
    useEveryGroup(metrics);
    const e = await render(metrics);
    expect(e.value('db_query_duration_seconds_count', { operation: 'SELECT' })).toBe(1);
    expect(e.value('slow_queries_total')).toBe(1);
    expect(e.value('active_database_connections')).toBe(3);
    expect(e.value('db_pool_waiting_clients')).toBe(1);
    expect(e.value('db_pool_max_connections')).toBe(8);
    expect(e.value('redis_connected')).toBe(1);
    expect(e.value('cache_hits_total', { cache: IDEMPOTENCY })).toBe(1);
    expect(e.value('cache_misses_total', { cache: IDEMPOTENCY })).toBe(1);
    expect(e.value('revenue_total_usd', { tenant_id: 't1', product: 'Gizmo' })).toBe(12.5);
    expect(e.value('user_signups_total', { tenant_id: 't1', source: 'direct' })).toBe(1);
    expect(e.value('orders_total', { tenant_id: 't1', status: 'paid' })).toBe(1);
    expect(e.value('payments_failed_total', { tenant_id: 't1', reason: 'card_declined' })).toBe(1);
  });
});

describe('cache group', () => {
  it.each(['prometheus', 'openmetrics'] as const)('shows hits and misses at 0 for every named cache from the first scrape (%s)', async (format) => {
    const metrics = createMetrics({ maxTenants: 10, runtime: false, cache: { names: [IDEMPOTENCY, 'sessions'] } });
    const e = await render(metrics, format);
    for (const name of ['cache_hits_total', 'cache_misses_total']) {
      expect(e.series(name).map((s) => [s.labels, s.value])).toEqual([
        [{ cache: IDEMPOTENCY }, 0],
        [{ cache: 'sessions' }, 0],
      ]);
    }
  });

  it('counts lookups on top of the zeros, and a cache it was not told of from its first lookup', async () => {
    const metrics = createMetrics({ maxTenants: 10, runtime: false, cache: { names: [IDEMPOTENCY] } });
    metrics.cacheLookup(IDEMPOTENCY, true);
    metrics.cacheLookup(IDEMPOTENCY, true);
    metrics.cacheLookup('unlisted', false);
    const e = await render(metrics);
    expect(e.series('cache_hits_total').map((s) => [s.labels, s.value])).toEqual([[{ cache: IDEMPOTENCY }, 2]]);
    expect(e.series('cache_misses_total').map((s) => [s.labels, s.value])).toEqual([
      [{ cache: IDEMPOTENCY }, 0],
      [{ cache: 'unlisted' }, 1],
    ]);
  });
});

describe('telemetry group', () => {
  it('shows both reasons and the failed exports at 0 before any loss, as counters', async () => {
    const e = await render(createMetrics({ maxTenants: 10, runtime: false, telemetry: NO_LOSS }));
    expect(e.type('telemetry_spans_dropped_total')).toBe('counter');
    expect(e.type('telemetry_span_exports_failed_total')).toBe('counter');
    expect(e.series('telemetry_spans_dropped_total').map((s) => [s.labels, s.value])).toEqual([
      [{ reason: 'queue_full' }, 0],
      [{ reason: 'export_failed' }, 0],
    ]);
    expect(e.get('telemetry_span_exports_failed_total')?.value).toBe(0);
  });

  it('reads the loss source at every scrape', async () => {
    const loss: TelemetryLoss = { spansDroppedQueueFull: 0, spansDroppedExportFailed: 0, exportsFailed: 0 };
    const metrics = createMetrics({ maxTenants: 10, runtime: false, telemetry: () => loss });
    await render(metrics);
    Object.assign(loss, { spansDroppedQueueFull: 7, spansDroppedExportFailed: 512, exportsFailed: 2 });
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const e = await render(metrics, format);
      expect(e.value('telemetry_spans_dropped_total', { reason: 'queue_full' }), format).toBe(7);
      expect(e.value('telemetry_spans_dropped_total', { reason: 'export_failed' }), format).toBe(512);
      expect(e.value('telemetry_span_exports_failed_total'), format).toBe(2);
    }
    expect((await render(metrics, 'openmetrics')).type('telemetry_spans_dropped')).toBe('counter');
  });
});

describe('telemetry_span_export_block_seconds', () => {
  it("renders the export pipeline's blocks as a cumulative histogram read at every scrape, and is absent unless asked for", async () => {
    expect(familyNames(await render(createMetrics({ maxTenants: 10, runtime: false, telemetry: NO_LOSS })))).not.toContain(
      'telemetry_span_export_block_seconds',
    );
    const blocking = new ExportBlocking();
    const metrics = createMetrics({ maxTenants: 10, runtime: false, exportBlocking: () => blocking.snapshot() });
    const empty = await render(metrics);
    expect(empty.type('telemetry_span_export_block_seconds')).toBe('histogram');
    expect(empty.value('telemetry_span_export_block_seconds_count')).toBe(0);
    // Two blocks: one that just began (under 0.1 ms), one that began 3 ms ago.
    blocking.record(blocking.begin());
    blocking.record(blocking.begin() - 3);
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const e = await render(metrics, format);
      expect(e.value('telemetry_span_export_block_seconds_count'), format).toBe(2);
      expect(e.value('telemetry_span_export_block_seconds_bucket', { le: '0.0001' }), format).toBe(1);
      expect(e.value('telemetry_span_export_block_seconds_bucket', { le: '0.0025' }), format).toBe(1);
      expect(e.value('telemetry_span_export_block_seconds_bucket', { le: '0.005' }), format).toBe(2);
      expect(e.value('telemetry_span_export_block_seconds_bucket', { le: '+Inf' }), format).toBe(2);
      expect(e.value('telemetry_span_export_block_seconds_sum'), format).toBeGreaterThanOrEqual(0.003);
    }
  });
});

describe('active_users', () => {
  it('counts a user for 15 minutes after their last request, then no more', async () => {
    let now = 1_700_000_000_000;
    const metrics = createMetrics({ maxTenants: 10, runtime: false, now: () => now });
    metrics.userSeen('u1');
    metrics.userSeen('u2');
    now += ACTIVE_USERS_WINDOW_MS / 2;
    metrics.userSeen('u2'); // seen again: its window starts over
    expect((await render(metrics)).value('active_users')).toBe(2);
    now += ACTIVE_USERS_WINDOW_MS / 2 + 1;
    expect((await render(metrics)).value('active_users')).toBe(1);
    now += ACTIVE_USERS_WINDOW_MS / 2;
    expect((await render(metrics)).get('active_users')?.value).toBe(0);
  });
});

describe('Glassbox composition (every group)', () => {
  it('renders both formats with every CONTRACT family, and OpenMetrics ending in # EOF', async () => {
    const metrics = createMetrics(GLASSBOX);
    useEveryGroup(metrics);
    const prom = await render(metrics);
    const names = familyNames(prom);
    expect(names).toEqual(expect.arrayContaining([...CORE, ...Object.values(GROUPS).flat()]));
    const om = await render(metrics, 'openmetrics');
    expect(om.eof).toBe(true);
    expect(om.families.size).toBe(prom.families.size);
  });

  const promtool = findPromtool();
  it.runIf(runsWith(promtool, 'promtool'))('passes promtool check metrics', async () => {
    if (!promtool) expect.fail(PROMTOOL_MISSING);
    const metrics = createMetrics(GLASSBOX);
    useEveryGroup(metrics);
    metrics.requestStarted();
    metrics.requestFinished('GET', '/api/products/:id', 200, 0.02, 'a'.repeat(32));
    metrics.apiCall('t1', '/api/products/:id');
    const result = await promtoolCheckMetrics(promtool, await metrics.render('prometheus'));
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
