// The typed client in clients/typescript: its generated half is what the routes declare
// today (regenerated in memory and compared with the committed files, so a route change
// without `npm run client:generate` fails here), the document it comes from passes Redocly's
// recommended rules as /docs/openapi.json serves it, and the client works end to end over a
// real socket: sign up, log in, create a product, order it with an Idempotency-Key, read it back.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGlassboxClient } from '../../clients/typescript/index.ts';
import { generatedClientFiles, ROOT } from '../../clients/typescript/generate.ts';
import { lintOpenApi } from '../../clients/typescript/lint.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

describe('the generated client files', () => {
  it('are what `npm run client:generate` makes of the routes today', async () => {
    const files = await generatedClientFiles();
    expect(Object.keys(files)).toEqual(['clients/typescript/openapi.json', 'clients/typescript/schema.ts']);
    for (const [file, content] of Object.entries(files)) {
      expect(readFileSync(join(ROOT, file), 'utf8'), `${file} is stale: run npm run client:generate`).toBe(content);
    }
  }, 60_000);
});

describe(`the OpenAPI document and the client over HTTP (${backend})`, () => {
  let t: TestApp;
  let baseUrl: string;
  beforeAll(async () => {
    t = await startTestApp();
    baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t?.close());

  it('passes redocly lint with the recommended rules: no error, no warning, nothing ignored', async () => {
    const served = await (await fetch(`${baseUrl}/docs/openapi.json`)).text();
    const file = join(tmpdir(), `glassbox-openapi-${randomUUID()}.json`);
    writeFileSync(file, served);
    const report = lintOpenApi(file);
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
  }, 60_000);

  it('names every operation (operationId), tags and summarises it, and says which take no token', async () => {
    const doc = (await (await fetch(`${baseUrl}/docs/openapi.json`)).json()) as {
      servers: { url: string }[];
      paths: Record<string, Record<string, { operationId?: string; tags?: string[]; summary?: string; security?: unknown[] }>>;
    };
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, ...op })));
    expect(ops.map((o) => o.operationId).sort()).toEqual(
      [
        'createOrder',
        'createProduct',
        'createTenant',
        'createUser',
        'getLiveness',
        'getMe',
        'getOrder',
        'getProduct',
        'getReadiness',
        'getStartup',
        'getUser',
        'listOrders',
        'listProducts',
        'listUsers',
        'login',
        'updateProduct',
      ].sort(),
    );
    for (const op of ops) {
      expect(op.tags?.length, `${op.method} ${op.path}`).toBeGreaterThan(0);
      expect(op.summary, `${op.method} ${op.path}`).toBeTruthy();
      const isPublic = op.path.startsWith('/health/') || op.operationId === 'createTenant' || op.operationId === 'login';
      expect(op.security, `${op.method} ${op.path}`).toEqual(isPublic ? [] : [{ bearerAuth: [] }]);
    }
    expect(doc.servers).toEqual([{ url: `http://127.0.0.1:${t.config.PORT}`, description: 'This instance (HOST and PORT)' }]);
  });

  it('signs up, logs in, creates a product, places an order with an Idempotency-Key and reads it back, typed end to end', async () => {
    const api = createGlassboxClient({ baseUrl });
    const slug = `client-${randomUUID().slice(0, 8)}`;
    const signup = await api.POST('/api/tenants', { body: { name: 'Client Co', slug, email: `owner@${slug}.test`, password: 'client password 123' } });
    expect(signup.response.status).toBe(201);
    const login = await api.POST('/api/auth/login', { body: { tenant: slug, email: `owner@${slug}.test`, password: 'client password 123' } });
    expect(login.response.status).toBe(200);
    api.setToken(login.data!.access_token);

    const product = await api.POST('/api/products', { body: { name: 'Typed widget', price_cents: 1250, stock: 5 } });
    expect(product.response.status).toBe(201);
    const key = randomUUID();
    const order = await api.POST('/api/orders', {
      params: { header: { 'idempotency-key': key } },
      body: { items: [{ product_id: product.data!.id, quantity: 2 }] },
    });
    expect(order.response.status, JSON.stringify(order.error)).toBe(201);
    expect(order.data).toMatchObject({ status: 'paid', total_cents: 2500, items: [{ product_id: product.data!.id, quantity: 2 }] });
    const again = await api.POST('/api/orders', {
      params: { header: { 'idempotency-key': key } },
      body: { items: [{ product_id: product.data!.id, quantity: 2 }] },
    });
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(order.data);

    const read = await api.GET('/api/orders/{id}', { params: { path: { id: order.data!.id } } });
    expect(read.data).toEqual(order.data);

    // An error comes back typed as the contract's error body.
    const missing = await api.GET('/api/products/{id}', { params: { path: { id: randomUUID() } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ error: 'not_found', request_id: expect.any(String) });
  });
});
