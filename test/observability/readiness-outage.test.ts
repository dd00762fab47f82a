// Readiness under real outages (issue 13, point 8): a second app on the real backend whose
// database (or Redis) connection goes through a loopback TCP proxy the test controls.
// - cut the proxy (listener closed, every socket reset): 503 within 2 s naming the failing
//   check; restore it: 200 within 5 s. The same for Redis when REDIS_URL is set.
// - hang the proxy (connections accepted, never answered) and fire 100 concurrent probes:
//   exactly one check ran (one ping, one connection), every probe answered 503 with the
//   timeout reason within about HEALTH_CHECK_TIMEOUT_MS; liveness and shutting_down answer
//   at once meanwhile.
// The app keeps the configuration defaults: HEALTH_CHECK_TIMEOUT_MS 1000, HEALTH_CACHE_MS 1000.
// Checks are matched, not listed: other parts of the layer add their own (overload's `pressure`).
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type AppDeps } from '../../src/app.ts';
import type { LifecycleState } from '../../src/observability/health/health.routes.ts';
import { RedisCache } from '../../src/platform/cache/redis-cache.ts';
import { Database } from '../../src/platform/db/database.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

const REDIS_URL = process.env.REDIS_URL;

/**
 * Polls /health/ready until it answers `status`; the answer and how long it took. Throws when
 * that answer arrives past `withinMs` (a probe can itself take up to the check timeout, so the
 * deadline is checked on arrival, not only between polls).
 */
async function readinessBecomes(app: FastifyInstance, status: number, withinMs: number): Promise<{ res: LightMyRequestResponse; ms: number }> {
  const started = performance.now();
  for (;;) {
    const res = await app.inject('/health/ready');
    const ms = performance.now() - started;
    if (ms > withinMs) throw new Error(`/health/ready did not answer ${status} within ${withinMs} ms; at ${Math.round(ms)} ms: ${res.statusCode} ${res.body}`);
    if (res.statusCode === status) return { res, ms };
    await sleep(20);
  }
}

describe(`readiness under real outages (${backend})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    // Load shedding off (its `pressure` check would join the round): the embedded PGlite can
    // block the loop for over a second while it starts. The health settings keep their defaults.
    t = await startTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: '0' } });
  });
  afterAll(async () => t?.close());

  /** The real database's address: DATABASE_URL, or the embedded PGlite socket. */
  const databaseUrl = () => process.env.DATABASE_URL ?? t.deps.embedded!.url;
  const appWith = (overrides: Partial<AppDeps>) => buildApp({ ...t.deps, services: t.services, ...overrides });

  it('uses the configuration defaults', () => {
    expect(t.config.HEALTH_CHECK_TIMEOUT_MS).toBe(1000);
    expect(t.config.HEALTH_CACHE_MS).toBe(1000);
  });

  it('database: 503 within 2 s of becoming unreachable, with the database reason; 200 within 5 s of coming back', async () => {
    const proxy = await startTcpProxy(databaseUrl());
    const db = new Database({ url: proxy.rewrite(databaseUrl()), poolSize: 1 });
    const app = await appWith({ db });
    try {
      await readinessBecomes(app, 200, 5000);
      expect(proxy.accepted).toBeGreaterThan(0);

      await proxy.cut();
      const down = await readinessBecomes(app, 503, 2000);
      const body = down.res.json();
      expect(body.status).toBe('not_ready');
      expect(body.checks.database).toMatch(/^error: \S/);
      expect(body.checks.redis).toBe(REDIS_URL ? 'ok' : 'disabled');
      expect(down.res.body).not.toContain('postgres://');

      await proxy.restore();
      const up = await readinessBecomes(app, 200, 5000);
      expect(up.res.json()).toMatchObject({ status: 'ready', checks: { database: 'ok', redis: REDIS_URL ? 'ok' : 'disabled' } });
    } finally {
      await app.close();
      await proxy.close();
      await db.close();
    }
  });

  it.skipIf(!REDIS_URL)(
    `redis${REDIS_URL ? '' : ' (skipped: set REDIS_URL to run it)'}: 503 within 2 s of becoming unreachable, with the redis reason; 200 within 5 s of coming back`,
    async () => {
      const proxy = await startTcpProxy(REDIS_URL!);
      const cache = new RedisCache(proxy.rewrite(REDIS_URL!));
      await cache.connect();
      const app = await appWith({ cache });
      try {
        await readinessBecomes(app, 200, 5000);

        await proxy.cut();
        const down = await readinessBecomes(app, 503, 2000);
        const body = down.res.json();
        expect(body.status).toBe('not_ready');
        expect(body.checks).toMatchObject({ database: 'ok', redis: expect.stringMatching(/^error: \S/) });
        expect(down.res.body).not.toContain('redis://');

        await proxy.restore();
        const up = await readinessBecomes(app, 200, 5000);
        expect(up.res.json()).toMatchObject({ status: 'ready', checks: { database: 'ok', redis: 'ok' } });
      } finally {
        await app.close();
        await proxy.close();
        await cache.close();
      }
    },
  );

  it('a hung database: 100 concurrent probes run one check, all answer 503 with the timeout; liveness and shutting_down answer meanwhile', async () => {
    const proxy = await startTcpProxy(databaseUrl());
    await proxy.hang();
    // A pool with room for 10 connections: were each probe to check, the proxy would see many.
    const db = new Database({ url: proxy.rewrite(databaseUrl()), poolSize: 10 });
    let pings = 0;
    const realPing = db.ping.bind(db);
    db.ping = () => {
      pings++;
      return realPing();
    };
    const state: LifecycleState = { started: true, shuttingDown: false };
    const app = await appWith({ db, state });
    try {
      const started = performance.now();
      let answered = 0;
      const probes = Array.from({ length: 100 }, () =>
        app.inject('/health/ready').then((res) => {
          answered++;
          return { res, ms: performance.now() - started };
        }),
      );

      // While the round hangs, liveness answers: it waits on nothing the round holds.
      const live = await app.inject('/health/live');
      expect(live.statusCode).toBe(200);
      expect(answered).toBe(0);
      expect(pings).toBe(1);

      const answers = await Promise.all(probes);
      expect(pings).toBe(1);
      expect(proxy.accepted).toBe(1);
      for (const { res } of answers) {
        expect(res.statusCode).toBe(503);
        expect(res.json()).toMatchObject({ status: 'not_ready', checks: { database: 'error: timeout after 1000 ms', redis: REDIS_URL ? 'ok' : 'disabled' } });
      }
      const slowest = Math.max(...answers.map((a) => a.ms));
      // The timeout, not the pool's 10 s connection timeout, bounds the probe (generous slack for a busy CI box).
      expect(slowest).toBeGreaterThanOrEqual(990);
      expect(slowest).toBeLessThan(4000);

      // Cached for HEALTH_CACHE_MS, then one new round: still one check per round.
      expect((await app.inject('/health/ready')).statusCode).toBe(503);
      expect(pings).toBe(1);
      await sleep(1050);
      let hangingDone = false;
      const hanging = app.inject('/health/ready').finally(() => (hangingDone = true));
      await sleep(50);
      expect(pings).toBe(2);

      // Shutdown while that round hangs: 503 shutting_down without waiting on it, with the last round's checks; no new check.
      state.shuttingDown = true;
      const stopping = await app.inject('/health/ready');
      expect(hangingDone).toBe(false);
      expect(stopping.statusCode).toBe(503);
      expect(stopping.json()).toMatchObject({
        status: 'shutting_down',
        checks: { database: 'error: timeout after 1000 ms', redis: REDIS_URL ? 'ok' : 'disabled' },
      });
      expect(pings).toBe(2);
      expect((await hanging).json().status).toBe('shutting_down');
    } finally {
      await app.close();
      await proxy.close();
      await db.close();
    }
  });
});
