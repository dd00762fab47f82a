// A crash between reserve and settle, for real: the server (a child process started with
// `npm start`'s arguments) reserves an order and is SIGKILLed while the payment provider is
// still answering; a new process on the same database starts, and its sweeper settles the
// order exactly once: paid, one `order_reconciled`, one confirmation, the key's retry
// answering the settled order, and nothing more after several further sweeps.
// On a shared Postgres (DATABASE_URL) the processes use a database of this file's own, so no
// other file's sweeper settles the order first.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { callServer, startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { backend, createOwnDatabase, TEST_JWT_SECRET } from '../helpers/test-app.ts';

const call = callServer;

describe(`an order whose process dies between reserve and settle (${backend})`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'glassbox-sweeper-'));
  const started: ChildServer[] = [];
  let dropDatabase: (() => Promise<void>) | undefined;

  afterAll(async () => {
    for (const s of started) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    }
    await dropDatabase?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is settled exactly once by the sweeper of the next process', { timeout: 150_000 }, async () => {
    let databaseUrl: string | undefined;
    if (process.env.DATABASE_URL) {
      const own = await createOwnDatabase(process.env.DATABASE_URL);
      databaseUrl = own.url;
      dropDatabase = own.drop;
    }
    const env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.REDIS_URL,
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      OTEL_TRACES_EXPORTER: 'none',
      ORDER_RECONCILE_AFTER_SECONDS: '2',
    };

    // The first process: the provider takes a minute to answer, so the order is reserved and
    // its charge still in flight when the process is killed.
    const first = await startChildServer({ ...env, PAYMENT_SIMULATOR_LATENCY_MS: '60000' });
    started.push(first);
    await first.waitForLine('application_started', 60_000);
    const slug = `sweep-${randomUUID().slice(0, 8)}`;
    const signed = await call(first, 'POST', '/api/tenants', { name: 'Sweep', slug, email: `o@${slug}.test`, password: 'correct horse battery staple' });
    expect(signed.status).toBe(201);
    const auth = { authorization: `Bearer ${String(signed.json.access_token)}` };
    const product = await call(first, 'POST', '/api/products', { name: 'Widget', price_cents: 700, stock: 5 }, auth);
    expect(product.status).toBe(201);
    const key = randomUUID();
    const body = { items: [{ product_id: product.json.id, quantity: 2 }] };
    const inFlight = call(first, 'POST', '/api/orders', body, { ...auth, 'idempotency-key': key }).catch((error: Error) => error);
    const created = await first.waitForLine('order_created', 30_000);
    const orderId = String(created.order_id);
    first.child.kill('SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(await inFlight).toBeInstanceOf(Error); // the caller saw the connection die

    // The next process, with a provider that answers at once.
    const second = await startChildServer(env);
    started.push(second);
    await second.waitForLine('application_started', 60_000);
    // Killed before its settlement: the first process never logged one.
    expect(first.lines().filter((l) => l.order_id === orderId && (l.message === 'order_paid' || l.message === 'payment_failed'))).toEqual([]);

    const deadline = Date.now() + 60_000;
    let order = await call(second, 'GET', `/api/orders/${orderId}`, undefined, auth);
    while (order.json.status === 'pending' && Date.now() < deadline) {
      await sleep(250);
      order = await call(second, 'GET', `/api/orders/${orderId}`, undefined, auth);
    }
    expect(order.json).toMatchObject({ id: orderId, status: 'paid', payment: { status: 'captured' } });

    // Exactly once, also after several more sweeps (one every second here).
    await second.waitForLine('order_confirmation_sent', 30_000);
    await sleep(4_000);
    const linesAbout = (message: string) => second.lines().filter((l) => l.message === message && l.order_id === orderId);
    expect(linesAbout('order_reconciled')).toHaveLength(1);
    expect(linesAbout('order_paid')).toHaveLength(1);
    expect(linesAbout('order_confirmation_sent')).toHaveLength(1);

    // The caller's retry with the same key gets the settled order.
    const retry = await call(second, 'POST', '/api/orders', body, { ...auth, 'idempotency-key': key });
    expect(retry.status).toBe(201);
    expect(retry.json).toMatchObject({ id: orderId, status: 'paid' });
    const stock = await call(second, 'GET', `/api/products/${String(product.json.id)}`, undefined, auth);
    expect(stock.json.stock).toBe(3);
  });
});
