// Scale-out, under the real condition: three Glassbox processes (`npm start`'s arguments, child
// processes) on one real PostgreSQL (a database of this file's own) and one real Redis.
// - 1,000 orders of 100 tenants spread over the three, each retried with the same
//   Idempotency-Key against a different process, and 50 more sent twice at the same moment to
//   two processes: no order lost or duplicated (rows counted in PostgreSQL), every retry
//   answers the same order, every confirmation job runs exactly once (one
//   `order_confirmation_sent` line per paid order across the three processes' logs).
// - A tenant's rate limit holds across the three: RATE_LIMIT_PER_MINUTE=30 and 60 requests
//   round-robin over them → exactly 30 accepted, the rest 429 with Retry-After.
// Needs DATABASE_URL and REDIS_URL (the second CI run); skipped on the embedded defaults, which
// are one process by design.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callServer, startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { createOwnDatabase, TEST_JWT_SECRET } from '../helpers/test-app.ts';

const REAL = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
const TENANTS = 100;
const ORDERS_PER_TENANT = 10;
const CONCURRENT_DUPLICATES = 50;
const LIMIT = 30;

type Json = Record<string, unknown>;

const call = callServer;

/** Runs `fn` over `items` with at most `width` at a time. */
async function pool<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

describe.runIf(REAL)('three processes on one PostgreSQL and Redis', () => {
  let servers: ChildServer[] = [];
  let database: Awaited<ReturnType<typeof createOwnDatabase>> | undefined;

  beforeAll(async () => {
    database = await createOwnDatabase(process.env.DATABASE_URL!);
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: process.env.REDIS_URL,
      JWT_SECRET: TEST_JWT_SECRET,
      APP_ENV: 'test',
      LOG_LEVEL: 'info',
      OTEL_TRACES_EXPORTER: 'none',
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
      MAX_EVENT_LOOP_DELAY_MS: '0',
      DATABASE_POOL_SIZE: '5',
    };
    // One after the other: the first migrates, the others find the journal applied.
    for (let i = 0; i < 3; i++) {
      const server = await startChildServer(env);
      servers.push(server);
      await server.waitForLine('application_started', 60_000);
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all(
      servers.map(async (s) => {
        if (s.child.exitCode === null) {
          s.child.kill('SIGTERM');
          await s.exited;
        }
      }),
    );
    servers = [];
    await database?.drop();
  }, 60_000);

  it('takes 1,000 orders over the three, retries and duplicates on other processes: none lost or doubled, each confirmed once', async () => {
    const tenants = await pool(
      Array.from({ length: TENANTS }, (_, i) => i),
      12,
      async (i) => {
        const server = servers[i % 3]!;
        const slug = `scale-${randomUUID().slice(0, 8)}`;
        const signed = await call(server, 'POST', '/api/tenants', {
          name: `Scale ${i}`,
          slug,
          email: `o@${slug}.test`,
          password: 'correct horse battery staple',
        });
        expect(signed.status, JSON.stringify(signed.json)).toBe(201);
        const auth = { authorization: `Bearer ${String(signed.json.access_token)}` };
        const product = await call(server, 'POST', '/api/products', { name: 'Widget', price_cents: 500, stock: 100_000 }, auth);
        expect(product.status).toBe(201);
        return { id: String((signed.json.tenant as Json).id), auth, productId: String(product.json.id) };
      },
    );

    const orders = tenants.flatMap((t) => Array.from({ length: ORDERS_PER_TENANT }, () => ({ ...t, key: `k-${randomUUID()}` })));
    const body = (productId: string) => ({ items: [{ product_id: productId, quantity: 1 }] });
    const results = await pool(orders, 24, async (o, i) => {
      const first = await call(servers[i % 3]!, 'POST', '/api/orders', body(o.productId), { ...o.auth, 'idempotency-key': o.key });
      const retry = await call(servers[(i + 1) % 3]!, 'POST', '/api/orders', body(o.productId), { ...o.auth, 'idempotency-key': o.key });
      return { first, retry };
    });
    for (const { first, retry } of results) {
      expect(first.status, JSON.stringify(first.json)).toBe(201);
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.json.id).toBe(first.json.id);
    }

    // The same key at the same moment on two processes: one order; the loser replays it or
    // answers 409 while the winner is still running.
    const duplicates = tenants.slice(0, CONCURRENT_DUPLICATES).map((t) => ({ ...t, key: `dup-${randomUUID()}` }));
    const raced = await pool(duplicates, 10, async (o, i) =>
      Promise.all([0, 1].map((j) => call(servers[(i + j) % 3]!, 'POST', '/api/orders', body(o.productId), { ...o.auth, 'idempotency-key': o.key }))),
    );
    for (const pair of raced) {
      const won = pair.filter((r) => r.status === 201);
      expect(won.length).toBeGreaterThanOrEqual(1);
      for (const r of pair) expect([201, 409]).toContain(r.status);
      expect(new Set(won.map((r) => r.json.id)).size).toBe(1);
    }

    const client = new pg.Client({ connectionString: database!.url });
    await client.connect();
    try {
      const ids = tenants.map((t) => t.id);
      const { rows } = await client.query<{ orders: string; keys: string; paid: string }>(
        "SELECT count(*) AS orders, count(DISTINCT (tenant_id, idempotency_key)) AS keys, count(*) FILTER (WHERE status = 'paid') AS paid FROM orders WHERE tenant_id = ANY($1::uuid[])",
        [ids],
      );
      const expected = TENANTS * ORDERS_PER_TENANT + CONCURRENT_DUPLICATES;
      expect(Number(rows[0]!.orders)).toBe(expected);
      expect(Number(rows[0]!.keys)).toBe(expected);
      expect(Number(rows[0]!.paid)).toBe(expected);

      // Every paid order's confirmation, once, by whichever process's worker took the job.
      const { rows: paidRows } = await client.query<{ id: string }>("SELECT id FROM orders WHERE tenant_id = ANY($1::uuid[]) AND status = 'paid'", [ids]);
      const paid = new Set(paidRows.map((r) => r.id));
      const deadline = Date.now() + 60_000;
      let sent = new Map<string, number>();
      for (;;) {
        sent = new Map();
        for (const s of servers)
          for (const line of s.lines())
            if (line.message === 'order_confirmation_sent' && paid.has(String(line.order_id)))
              sent.set(String(line.order_id), (sent.get(String(line.order_id)) ?? 0) + 1);
        if (sent.size === paid.size || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(sent.size).toBe(paid.size);
      expect([...sent.values()].every((n) => n === 1)).toBe(true);
      // More than one process's worker took part.
      const byServer = servers.map((s) => s.lines().filter((l) => l.message === 'order_confirmation_sent').length);
      expect(byServer.filter((n) => n > 0).length).toBeGreaterThan(1);
    } finally {
      await client.end();
    }
  }, 240_000);

  it(`holds one tenant to RATE_LIMIT_PER_MINUTE=${LIMIT} across the three`, async () => {
    const slug = `limit-${randomUUID().slice(0, 8)}`;
    const signed = await call(servers[0]!, 'POST', '/api/tenants', {
      name: 'Limited',
      slug,
      email: `o@${slug}.test`,
      password: 'correct horse battery staple',
    });
    expect(signed.status).toBe(201);
    const auth = { authorization: `Bearer ${String(signed.json.access_token)}` };
    const answers: Awaited<ReturnType<typeof call>>[] = [];
    for (let i = 0; i < 2 * LIMIT; i++) answers.push(await call(servers[i % 3]!, 'GET', '/api/products?limit=1', undefined, auth));
    const accepted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted).toHaveLength(LIMIT);
    expect(refused).toHaveLength(LIMIT);
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // Each process refused some: the count is shared, not per process.
    const refusedBy = [0, 1, 2].map((s) => answers.filter((a, i) => i % 3 === s && a.status === 429).length);
    expect(refusedBy.every((n) => n > 0)).toBe(true);
  }, 60_000);
});
