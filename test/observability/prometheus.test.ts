// The app scraped by a real Prometheus (the Debian package's 2.42 binary), as in production:
// - Prometheus runs as a child process on loopback, scraping this file's listening app every
//   second, with exemplar storage on; it negotiates OpenMetrics by itself.
// - Traffic goes through real HTTP (fetch): a signup, products, invited users, captured and
//   declined orders, product reads, spread over several scrapes.
// - What Prometheus stored is read back through its HTTP API: `up`, exact counter values
//   (http_requests_total for one route template, the business counters of this file's own
//   tenant), rate() over the business counters, and the latency histogram's exemplars, whose
//   trace ids must be those of SERVER spans the app exported for the same route and method.
//
// Each app instance has a registry of its own, so every count here is this file's traffic.
// Needs Prometheus: CI installs Debian's `prometheus` package and requires it (GLASSBOX_REQUIRE_PROMETHEUS=1);
// without the package and that variable the file is skipped with a warning.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_DURATION_BUCKETS } from '../../src/observability/metrics/metrics.ts';
import { unique } from '../helpers/api.ts';
import { startPrometheus as startPrometheusOn, type PrometheusProcess } from '../helpers/prometheus.ts';
import { findTool, runsWith } from '../helpers/metrics.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing } from '../helpers/tracing.ts';

const tracing = startTestTracing();

const JOB = 'glassbox';
const PRODUCT_ROUTE = '/api/products/:id';
/** How long to wait for Prometheus to show something (it scrapes every second). */
const WAIT_MS = 15_000;

const findPrometheus = () => findTool('prometheus');
const startPrometheus = (binary: string, target: string) => startPrometheusOn(binary, { target, job: JOB });

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

describe.runIf(runsWith(findPrometheus(), 'real Prometheus'))(`a real Prometheus scraping the app (${backend})`, () => {
  let t: TestApp | undefined;
  let base: string;
  let prom: PrometheusProcess | undefined;
  /** When this file's traffic started and ended (unix seconds). */
  let trafficStart = 0;
  let trafficEnd = 0;
  let tenantId: string;
  /** Trace ids from the `traceresponse` header of every product read. */
  const productReadTraces = new Set<string>();
  const counts = { productReads: 0, paid: 0, declined: 0, invited: 0, revenueUsd: 0, productCreates: 0, orderPosts: 0 };

  const promLog = () => (prom ? `\n--- prometheus stderr ---\n${prom.stderr.join('\n') || '(empty)'}` : '');

  async function api<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: T; traceId: string }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const traceId = (res.headers.get('traceresponse') ?? '').split('-')[1] ?? '';
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as T, traceId };
  }

  async function promApi<T>(path: string, params: Record<string, string>): Promise<T> {
    const res = await fetch(`${prom!.url}${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (!res.ok || body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${res.status} ${body.error ?? ''}${promLog()}`);
    return body.data;
  }

  async function query(expr: string, time?: number): Promise<Sample[]> {
    const data = await promApi<{ resultType: string; result: Sample[] }>('/api/v1/query', {
      query: expr,
      ...(time === undefined ? {} : { time: time.toFixed(3) }),
    });
    expect(data.resultType).toBe('vector');
    return data.result;
  }

  /** The single value of `expr`, or undefined while Prometheus has none. */
  async function scalarOf(expr: string, time?: number): Promise<number | undefined> {
    const result = await query(expr, time);
    if (result.length > 1) throw new Error(`${expr}: expected one series, got ${JSON.stringify(result)}`);
    return result[0] ? Number(result[0].value[1]) : undefined;
  }

  /**
   * Polls `expr` until it equals `expected` (bounded); returns the last value seen. (Within a
   * millionth: revenue is a sum of dollar fractions, added in another order by Prometheus.)
   */
  async function waitForValue(expr: string, expected: number, timeoutMs = WAIT_MS): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    let last: number | undefined;
    while (Date.now() < deadline) {
      last = await scalarOf(expr);
      if (last !== undefined && Math.abs(last - expected) < 1e-6) return expected;
      await sleep(250);
    }
    return last;
  }

  beforeAll(async () => {
    const binary = findPrometheus();
    if (!binary) {
      throw new Error(
        "Prometheus is not installed: this test runs a real Prometheus. Install Debian's `prometheus` package (apt-get install prometheus; CI installs it).",
      );
    }
    t = await startTestApp({ tracing: true });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    prom = await startPrometheus(binary, `127.0.0.1:${port}`);
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(`${task.name} failed${promLog()}`);
  });

  afterAll(async () => {
    await prom?.stop();
    await t?.close();
  });

  it('scrapes the app: up == 1, over OpenMetrics', async () => {
    const up = await waitForValue(`up{job="${JOB}"}`, 1);
    // Scrape errors are logged at debug level only: the target's lastError says why.
    const targets = up === 1 ? '' : JSON.stringify(await promApi<unknown>('/api/v1/targets', { state: 'active' }));
    expect(up, `up{job="${JOB}"} ${targets}${promLog()}`).toBe(1);
    // The scrape Prometheus negotiated: it asks for OpenMetrics first, and the app must answer it.
    const res = await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    expect((await res.text()).trimEnd().endsWith('# EOF')).toBe(true);
  });

  it('stores the exact counts of this traffic, spread over several scrapes', async () => {
    const slug = unique('prom');
    trafficStart = Date.now() / 1000;
    const signup = await api<{ tenant: { id: string }; access_token: string }>('POST', '/api/tenants', {
      name: 'Prom Inc',
      slug,
      email: `owner@${slug}.test`,
      password: 'correct horse battery',
      source: 'referral',
    });
    expect(signup.status, JSON.stringify(signup.json)).toBe(201);
    tenantId = signup.json.tenant.id;
    const auth = { authorization: `Bearer ${signup.json.access_token}` };

    const products: { id: string; name: string; price_cents: number }[] = [];
    for (const [name, price] of [
      ['Gizmo', 1250],
      ['Doohickey', 399],
      ['Sprocket', 10_000],
    ] as const) {
      const res = await api<{ id: string }>('POST', '/api/products', { name, price_cents: price, stock: 1000 }, auth);
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      counts.productCreates += 1;
      products.push({ id: res.json.id, name, price_cents: price });
    }

    // ~4.5 s of load with a 1 s scrape interval: the counters move between several scrapes.
    for (let round = 0; round < 9; round++) {
      const product = products[round % products.length]!;
      const quantity = (round % 3) + 1;
      const order = await api('POST', '/api/orders', { items: [{ product_id: product.id, quantity }] }, { ...auth, 'idempotency-key': randomUUID() });
      counts.orderPosts += 1;
      expect(order.status, JSON.stringify(order.json)).toBe(201);
      counts.paid += 1;
      counts.revenueUsd += (quantity * product.price_cents) / 100;

      for (let i = 0; i < 2; i++) {
        const read = await api('GET', `/api/products/${product.id}`, undefined, auth);
        expect(read.status).toBe(200);
        expect(read.traceId).toMatch(/^[0-9a-f]{32}$/);
        productReadTraces.add(read.traceId);
        counts.productReads += 1;
      }

      if (round % 2 === 0) {
        const user = await api('POST', '/api/users', { email: `${unique('member')}@${slug}.test`, password: 'member password', role: 'member' }, auth);
        expect(user.status, JSON.stringify(user.json)).toBe(201);
        counts.invited += 1;
      }

      if (round === 4) {
        const declined = await api(
          'POST',
          '/api/orders',
          { items: [{ product_id: product.id, quantity: 1 }], payment_method: 'pm_card_declined' },
          { ...auth, 'idempotency-key': randomUUID() },
        );
        counts.orderPosts += 1;
        expect(declined.status, JSON.stringify(declined.json)).toBe(402);
        counts.declined += 1;
      }
      await sleep(500);
    }
    trafficEnd = Date.now() / 1000;

    const tenant = `tenant_id="${tenantId}"`;
    const expectations: [string, number][] = [
      [`http_requests_total{job="${JOB}",endpoint="${PRODUCT_ROUTE}",method="GET",status="200"}`, counts.productReads],
      [`http_requests_total{job="${JOB}",endpoint="/api/orders",method="POST",status="201"}`, counts.paid],
      [`http_requests_total{job="${JOB}",endpoint="/api/orders",method="POST",status="402"}`, counts.declined],
      [`api_calls_total{job="${JOB}",${tenant},endpoint="${PRODUCT_ROUTE}"}`, counts.productReads],
      [`api_calls_total{job="${JOB}",${tenant},endpoint="/api/orders"}`, counts.orderPosts],
      [`orders_total{job="${JOB}",${tenant},status="paid"}`, counts.paid],
      [`orders_total{job="${JOB}",${tenant},status="failed"}`, counts.declined],
      [`payments_failed_total{job="${JOB}",${tenant},reason="card_declined"}`, counts.declined],
      [`user_signups_total{job="${JOB}",${tenant},source="referral"}`, 1],
      [`user_signups_total{job="${JOB}",${tenant},source="invite"}`, counts.invited],
      [`sum(revenue_total_usd{job="${JOB}",${tenant}})`, counts.revenueUsd],
    ];
    // The first one waits for a scrape after the traffic; the rest are in that same scrape.
    for (const [expr, expected] of expectations) {
      const value = await waitForValue(expr, expected);
      expect(value, `${expr}${promLog()}`).toBe(expected);
    }
    // Three products, each its own revenue series under this tenant.
    const revenueSeries = await query(`revenue_total_usd{job="${JOB}",${tenant}}`);
    expect(revenueSeries.map((s) => s.metric.product).sort()).toEqual(['Doohickey', 'Gizmo', 'Sprocket']);
  }, 45_000);

  it('rate() over the business counters is positive during the load', async () => {
    expect(trafficEnd, 'the traffic test ran').toBeGreaterThan(0);
    // Evaluated just after the load (a scrape after it is stored: the previous test saw it),
    // over a window holding every scrape of the load.
    const at = Math.min(Date.now() / 1000, trafficEnd + 1.5);
    const window = `${Math.ceil(at - trafficStart) + 2}s`;
    const tenant = `tenant_id="${tenantId}"`;
    for (const metric of ['orders_total', 'user_signups_total', 'api_calls_total']) {
      const expr = `sum(rate(${metric}{job="${JOB}",${tenant}}[${window}]))`;
      const value = await scalarOf(expr, at);
      expect(value, `${expr} at ${at}${promLog()}`).toBeGreaterThan(0);
    }
    const revenueRate = await scalarOf(`sum(rate(revenue_total_usd{job="${JOB}",${tenant}}[${window}]))`, at);
    expect(revenueRate).toBeGreaterThan(0);
    // A series that appeared once and never moved (the owner's signup) has no rate: the
    // positive rates above come from increases Prometheus saw between scrapes.
    const still = await scalarOf(`rate(user_signups_total{job="${JOB}",${tenant},source="referral"}[${window}])`, at);
    expect(still).toBe(0);
  });

  it('keeps exemplars whose trace ids are SERVER spans of the same route and method', async () => {
    expect(productReadTraces.size, 'the traffic test ran').toBeGreaterThan(0);
    const spanOf = (traceId: string, method: string, route: string) =>
      tracing
        .spans()
        .find(
          (s) =>
            s.kind === SpanKind.SERVER &&
            s.spanContext().traceId === traceId &&
            s.attributes['http.request.method'] === method &&
            s.attributes['http.route'] === route,
        );

    let series: ExemplarSeries[];
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      series = await promApi<ExemplarSeries[]>('/api/v1/query_exemplars', {
        query: `http_request_duration_seconds_bucket{job="${JOB}"}`,
        start: (trafficStart - 5).toFixed(3),
        end: (Date.now() / 1000 + 5).toFixed(3),
      });
      if (series.some((s) => s.seriesLabels.endpoint === PRODUCT_ROUTE && s.exemplars.length > 0)) break;
      if (Date.now() > deadline) throw new Error(`no exemplar on ${PRODUCT_ROUTE} within ${WAIT_MS} ms: ${JSON.stringify(series)}${promLog()}`);
      await sleep(250);
    }

    const exemplars = series.flatMap((s) => s.exemplars.map((e) => ({ series: s.seriesLabels, ...e })));
    expect(exemplars.length).toBeGreaterThan(0);
    await tracing.runtime.forceFlush();
    for (const exemplar of exemplars) {
      const { series: labels } = exemplar;
      const where = `exemplar ${JSON.stringify(exemplar)}`;
      expect(labels.__name__, where).toBe('http_request_duration_seconds_bucket');
      expect(Object.keys(exemplar.labels), where).toEqual(['trace_id']);
      const traceId = exemplar.labels.trace_id!;
      expect(traceId, where).toMatch(/^[0-9a-f]{32}$/);
      expect(
        spanOf(traceId, labels.method!, labels.endpoint!),
        `${where}: no SERVER span "${labels.method} ${labels.endpoint}" with that trace id`,
      ).toBeDefined();
      // The exemplar sits in the bucket its latency falls in.
      const le = Number(labels.le);
      const below = HTTP_DURATION_BUCKETS.filter((b) => b < le).at(-1) ?? 0;
      const value = Number(exemplar.value);
      expect(value, where).toBeLessThanOrEqual(le);
      expect(value, where).toBeGreaterThan(below);
    }
    // The product-route exemplars are this test's own reads.
    const productExemplars = exemplars.filter((e) => e.series.endpoint === PRODUCT_ROUTE);
    expect(productExemplars.length).toBeGreaterThan(0);
    for (const exemplar of productExemplars) expect(productReadTraces.has(exemplar.labels.trace_id!), JSON.stringify(exemplar)).toBe(true);
  }, 45_000);
});
