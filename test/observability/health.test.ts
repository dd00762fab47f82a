// Probes in process: readiness reports each dependency and turns 503 when one fails or when
// shutdown began; startup is 503 until main.ts marks the app started.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { Database } from '../../src/platform/db/database.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

describe(`health probes (${backend})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('is ready with every dependency checked', async () => {
    const res = await t.app.inject('/health/ready');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { database: 'ok', redis: process.env.REDIS_URL ? 'ok' : 'disabled' } });
  });

  it('turns readiness to 503 shutting_down once shutdown began, while liveness stays 200', async () => {
    t.state.shuttingDown = true;
    try {
      const res = await t.app.inject('/health/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().status).toBe('shutting_down');
      expect((await t.app.inject('/health/live')).statusCode).toBe(200);
    } finally {
      t.state.shuttingDown = false;
    }
  });

  it('reports 503 startup until the app is marked started', async () => {
    t.state.started = false;
    try {
      expect((await t.app.inject('/health/startup')).statusCode).toBe(503);
    } finally {
      t.state.started = true;
    }
    expect((await t.app.inject('/health/startup')).json()).toEqual({ status: 'started' });
  });

  it('reports a failing database as not_ready with a reason and no connection string', async () => {
    const deadDb = new Database({ url: 'postgres://postgres:hunter2@127.0.0.1:1/x', poolSize: 1 });
    const app = await buildApp({ ...t.deps, services: t.services, db: deadDb });
    try {
      const res = await app.inject('/health/ready');
      expect(res.statusCode).toBe(503);
      const body = res.json();
      expect(body.status).toBe('not_ready');
      expect(body.checks.database).toMatch(/^error: /);
      expect(res.body).not.toContain('hunter2');
    } finally {
      await app.close();
      await deadDb.close();
    }
  });
});
