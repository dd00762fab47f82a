// Prometheus metrics as the CONTRACT says, read back from GET /metrics of the real app
// (embedded PGlite, or DATABASE_URL / REDIS_URL) and parsed here (test/helpers/metrics.ts),
// always as deltas between two scrapes of the same app:
// - a scripted sequence (signups, an invited user, a captured order of two products, a
//   declined one, an idempotent replay, a 404, a 500, authenticated calls) moves each
//   counter, gauge and histogram by exactly what it should, and nothing else;
// - the latency buckets are the CONTRACT's, no histogram carries a tenant label, and
//   `promtool check metrics` accepts the Prometheus-format output;
// - OpenMetrics on request: counter families without `_total`, `# EOF`, and latency
//   exemplars whose trace ids are those of exported spans (never of an unsampled request),
//   without breaking the Prometheus format of later scrapes;
// - cardinality: tenant labels capped per metric (METRICS_MAX_TENANTS, the rest under
//   `other`, nothing lost), and 10,000 random paths add no series;
// - every CONTRACT family from the first scrape, the idempotency cache's hits and misses at 0;
// - METRICS_ENABLED=false, the slow-query log and counter, pool and Redis gauges, and the
//   Node runtime metrics.
//
// Three apps, started together (each embedded one boots a PGlite of its own): `main`
// (tracing on, SLOW_QUERY_MS=20, a few test routes), `capped` (METRICS_MAX_TENANTS=3,
// SLOW_QUERY_MS=0) and `disabled` (METRICS_ENABLED=false). Each app has a registry of its own,
// so its counters count only its own requests, even on a shared Postgres.
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_DURATION_BUCKETS, DISABLED_METRICS, HTTP_DURATION_BUCKETS } from '../../src/observability/metrics/metrics.ts';
import { SLOW_QUERY_SQL_CHARS } from '../../src/platform/db/query-metrics.ts';
import { bearer, createProduct, login, placeOrder, signup, type Tenant } from '../helpers/api.ts';
import { expectError } from '../helpers/assertions.ts';
import {
  diff,
  findPromtool,
  OPENMETRICS,
  parseExposition,
  PROMTOOL_MISSING,
  promtoolCheckMetrics,
  runsWith,
  scrape,
  seriesKey as key,
  type Exposition,
  type Sample,
} from '../helpers/metrics.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing, traceIdOf } from '../helpers/tracing.ts';

const tracing = startTestTracing();

/** The CONTRACT's latency buckets written out, so changing the constant fails here. */
const EXPECTED_HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Infinity];

const FAIL_ROUTE = '/test/metrics-fail';
const HOLD_ROUTE = '/test/metrics-hold';
const TRACED_ROUTE = '/test/metrics-traced';
const UNTRACED_ROUTE = '/test/metrics-untraced';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const isRuntime = (name: string) => name.startsWith('process_') || name.startsWith('nodejs_');
/** Every series but the scrapes' own (each scrape counts in http_requests_total{endpoint="/metrics"} once answered). */
const notScrape = (name: string) => (s: Sample) => s.name === name && s.labels.endpoint !== '/metrics';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
/** HOLD_ROUTE waits on this, so a test can look at a request in flight. */
let hold = { entered: deferred(), release: deferred() };

/** Two scrapes of `t` around `action`, and the per-series deltas between them. */
async function measured<T>(t: TestApp, action: () => Promise<T>) {
  const before = await scrape(t.app);
  const result = await action();
  const after = await scrape(t.app);
  return { before, after, result, d: (name: string | ((s: Sample) => boolean)) => diff(before, after, name) };
}

/** Polls a scrape until `ready` holds (a gauge settling), or fails with the last value seen. */
async function scrapeUntil(t: TestApp, what: string, ready: (e: Exposition) => boolean, timeoutMs = 5000): Promise<Exposition> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = await scrape(t.app);
    if (ready(e)) return e;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A histogram series' buckets: the CONTRACT's bounds, cumulative, +Inf equal to _count. */
function expectWellFormedHistogram(e: Exposition, name: string, labels: Record<string, string>, bounds: number[]) {
  const buckets = e.buckets(name, labels);
  expect(
    buckets.map((b) => b.le),
    key(name, labels),
  ).toEqual(bounds);
  for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
  expect(buckets.at(-1)!.value).toBe(e.value(`${name}_count`, labels));
  expect(e.get(`${name}_sum`, labels)).toBeDefined();
}

describe('the exposition parser (test helper)', () => {
  it('reads labels in any order, escapes, exemplars and # EOF, and refuses malformed lines', () => {
    const e = parseExposition(
      [
        '# HELP jobs Jobs "run", with a \\\\ and a\\nnewline.',
        '# TYPE jobs counter',
        'jobs_total{queue="a,b}",kind="say \\"hi\\"\\n"} 3',
        'jobs_total{kind="plain",queue="c",} 4 1700000000000',
        '# TYPE lat histogram',
        'lat_bucket{le="0.5",route="/x"} 1 # {trace_id="0123456789abcdef0123456789abcdef"} 0.25 1700000000.5',
        'lat_bucket{route="/x",le="+Inf"} 2',
        'lat_count{route="/x"} 2',
        '# EOF',
      ].join('\n'),
    );
    expect(e.eof).toBe(true);
    expect(e.families.get('jobs')).toMatchObject({ type: 'counter', help: 'Jobs "run", with a \\ and a\nnewline.' });
    expect(e.families.get('jobs')!.samples).toHaveLength(2);
    expect(e.value('jobs_total', { kind: 'say "hi"\n', queue: 'a,b}' })).toBe(3);
    expect(e.get('jobs_total', { queue: 'c', kind: 'plain' })).toMatchObject({ value: 4, timestamp: 1_700_000_000_000 });
    expect(e.value('jobs_total', { queue: 'c' })).toBe(0); // exact label sets only
    expect(e.sum('jobs_total')).toBe(7);
    expect(key('jobs_total', { queue: 'c', kind: 'plain' })).toBe(key('jobs_total', { kind: 'plain', queue: 'c' }));
    expect(e.buckets('lat', { route: '/x' }).map((b) => [b.le, b.value])).toEqual([
      [0.5, 1],
      [Infinity, 2],
    ]);
    expect(e.buckets('lat', { route: '/x' })[0]!.sample.exemplar).toEqual({
      labels: { trace_id: '0123456789abcdef0123456789abcdef' },
      value: 0.25,
      timestamp: 1_700_000_000.5,
    });
    const before = parseExposition('a_total{x="1"} 1\nb 5\n');
    const after = parseExposition('a_total{x="1"} 3\na_total{x="2"} 1\nb 5\n');
    expect(diff(before, after)).toEqual({ 'a_total{x="1"}': 2, 'a_total{x="2"}': 1 });
    for (const bad of ['m{a="1"', 'm{a=1} 2', 'm 1 2 3', 'm{a="1",a="2"} 1', 'm abc', '# EOF\nm 1']) expect(() => parseExposition(bad), bad).toThrow();
  });
});

describe(`Prometheus metrics (${backend})`, () => {
  let main: TestApp;
  let capped: TestApp;
  let disabled: TestApp;

  beforeAll(async () => {
    const started = await Promise.allSettled([
      startTestApp({
        tracing: true,
        env: { SLOW_QUERY_MS: '20' },
        beforeReady: (app) => {
          app.get(FAIL_ROUTE, async () => {
            throw new Error('planned failure for the metrics test');
          });
          app.get(HOLD_ROUTE, async () => {
            hold.entered.resolve();
            await hold.release.promise;
            return { ok: true };
          });
          app.get(TRACED_ROUTE, async () => ({ ok: true }));
          app.get(UNTRACED_ROUTE, async () => ({ ok: true }));
        },
      }),
      startTestApp({ env: { METRICS_MAX_TENANTS: '3', SLOW_QUERY_MS: '0', LOG_LEVEL: 'warn' } }),
      startTestApp({ env: { METRICS_ENABLED: 'false' } }),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    const apps = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      await Promise.all(apps.map((a) => a.close()));
      throw failed.reason;
    }
    [main, capped, disabled] = apps as [TestApp, TestApp, TestApp];
  }, 180_000);
  afterAll(async () => {
    await Promise.all([main?.close(), capped?.close(), disabled?.close()]);
  });

  describe('the first scrape', () => {
    it('already has every CONTRACT family, the idempotency cache at 0 hits and 0 misses, and both span-loss reasons', async () => {
      // `capped` has served nothing yet: this is its first scrape. A hit-ratio alert over a
      // series that appears only at the first lookup would see "no data", not 0.
      const e = await scrape(capped.app);
      const families: [string, string][] = [
        ['http_requests_total', 'counter'],
        ['http_request_duration_seconds', 'histogram'],
        ['http_requests_in_flight', 'gauge'],
        ['api_calls_total', 'counter'],
        ['active_users', 'gauge'],
        ['active_database_connections', 'gauge'],
        ['db_pool_waiting_clients', 'gauge'],
        ['db_pool_max_connections', 'gauge'],
        ['db_query_duration_seconds', 'histogram'],
        ['slow_queries_total', 'counter'],
        ['redis_connected', 'gauge'],
        ['cache_hits_total', 'counter'],
        ['cache_misses_total', 'counter'],
        ['revenue_total_usd', 'gauge'],
        ['user_signups_total', 'counter'],
        ['orders_total', 'counter'],
        ['payments_failed_total', 'counter'],
        ['telemetry_spans_dropped_total', 'counter'],
        ['telemetry_span_exports_failed_total', 'counter'],
      ];
      for (const [name, type] of families) expect(e.type(name), name).toBe(type);
      expect(e.get('cache_hits_total', { cache: 'idempotency' })?.value).toBe(0);
      expect(e.get('cache_misses_total', { cache: 'idempotency' })?.value).toBe(0);
      for (const reason of ['queue_full', 'export_failed']) expect(e.get('telemetry_spans_dropped_total', { reason }), reason).toBeDefined();
      expect(e.get('telemetry_span_exports_failed_total')).toBeDefined();
    });
  });

  describe('a scripted sequence moves each metric by exactly its events', () => {
    let a: Tenant;
    const orderKey = randomUUID();
    const gadget = { name: `Gadget ${hex(4)}`, price_cents: 1250, quantity: 2, id: '' };
    const gizmo = { name: `Gizmo ${hex(4)}`, price_cents: 999, quantity: 3, id: '' };
    const items = () => [gadget, gizmo].map((p) => ({ product_id: p.id, quantity: p.quantity }));
    let firstOrderBody = '';

    it('counts a signup under its tenant and source ("direct" when the body has none), and no API call', async () => {
      let b!: Tenant;
      const { d } = await measured(main, async () => {
        a = await signup(main.app, { source: 'partner' });
        b = await signup(main.app);
      });
      expect(d('user_signups_total')).toEqual({
        [key('user_signups_total', { tenant_id: a.tenantId, source: 'partner' })]: 1,
        [key('user_signups_total', { tenant_id: b.tenantId, source: 'direct' })]: 1,
      });
      expect(d(notScrape('http_requests_total'))).toEqual({ [key('http_requests_total', { method: 'POST', endpoint: '/api/tenants', status: '201' })]: 2 });
      expect(d('api_calls_total')).toEqual({}); // signing up is not an authenticated call
    });

    it('counts a user created by an admin as an "invite" signup of that tenant', async () => {
      const { d, result } = await measured(main, () =>
        main.app.inject({
          method: 'POST',
          url: '/api/users',
          headers: bearer(a.token),
          payload: { email: `member@${a.slug}.test`, password: 'member password', role: 'member' },
        }),
      );
      expect(result.statusCode, result.body).toBe(201);
      expect(d('user_signups_total')).toEqual({ [key('user_signups_total', { tenant_id: a.tenantId, source: 'invite' })]: 1 });
      expect(d('api_calls_total')).toEqual({ [key('api_calls_total', { tenant_id: a.tenantId, endpoint: '/api/users' })]: 1 });
    });

    it('adds a captured order: one paid order, and quantity × price / 100 dollars of revenue per product', async () => {
      for (const p of [gadget, gizmo]) p.id = (await createProduct(main.app, a.token, { name: p.name, price_cents: p.price_cents, stock: 20 })).id;
      const { d, result } = await measured(main, () => placeOrder(main.app, a.token, items(), { key: orderKey }));
      expect(result.statusCode, result.body).toBe(201);
      firstOrderBody = result.body;
      expect(d('orders_total')).toEqual({ [key('orders_total', { tenant_id: a.tenantId, status: 'paid' })]: 1 });
      expect(d('revenue_total_usd')).toEqual({
        [key('revenue_total_usd', { tenant_id: a.tenantId, product: gadget.name })]: 25, // 2 × 12.50
        [key('revenue_total_usd', { tenant_id: a.tenantId, product: gizmo.name })]: 29.97, // 3 × 9.99
      });
      expect(d('payments_failed_total')).toEqual({});
      // A first use of a key: the replay cache is asked, and misses.
      expect(d('cache_misses_total')).toEqual({ [key('cache_misses_total', { cache: 'idempotency' })]: 1 });
      expect(d('cache_hits_total')).toEqual({});
      expect(d(notScrape('http_requests_total'))).toEqual({ [key('http_requests_total', { method: 'POST', endpoint: '/api/orders', status: '201' })]: 1 });
      expect(d('api_calls_total')).toEqual({ [key('api_calls_total', { tenant_id: a.tenantId, endpoint: '/api/orders' })]: 1 });
    });

    it('counts a declined payment as a failed order with its reason, and adds no revenue', async () => {
      const { d, result } = await measured(main, () =>
        placeOrder(main.app, a.token, [{ product_id: gadget.id, quantity: 1 }], { payment_method: 'pm_card_declined' }),
      );
      expectError(result, 402, 'payment_failed');
      expect(d('orders_total')).toEqual({ [key('orders_total', { tenant_id: a.tenantId, status: 'failed' })]: 1 });
      expect(d('payments_failed_total')).toEqual({ [key('payments_failed_total', { tenant_id: a.tenantId, reason: 'card_declined' })]: 1 });
      expect(d('revenue_total_usd')).toEqual({});
      expect(d(notScrape('http_requests_total'))).toEqual({ [key('http_requests_total', { method: 'POST', endpoint: '/api/orders', status: '402' })]: 1 });
    });

    it('answers an idempotent replay from the cache: one hit, no new order, no revenue', async () => {
      const { d, result } = await measured(main, () => placeOrder(main.app, a.token, items(), { key: orderKey }));
      expect(result.statusCode, result.body).toBe(201);
      expect(result.headers['idempotent-replayed']).toBe('true');
      expect(result.body).toBe(firstOrderBody);
      expect(d('cache_hits_total')).toEqual({ [key('cache_hits_total', { cache: 'idempotency' })]: 1 });
      expect(d('cache_misses_total')).toEqual({});
      expect(d('orders_total')).toEqual({});
      expect(d('revenue_total_usd')).toEqual({});
      expect(d('payments_failed_total')).toEqual({});
      expect(d('api_calls_total')).toEqual({ [key('api_calls_total', { tenant_id: a.tenantId, endpoint: '/api/orders' })]: 1 });
    });

    it('counts a 404 under endpoint="unmatched", its raw path appearing nowhere', async () => {
      const token = randomUUID();
      const { d, after } = await measured(main, async () => {
        expectError(await main.app.inject({ method: 'GET', url: `/no-such-page-${token}?ref=${token}` }), 404, 'not_found');
        expectError(await main.app.inject({ method: 'POST', url: `/api/nothing-${token}`, payload: {} }), 404, 'not_found');
      });
      expect(d(notScrape('http_requests_total'))).toEqual({
        [key('http_requests_total', { method: 'GET', endpoint: 'unmatched', status: '404' })]: 1,
        [key('http_requests_total', { method: 'POST', endpoint: 'unmatched', status: '404' })]: 1,
      });
      expect(d(notScrape('http_request_duration_seconds_count'))).toEqual({
        [key('http_request_duration_seconds_count', { method: 'GET', endpoint: 'unmatched' })]: 1,
        [key('http_request_duration_seconds_count', { method: 'POST', endpoint: 'unmatched' })]: 1,
      });
      expect(after.text).not.toContain(token);
      expect(after.text).not.toContain('no-such-page');
      expect(after.text).not.toContain('nothing-');
      // Every endpoint label is a registered route template (for its method) or `unmatched`.
      for (const s of after.series('http_requests_total')) {
        if (s.labels.endpoint !== 'unmatched') expect(main.app.hasRoute({ method: s.labels.method as 'GET', url: s.labels.endpoint! }), s.line).toBe(true);
      }
    });

    it('counts a 500 under its route template', async () => {
      const { d, result } = await measured(main, () => main.app.inject({ method: 'GET', url: FAIL_ROUTE }));
      expectError(result, 500, 'internal_server_error');
      expect(d(notScrape('http_requests_total'))).toEqual({ [key('http_requests_total', { method: 'GET', endpoint: FAIL_ROUTE, status: '500' })]: 1 });
    });

    it('observes N requests in the latency histogram: _count +N, cumulative buckets, +Inf = _count', async () => {
      const N = 6;
      const labels = { method: 'GET', endpoint: '/api/products/:id' };
      const { before, after } = await measured(main, async () => {
        for (let i = 0; i < N; i++) expect((await main.app.inject({ url: `/api/products/${gadget.id}`, headers: bearer(a.token) })).statusCode).toBe(200);
      });
      expect(after.value('http_request_duration_seconds_count', labels) - before.value('http_request_duration_seconds_count', labels)).toBe(N);
      expect(after.value('http_request_duration_seconds_sum', labels)).toBeGreaterThan(before.value('http_request_duration_seconds_sum', labels));
      expectWellFormedHistogram(after, 'http_request_duration_seconds', labels, EXPECTED_HTTP_BUCKETS);
      // The new observations are cumulative too: each bucket's delta is at least the one below it, +Inf's is N.
      const deltas = after
        .buckets('http_request_duration_seconds', labels)
        .map((b, i) => b.value - (before.buckets('http_request_duration_seconds', labels)[i]?.value ?? 0));
      for (let i = 1; i < deltas.length; i++) expect(deltas[i]!).toBeGreaterThanOrEqual(deltas[i - 1]!);
      expect(deltas.at(-1)).toBe(N);
      expect(after.value('http_requests_total', { ...labels, status: '200' }) - before.value('http_requests_total', { ...labels, status: '200' })).toBe(N);
      expect(
        after.value('api_calls_total', { tenant_id: a.tenantId, endpoint: labels.endpoint }) -
          before.value('api_calls_total', { tenant_id: a.tenantId, endpoint: labels.endpoint }),
      ).toBe(N);
    });

    it('counts authenticated calls per tenant and route, and active_users as distinct users', async () => {
      const c = await signup(main.app);
      const dd = await signup(main.app);
      // A member of c, created by c's owner (so c's owner has already been seen).
      const memberEmail = `member@${c.slug}.test`;
      expect(
        (
          await main.app.inject({
            method: 'POST',
            url: '/api/users',
            headers: bearer(c.token),
            payload: { email: memberEmail, password: 'member password', role: 'member' },
          })
        ).statusCode,
      ).toBe(201);
      const member = (await login(main.app, c.slug, memberEmail, 'member password')).json().access_token as string;

      const { d, before, after } = await measured(main, async () => {
        const calls: [string, number][] = [
          [member, 2],
          [dd.token, 3],
          [c.token, 2],
        ];
        for (const [token, n] of calls)
          for (let i = 0; i < n; i++) expect((await main.app.inject({ url: '/api/me', headers: bearer(token) })).statusCode).toBe(200);
        expectError(await main.app.inject({ url: '/api/me', headers: bearer('not.a.token') }), 401, 'invalid_token');
      });
      expect(d('api_calls_total')).toEqual({
        [key('api_calls_total', { tenant_id: c.tenantId, endpoint: '/api/me' })]: 4,
        [key('api_calls_total', { tenant_id: dd.tenantId, endpoint: '/api/me' })]: 3,
      });
      expect(d(notScrape('http_requests_total'))).toEqual({
        [key('http_requests_total', { method: 'GET', endpoint: '/api/me', status: '200' })]: 7,
        [key('http_requests_total', { method: 'GET', endpoint: '/api/me', status: '401' })]: 1,
      });
      // Seven calls by three users; c's owner (who created the member) and the member (who
      // logged in: a successful login identifies its user) were already active: one more.
      expect(after.value('active_users') - before.value('active_users')).toBe(1);
      expect(after.type('active_users')).toBe('gauge');
    });

    it('brings http_requests_in_flight back to where it was: only the scrape itself', async () => {
      const before = await scrape(main.app);
      expect(before.value('http_requests_in_flight')).toBe(1); // this scrape
      hold = { entered: deferred(), release: deferred() };
      const held = main.app.inject({ url: HOLD_ROUTE });
      await hold.entered.promise;
      const during = await scrape(main.app);
      expect(during.value('http_requests_in_flight')).toBe(2); // the held request and this scrape
      hold.release.resolve();
      expect((await held).statusCode).toBe(200);
      // Failures of every kind, some concurrent: a 404, a 500, a malformed URL, a bad body, a 401.
      const failures = await Promise.all([
        main.app.inject({ url: `/nowhere-${hex(4)}` }),
        main.app.inject({ url: FAIL_ROUTE }),
        main.app.inject({ url: '/api/products/%E0%A4%A' }),
        main.app.inject({ method: 'POST', url: '/api/tenants', headers: { 'content-type': 'application/json' }, payload: '{"name":' }),
        main.app.inject({ url: '/api/me' }),
        ...Array.from({ length: 10 }, () => main.app.inject({ url: '/api/me', headers: bearer(a.token) })),
      ]);
      expect(failures.slice(0, 5).map((r) => r.statusCode)).toEqual([404, 500, 400, 400, 401]);
      const after = await scrape(main.app);
      expect(after.value('http_requests_in_flight')).toBe(1);
    });
  });

  describe('histograms', () => {
    it('have exactly the latency buckets 0.005 … 10 and +Inf, on every series', async () => {
      expect([...HTTP_DURATION_BUCKETS, Infinity]).toEqual(EXPECTED_HTTP_BUCKETS);
      const e = await scrape(main.app);
      expect(e.type('http_request_duration_seconds')).toBe('histogram');
      const series = e.series('http_request_duration_seconds_count');
      expect(series.length).toBeGreaterThan(5);
      for (const s of series) expectWellFormedHistogram(e, 'http_request_duration_seconds', s.labels, EXPECTED_HTTP_BUCKETS);
      for (const s of e.series('http_request_duration_seconds_bucket')) expect(Object.keys(s.labels).sort()).toEqual(['endpoint', 'le', 'method']);
      const queries = e.series('db_query_duration_seconds_count');
      expect(queries.map((s) => s.labels.operation)).toEqual(expect.arrayContaining(['SELECT', 'INSERT', 'BEGIN', 'COMMIT']));
      for (const s of queries) expectWellFormedHistogram(e, 'db_query_duration_seconds', s.labels, [...DB_DURATION_BUCKETS, Infinity]);
    });

    it('never carry a tenant_id label', async () => {
      for (const t of [main, capped]) {
        const e = await scrape(t.app);
        const histograms = [...e.families.values()].filter((f) => f.type === 'histogram');
        expect(histograms.map((f) => f.name)).toEqual(expect.arrayContaining(['http_request_duration_seconds', 'db_query_duration_seconds']));
        for (const f of histograms) {
          for (const s of f.samples) expect(Object.keys(s.labels), s.line).not.toContain('tenant_id');
        }
      }
      // …while the business counters do (the check above would pass vacuously otherwise).
      expect((await scrape(main.app)).series('api_calls_total').some((s) => 'tenant_id' in s.labels)).toBe(true);
    });
  });

  const promtool = findPromtool();
  describe.runIf(runsWith(promtool, 'promtool'))('promtool check metrics', () => {
    it('flags a bad exposition (so a pass below means something)', async () => {
      if (!promtool) expect.fail(PROMTOOL_MISSING);
      const bad = await promtoolCheckMetrics(promtool, '# HELP jobs_total Jobs.\n# TYPE jobs_total gauge\njobs_total 1\n');
      expect(bad.code).not.toBe(0);
      expect(bad.stdout + bad.stderr).toContain('_total');
    });

    it('passes on the Prometheus-format output of the app that served the scripted sequence', async () => {
      if (!promtool) expect.fail(PROMTOOL_MISSING);
      const res = await main.app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      // The scripted sequence's series are there, so this checks more than the runtime metrics.
      for (const name of ['orders_total', 'revenue_total_usd', 'payments_failed_total', 'cache_hits_total', 'user_signups_total']) {
        expect(parseExposition(res.body).series(name).length, name).toBeGreaterThan(0);
      }
      const result = await promtoolCheckMetrics(promtool, res.body);
      expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
    });
  });

  describe('OpenMetrics (Accept: application/openmetrics-text)', () => {
    it('answers OpenMetrics: its content type, counter families without _total, samples with it, and # EOF last', async () => {
      const prom = await scrape(main.app);
      const om = await scrape(main.app, 'openmetrics');
      expect(om.contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
      expect(om.eof).toBe(true);
      expect(om.text.endsWith('\n# EOF\n')).toBe(true);
      expect(om.text.match(/^# EOF$/gm)).toHaveLength(1);
      expect(om.text).toMatch(/^# TYPE http_requests counter$/m);
      expect(om.text).not.toMatch(/^# TYPE http_requests_total /m);
      expect(om.text).toMatch(/^http_requests_total\{/m);
      expect(om.text).not.toContain('_total_total');
      const omCounters = [...om.families.values()].filter((f) => f.type === 'counter');
      for (const f of omCounters) {
        expect(f.name).not.toMatch(/_total$/);
        for (const s of f.samples) expect(s.name, s.line).toBe(`${f.name}_total`);
      }
      // The same counters as the Prometheus format, named as OpenMetrics wants.
      const promCounters = [...prom.families.values()].filter((f) => f.type === 'counter').map((f) => f.name);
      expect(promCounters.length).toBeGreaterThan(8);
      expect(omCounters.map((f) => `${f.name}_total`).sort()).toEqual(promCounters.sort());
    });

    it('puts exemplars on the latency buckets, each the trace id of a span exported for that request', async () => {
      const started = Date.now() / 1000;
      // A sampled root (no traceparent) and a caller's sampled trace.
      const root = await main.app.inject({ url: '/api/me', headers: bearer((await signup(main.app)).token) });
      expect(root.statusCode).toBe(200);
      const rootTrace = traceIdOf(root.headers);
      const callerTrace = hex(16);
      const traced = await main.app.inject({ url: TRACED_ROUTE, headers: { traceparent: `00-${callerTrace}-${hex(8)}-01` } });
      expect(traced.statusCode).toBe(200);
      expect(traceIdOf(traced.headers)).toBe(callerTrace);
      await tracing.runtime.forceFlush();

      const om = await scrape(main.app, 'openmetrics');
      const exemplarsOf = (labels: Record<string, string>) => om.buckets('http_request_duration_seconds', labels).filter((b) => b.sample.exemplar);
      expect(exemplarsOf({ method: 'GET', endpoint: '/api/me' }).map((b) => b.sample.exemplar!.labels.trace_id)).toContain(rootTrace);
      expect(exemplarsOf({ method: 'GET', endpoint: TRACED_ROUTE }).map((b) => b.sample.exemplar!.labels.trace_id)).toEqual([callerTrace]);

      const withExemplar = om.samples.filter((s) => s.exemplar);
      expect(withExemplar.length).toBeGreaterThan(2);
      for (const s of withExemplar) {
        // Only on the latency histogram's buckets, in the OpenMetrics syntax.
        expect(s.name).toBe('http_request_duration_seconds_bucket');
        expect(s.line).toMatch(/^http_request_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="[0-9a-f]{32}"\} \d+(\.\d+)?(e-?\d+)? \d+(\.\d+)?$/);
        const exemplar = s.exemplar!;
        expect(Object.keys(exemplar.labels)).toEqual(['trace_id']);
        // The observation lies in its bucket: above the bound below, at most its own.
        const buckets = om.buckets('http_request_duration_seconds', { method: s.labels.method!, endpoint: s.labels.endpoint! });
        const at = buckets.findIndex((b) => b.sample === s);
        expect(exemplar.value).toBeLessThanOrEqual(buckets[at]!.le);
        if (at > 0) expect(exemplar.value).toBeGreaterThan(buckets[at - 1]!.le);
        expect(exemplar.timestamp).toBeGreaterThan(1_600_000_000);
        expect(exemplar.timestamp).toBeLessThanOrEqual(Date.now() / 1000 + 1);
        // The trace is one the app exported: a SERVER span for this very route and method
        // (named by the method alone when no route matched).
        const spans = tracing.trace(exemplar.labels.trace_id!);
        const name = s.labels.endpoint === 'unmatched' ? s.labels.method : `${s.labels.method} ${s.labels.endpoint}`;
        expect(spans.map((span) => `${span.kind === SpanKind.SERVER ? 'SERVER' : 'other'} ${span.name}`)).toContain(`SERVER ${name}`);
      }
      for (const trace of [rootTrace, callerTrace]) {
        const sample = withExemplar.find((s) => s.exemplar!.labels.trace_id === trace)!;
        expect(sample.exemplar!.timestamp).toBeGreaterThanOrEqual(started - 1);
      }
    });

    it('gives no exemplar to an unsampled request (traceparent flags 00)', async () => {
      const sampled = hex(16);
      const unsampled = hex(16);
      expect((await main.app.inject({ url: TRACED_ROUTE, headers: { traceparent: `00-${sampled}-${hex(8)}-01` } })).statusCode).toBe(200);
      // Unsampled after the sampled one: a bug giving them exemplars would overwrite its bucket's.
      for (const url of [TRACED_ROUTE, UNTRACED_ROUTE, UNTRACED_ROUTE, UNTRACED_ROUTE]) {
        const res = await main.app.inject({ url, headers: { traceparent: `00-${unsampled}-${hex(8)}-00` } });
        expect(res.statusCode).toBe(200);
        expect(traceIdOf(res.headers)).toBe(unsampled);
      }
      await tracing.runtime.forceFlush();
      expect(tracing.trace(unsampled)).toEqual([]);

      const om = await scrape(main.app, 'openmetrics');
      const traceIds = om.samples.flatMap((s) => (s.exemplar ? [s.exemplar.labels.trace_id] : []));
      expect(traceIds).toContain(sampled);
      expect(traceIds).not.toContain(unsampled);
      expect(om.text).not.toContain(unsampled);
      const quiet = { method: 'GET', endpoint: UNTRACED_ROUTE };
      expect(om.value('http_request_duration_seconds_count', quiet)).toBe(3);
      expect(om.buckets('http_request_duration_seconds', quiet).filter((b) => b.sample.exemplar)).toEqual([]);
      // Without tracing (capped runs without it) there are no exemplars at all.
      await capped.app.inject({ url: '/health/live' });
      const untraced = await scrape(capped.app, 'openmetrics');
      expect(untraced.series('http_request_duration_seconds_count').length).toBeGreaterThan(0);
      expect(untraced.samples.filter((s) => s.exemplar)).toEqual([]);
    });

    it('leaves the Prometheus format intact after OpenMetrics scrapes: _total kept, no exemplars', async () => {
      const first = await scrape(main.app, 'openmetrics');
      const second = await scrape(main.app, 'openmetrics');
      const prom = await scrape(main.app);
      for (const om of [first, second]) {
        expect(om.type('http_requests')).toBe('counter');
        expect(om.series('http_requests_total').length).toBeGreaterThan(0);
      }
      expect(prom.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(prom.eof).toBe(false);
      expect(prom.text).toMatch(/^# TYPE http_requests_total counter$/m);
      expect(prom.type('http_requests')).toBeUndefined();
      expect(prom.series('http_requests_total', { endpoint: '/metrics' }).length).toBeGreaterThan(0);
      for (const f of prom.families.values()) {
        if (f.type !== 'counter') continue;
        expect(f.name).toMatch(/_total$/);
        for (const s of f.samples) expect(s.name).toBe(f.name);
      }
      expect(prom.samples.filter((s) => s.exemplar)).toEqual([]);
      expect(prom.text).not.toContain('trace_id');
      expect(prom.text).not.toContain(' # {');
    });
  });

  describe('METRICS_ENABLED=false', () => {
    it('serves no /metrics and registers no metrics hooks, the app working as usual', async () => {
      expect(disabled.deps.metrics.enabled).toBe(false);
      expect(disabled.deps.metrics).toBe(DISABLED_METRICS);
      expect(disabled.deps.metrics.registry).toBeUndefined();
      for (const headers of [{}, { accept: OPENMETRICS }]) {
        const res = await disabled.app.inject({ url: '/metrics', headers });
        expectError(res, 404, 'not_found');
        expect(res.body).not.toContain('# TYPE');
      }
      expect(disabled.app.hasPlugin('http-metrics')).toBe(false);
      expect(main.app.hasPlugin('http-metrics')).toBe(true);
      // Business code calls the no-op facade: a signup still works.
      const t = await signup(disabled.app, { source: 'referral' });
      expect((await disabled.app.inject({ url: '/api/me', headers: bearer(t.token) })).statusCode).toBe(200);
      expect(main.deps.metrics.enabled).toBe(true);
    });
  });

  describe('slow queries (SLOW_QUERY_MS)', () => {
    const slowLinesSince = (t: TestApp, from: number) => t.logs.lines.slice(from).filter((l) => l.message === 'slow_query');

    it('logs a query slower than SLOW_QUERY_MS with its duration, operation and SQL, never its parameters, and counts it', async () => {
      const secret = `s3cr3t-value-${hex(6)}`;
      const sql = 'SELECT pg_sleep(0.05), $1::text AS secret';
      const from = main.logs.lines.length;
      const { before, after } = await measured(main, () => main.deps.db.query(sql, [secret]));
      const lines = slowLinesSince(main, from);
      expect(lines).toHaveLength(1);
      const line = lines[0]!;
      expect(line).toMatchObject({ level: 'warn', operation: 'SELECT', sql });
      expect(typeof line.duration_ms).toBe('number');
      expect(line.duration_ms as number).toBeGreaterThanOrEqual(50); // pg_sleep(0.05), above SLOW_QUERY_MS=20
      expect(main.logs.raw.join('\n')).not.toContain(secret);
      expect(after.value('slow_queries_total') - before.value('slow_queries_total')).toBe(1);
      const select = { operation: 'SELECT' };
      expect(after.value('db_query_duration_seconds_count', select) - before.value('db_query_duration_seconds_count', select)).toBe(1);
      expect(after.value('db_query_duration_seconds_sum', select) - before.value('db_query_duration_seconds_sum', select)).toBeGreaterThanOrEqual(0.05);
      // It landed above 50 ms: the buckets up to 0.025 did not move.
      for (const b of after.buckets('db_query_duration_seconds', select).filter((x) => x.le <= 0.025)) {
        expect(b.value).toBe(before.value('db_query_duration_seconds_bucket', { ...select, le: b.sample.labels.le! }));
      }
      expect(after.text).not.toContain(secret);
    });

    it('truncates a long statement to its first 200 characters, on one line', async () => {
      const secret = `s3cr3t-value-${hex(6)}`;
      const columns = Array.from({ length: 20 }, (_, i) => `$1::text   AS\n    a_rather_long_column_name_${i}`).join(',\n  ');
      const sql = `SELECT pg_sleep(0.03) AS slept,\n  ${columns}`;
      const shown = sql.replace(/\s+/g, ' ');
      expect(shown.length).toBeGreaterThan(400);
      const from = main.logs.lines.length;
      await main.deps.db.query(sql, [secret]);
      const lines = slowLinesSince(main, from);
      expect(lines).toHaveLength(1);
      expect(SLOW_QUERY_SQL_CHARS).toBe(200);
      expect(lines[0]!.sql).toBe(shown.slice(0, 200));
      expect((lines[0]!.sql as string).length).toBe(200);
      expect(lines[0]!.duration_ms as number).toBeGreaterThanOrEqual(30);
      expect(main.logs.raw.join('\n')).not.toContain(secret);
    });
  });

  describe('pool and Redis gauges', () => {
    it('shows connections in use and callers waiting, 0 of both at rest', async () => {
      const rest = await scrapeUntil(main, 'an idle pool', (e) => e.value('active_database_connections') === 0 && e.value('db_pool_waiting_clients') === 0);
      for (const name of ['active_database_connections', 'db_pool_waiting_clients']) {
        expect(rest.type(name)).toBe('gauge');
        expect(rest.get(name)?.value, name).toBe(0);
      }
      const size = main.deps.db.poolSize;
      const clients = await Promise.all(Array.from({ length: size }, () => main.deps.db.pool.connect()));
      let waiting: Promise<unknown> | undefined;
      try {
        waiting = main.deps.db.query('SELECT 1 AS waited');
        const busy = await scrape(main.app);
        expect(busy.value('active_database_connections')).toBe(size);
        expect(busy.value('db_pool_waiting_clients')).toBe(1);
        expect(busy.value('db_pool_max_connections')).toBe(size);
      } finally {
        for (const client of clients) client.release();
      }
      await waiting;
      await scrapeUntil(main, 'the pool idle again', (e) => e.value('active_database_connections') === 0 && e.value('db_pool_waiting_clients') === 0);
    });

    it(`reports redis_connected = ${process.env.REDIS_URL ? '1 (REDIS_URL is set)' : '0 (the memory cache)'}`, async () => {
      const e = await scrape(main.app);
      expect(e.type('redis_connected')).toBe('gauge');
      expect(e.get('redis_connected')?.value).toBe(process.env.REDIS_URL ? 1 : 0);
    });
  });

  describe('Node runtime metrics', () => {
    it('are exposed under their usual names', async () => {
      const e = await scrape(main.app);
      const expected: [string, string][] = [
        ['process_cpu_seconds_total', 'counter'],
        ['process_resident_memory_bytes', 'gauge'],
        ['nodejs_heap_size_used_bytes', 'gauge'],
        ['nodejs_eventloop_lag_seconds', 'gauge'],
        ['nodejs_gc_duration_seconds', 'histogram'],
      ];
      for (const [name, type] of expected) expect(e.type(name), name).toBe(type);
      expect(e.value('process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(e.value('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
      expect(e.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(1024 * 1024);
      expect(e.get('nodejs_eventloop_lag_seconds')?.value).toBeGreaterThanOrEqual(0);
      expect(e.sum('nodejs_gc_duration_seconds_count')).toBeGreaterThan(0);
      expect(e.type('nodejs_active_handles')).toBe('gauge');
    });

    it('include no gauge named like a counter (…_total), in either format', async () => {
      for (const format of ['prometheus', 'openmetrics'] as const) {
        const e = await scrape(main.app, format);
        expect(e.families.size).toBeGreaterThan(30);
        const gauges = [...e.families.values()].filter((f) => f.type === 'gauge').map((f) => f.name);
        expect(gauges).toContain('http_requests_in_flight');
        expect(
          gauges.filter((name) => name.endsWith('_total')),
          format,
        ).toEqual([]);
      }
    });
  });

  describe('cardinality (METRICS_MAX_TENANTS=3)', () => {
    const tenants: Tenant[] = [];

    it('keeps at most 3 tenant_id values per metric, counting the rest under "other", and loses no count', async () => {
      const { before, after } = await measured(capped, async () => {
        for (let i = 0; i < 5; i++) tenants.push(await signup(capped.app));
        // Orders in the opposite order: the first three seen differ from the signups' (caps are per metric).
        for (const t of [...tenants].reverse()) {
          const product = await createProduct(capped.app, t.token, { name: 'Capped widget', price_cents: 500, stock: 10 });
          expect((await placeOrder(capped.app, t.token, [{ product_id: product.id, quantity: 2 }])).statusCode).toBe(201);
          expect((await placeOrder(capped.app, t.token, [{ product_id: product.id, quantity: 1 }], { payment_method: 'pm_card_declined' })).statusCode).toBe(
            402,
          );
        }
      });
      const ids = tenants.map((t) => t.tenantId);
      const signupOrder = ids.slice(0, 3);
      const orderOrder = [ids[4]!, ids[3]!, ids[2]!];

      /** Each tenant_id value's delta (summed over the other labels). */
      function perTenant(metric: string): Record<string, number> {
        const out: Record<string, number> = {};
        for (const s of after.series(metric)) {
          const tenant = s.labels.tenant_id!;
          out[tenant] = (out[tenant] ?? 0) + s.value - before.value(metric, s.labels);
        }
        return out;
      }
      const expectCapped = (metric: string, own: string[], each: number) => {
        expect(after.labelValues(metric, 'tenant_id'), metric).toEqual(new Set([...own, 'other']));
        expect(perTenant(metric), metric).toEqual({ ...Object.fromEntries(own.map((id) => [id, each])), other: 2 * each });
        expect(after.sum(metric) - before.sum(metric), metric).toBeCloseTo(5 * each, 9);
      };
      expectCapped('user_signups_total', signupOrder, 1);
      expectCapped('orders_total', orderOrder, 2); // one paid, one failed each
      expectCapped('payments_failed_total', orderOrder, 1);
      expectCapped('revenue_total_usd', orderOrder, 10); // 2 × $5.00
      expectCapped('api_calls_total', orderOrder, 3); // a product and two orders
      expect(after.value('orders_total', { tenant_id: 'other', status: 'paid' }) - before.value('orders_total', { tenant_id: 'other', status: 'paid' })).toBe(
        2,
      );
      expect(
        after.value('orders_total', { tenant_id: 'other', status: 'failed' }) - before.value('orders_total', { tenant_id: 'other', status: 'failed' }),
      ).toBe(2);
    });

    it('adds no series for 10,000 requests to random unknown paths', async () => {
      // Warm up: the unmatched and /metrics series exist from here on.
      expect((await capped.app.inject({ url: `/warm-up-${hex(4)}` })).statusCode).toBe(404);
      await scrape(capped.app);
      const before = await scrape(capped.app);
      const COUNT = 10_000;
      const tokens = Array.from({ length: COUNT }, () => hex(8));
      const shapes = [
        (t: string) => `/${t}`,
        (t: string) => `/api/${t}`,
        (t: string) => `/api/products/${t}/reviews/${t}`,
        (t: string) => `/static/${t}.js?v=${t}`,
        (t: string) => `/admin-${t}/`,
      ];
      let next = 0;
      const statuses = new Map<number, number>();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < COUNT) {
            const i = next++;
            const res = await capped.app.inject({ method: 'GET', url: shapes[i % shapes.length]!(tokens[i]!) });
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          }
        }),
      );
      expect(Object.fromEntries(statuses)).toEqual({ 404: COUNT });
      const after = await scrape(capped.app);

      // The same series (runtime metrics aside: GC kinds and handle types come and go on their own).
      const appSeries = (e: Exposition) => [...e.keys((s) => !isRuntime(s.name))].sort();
      expect(appSeries(after)).toEqual(appSeries(before));
      const unmatched = { method: 'GET', endpoint: 'unmatched' };
      expect(after.value('http_requests_total', { ...unmatched, status: '404' }) - before.value('http_requests_total', { ...unmatched, status: '404' })).toBe(
        COUNT,
      );
      expect(after.value('http_request_duration_seconds_count', unmatched) - before.value('http_request_duration_seconds_count', unmatched)).toBe(COUNT);
      // Only the unmatched series moved (and the scrapes' own).
      const moved = Object.keys(diff(before, after, (s) => !isRuntime(s.name) && s.labels.endpoint !== '/metrics'));
      expect(moved.length).toBeGreaterThan(2);
      for (const k of moved) expect(k).toContain('endpoint="unmatched"');
      expect(after.value('http_requests_in_flight')).toBe(1);
      for (const t of tokens) {
        if (after.text.includes(t)) expect.fail(`raw path token ${t} in the exposition`);
      }
    });

    it('with SLOW_QUERY_MS=0, logs every statement as slow_query, with no parameter or tenant value', async () => {
      const e = await scrape(capped.app);
      const lines = capped.logs.find('slow_query');
      expect(lines.length).toBeGreaterThan(50);
      expect(e.value('slow_queries_total')).toBe(lines.length);
      expect(e.sum('db_query_duration_seconds_count')).toBe(lines.length);
      for (const line of lines) {
        expect(line.level).toBe('warn');
        expect(line.operation).toMatch(/^[A-Z]+$/);
        expect(typeof line.sql).toBe('string');
        expect((line.sql as string).length).toBeLessThanOrEqual(200);
        expect(line.duration_ms as number).toBeGreaterThanOrEqual(0);
      }
      // Tenant ids are inlined into withTenant's setup statement; slugs, e-mails and hashes are parameters.
      const logged = lines.map((l) => JSON.stringify(l)).join('\n');
      expect(logged).toContain('set_config'); // the setup statements were logged…
      for (const t of tenants) for (const value of [t.tenantId, t.slug, t.email]) expect(logged).not.toContain(value); // …without their values
      expect(logged).not.toMatch(/scrypt\$\d+\$/); // no password hash either
    });
  });
});
