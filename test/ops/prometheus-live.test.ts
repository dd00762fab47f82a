// The ops files against the real tools and a real workload: a real Prometheus (Debian's 2.42)
// loads ops/prometheus/*.yml and scrapes the real server (a child process started with `npm
// start`'s arguments) every second. A scripted workload then signs tenants up, logs in, creates
// products, places paid orders, orders declined by the card, replays orders (cache hits), and
// meets a payment provider outage: the provider is a real HTTP server (PAYMENT_GATEWAY_URL)
// that answers 503 for a while, so orders answer 503 as they would in production. Then:
// - every panel query of every dashboard returns data through Prometheus's HTTP API (the
//   Grafana variables set to "All"), except the panels listed in MAY_BE_EMPTY with the reason;
// - the RED error-ratio rule is above 0, and GlassboxPaymentFailureSpike is pending or firing;
// - every metric a dashboard or a rule reads is in the server's /metrics, the names taken from
//   the parsed PromQL (recording rules resolved to what they read).
// Needs Prometheus: skipped with a warning without it, failing when GLASSBOX_REQUIRE_PROMETHEUS=1 (CI).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../ops/generate/index.ts';
import { panelQueries, substituteVariables } from '../../ops/grafana/src/queries.ts';
import { startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { Exposition, findTool, runsWith } from '../helpers/metrics.ts';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.ts';
import { allExprs, exposedNames, neededMetrics } from '../helpers/promql.ts';
import { backend, TEST_JWT_SECRET } from '../helpers/test-app.ts';

/** Panels that can be empty here, with the reason. None today: keep it that way or say why. */
const MAY_BE_EMPTY: Record<string, string> = {};

const WORKLOAD_MS = 30_000;

/** A payment provider speaking HttpPaymentGateway's protocol, with an outage switch. */
function startGateway(): Promise<{ server: Server; url: string; setOutage(on: boolean): void; charges: () => number }> {
  let outage = false;
  let charges = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      charges++;
      if (outage) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"maintenance"}');
        return;
      }
      const { payment_method: method } = JSON.parse(body) as { payment_method?: string };
      const id = `ch_${randomUUID()}`;
      const answer = method === 'pm_card_declined' ? { id, status: 'declined', decline_reason: 'card_declined' } : { id, status: 'captured' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, setOutage: (on) => (outage = on), charges: () => charges }),
    ),
  );
}

describe.runIf(runsWith(findTool('prometheus'), 'live Prometheus ops'))(`ops/ against a real Prometheus and a real workload (${backend})`, () => {
  let server: ChildServer | undefined;
  let prom: PrometheusProcess | undefined;
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'glassbox-ops-live-'));
  const statuses = new Map<number, number>();

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${server!.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${prom!.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}\n${prom!.stderr.join('\n')}`);
    return body.data.result;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(500);
    }
  }

  beforeAll(async () => {
    gateway = await startGateway();
    server = await startChildServer({
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      PAYMENT_GATEWAY_URL: gateway.url,
      PAYMENT_GATEWAY_TIMEOUT_MS: '2000',
      // Every statement a slow one, so the slow-query panel has something to count.
      SLOW_QUERY_MS: '0',
      OTEL_TRACES_EXPORTER: 'none',
      RATE_LIMIT_PER_MINUTE: '1000000',
      MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    await waitFor(
      'the server to start',
      async () =>
        (await fetch(`${server!.url}/health/startup`).then(
          (r) => r.ok,
          () => false,
        ))
          ? true
          : undefined,
      60_000,
    );
    const ruleFiles = readdirSync(repoPath('ops/prometheus'))
      .filter((f) => f.endsWith('.yml'))
      .map((f) => repoPath(`ops/prometheus/${f}`));
    prom = await startPrometheus(findTool('prometheus')!, { target: `127.0.0.1:${server.port}`, job: 'glassbox', ruleFiles });

    // The workload: three tenants, each with its products, ordering in a loop; a provider
    // outage in the middle third.
    const tenants = await Promise.all(
      ['organic', 'referral', 'paid'].map(async (source, i) => {
        const slug = `ops-${randomUUID().slice(0, 8)}`;
        const password = 'correct horse battery staple';
        const email = `owner${i}@${slug}.test`;
        const signed = await call('POST', '/api/tenants', { name: `Ops ${i}`, slug, email, password, source });
        expect(signed.status, JSON.stringify(signed.json)).toBe(201);
        const login = await call('POST', '/api/auth/login', { tenant: slug, email, password });
        const auth = { authorization: `Bearer ${String(login.json.access_token)}` };
        const product = await call('POST', '/api/products', { name: `Widget ${i}`, price_cents: 1999 + i, stock: 1_000_000 }, auth);
        expect(product.status).toBe(201);
        return { auth, productId: String(product.json.id) };
      }),
    );
    const started = Date.now();
    let n = 0;
    const keys: { auth: Record<string, string>; key: string; productId: string }[] = [];
    while (Date.now() - started < WORKLOAD_MS) {
      const elapsed = Date.now() - started;
      gateway.setOutage(elapsed > WORKLOAD_MS / 3 && elapsed < (2 * WORKLOAD_MS) / 3);
      await Promise.all(
        tenants.map(async ({ auth, productId }) => {
          n++;
          const key = `ops-${randomUUID()}`;
          const declined = n % 3 === 0;
          await call(
            'POST',
            '/api/orders',
            { items: [{ product_id: productId, quantity: 1 }], ...(declined ? { payment_method: 'pm_card_declined' } : {}) },
            { ...auth, 'idempotency-key': key },
          );
          keys.push({ auth, key, productId });
          // A replay of an earlier order: the idempotency cache answers.
          const earlier = keys[Math.floor(keys.length / 2)]!;
          await call('POST', '/api/orders', { items: [{ product_id: earlier.productId, quantity: 1 }] }, { ...earlier.auth, 'idempotency-key': earlier.key });
          await call('GET', `/api/products/${productId}`, undefined, auth);
          await call('GET', '/api/orders?limit=5', undefined, auth);
          await call('GET', '/api/nowhere', undefined, auth);
        }),
      );
      await sleep(100);
    }
    gateway.setOutage(false);
  }, 180_000);

  afterAll(async () => {
    await prom?.stop();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    gateway?.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the workload met paid and declined orders and the outage (5xx)', () => {
    expect(statuses.get(201) ?? 0).toBeGreaterThan(10);
    expect(statuses.get(402) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
  });

  it('records a non-zero error ratio', async () => {
    const ratio = await waitFor('job:http_request_error_ratio:rate5m > 0', async () => {
      const [sample] = await query('job:http_request_error_ratio:rate5m{job="glassbox"}');
      return sample && Number(sample.value[1]) > 0 ? Number(sample.value[1]) : undefined;
    });
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
  });

  it('has GlassboxPaymentFailureSpike pending or firing', async () => {
    const alert = await waitFor('GlassboxPaymentFailureSpike', async () => {
      const res = await fetch(`${prom!.url}/api/v1/alerts`);
      const body = (await res.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
      return body.data.alerts.find((a) => a.labels.alertname === 'GlassboxPaymentFailureSpike');
    });
    expect(['pending', 'firing']).toContain(alert.state);
    expect(alert.labels).toMatchObject({ severity: 'page', service: 'glassbox', job: 'glassbox' });
  });

  it('answers every dashboard panel query with data', async () => {
    // The SLO rules and the 5-minute rates need a few evaluations after the workload.
    await sleep(3_000);
    const empty: string[] = [];
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThan(30);
    for (const q of queries) {
      const key = `${q.dashboard} / ${q.panel}`;
      const result = await query(substituteVariables(q.expr));
      if (result.length === 0 && !(key in MAY_BE_EMPTY)) empty.push(`${key}: ${q.expr}`);
    }
    expect(empty, `panels without data:\n${empty.join('\n')}`).toEqual([]);
  });

  it('serves every metric a dashboard or a rule reads (from the parsed PromQL)', async () => {
    const exposition = new Exposition(await (await fetch(`${server!.url}/metrics`)).text());
    const exposed = exposedNames(exposition.families);
    const missing: string[] = [];
    let checked = 0;
    for (const { where, expr } of allExprs()) {
      for (const metric of neededMetrics(expr)) {
        checked++;
        if (!exposed.has(metric)) missing.push(`${metric} (${where})`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });
});
