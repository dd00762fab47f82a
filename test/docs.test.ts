// The API reference: GET /docs serves the interactive reference, GET /docs/openapi.json the
// OpenAPI 3 description, which lists every /api route of the CONTRACT with its schemas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, startTestApp, type TestApp } from './helpers/test-app.ts';

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
  responses?: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
  parameters?: { in: string; name: string; required?: boolean; schema?: Record<string, unknown> }[];
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }>; schemas?: Record<string, unknown> };
}

/** The CONTRACT's /api routes, and whether each needs a bearer token. */
const CONTRACT_ROUTES: { method: string; path: string; auth: boolean }[] = [
  { method: 'post', path: '/api/tenants', auth: false },
  { method: 'post', path: '/api/auth/login', auth: false },
  { method: 'get', path: '/api/me', auth: true },
  { method: 'post', path: '/api/users', auth: true },
  { method: 'get', path: '/api/users', auth: true },
  { method: 'get', path: '/api/users/{id}', auth: true },
  { method: 'post', path: '/api/products', auth: true },
  { method: 'get', path: '/api/products', auth: true },
  { method: 'get', path: '/api/products/{id}', auth: true },
  { method: 'patch', path: '/api/products/{id}', auth: true },
  { method: 'post', path: '/api/orders', auth: true },
  { method: 'get', path: '/api/orders', auth: true },
  { method: 'get', path: '/api/orders/{id}', auth: true },
];

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

describe(`API docs (${backend})`, () => {
  let t: TestApp;
  let doc: OpenApi;
  let apiOps: { method: string; path: string; op: Operation }[];

  /** Follows a $ref into components (the error body is shared that way). */
  const resolve = (schema: Record<string, unknown> | undefined): Record<string, unknown> | undefined => {
    const ref = schema?.$ref;
    if (typeof ref !== 'string') return schema;
    const name = ref.replace(/^#\/components\/schemas\//, '');
    return resolve(doc.components?.schemas?.[name] as Record<string, unknown> | undefined);
  };

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.app.inject({ url: '/docs/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.json();
    apiOps = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([m]) => HTTP_METHODS.has(m))
          .map(([method, op]) => ({ method, path, op })),
      );
  });
  afterAll(async () => t?.close());

  it('GET /docs answers with the interactive HTML reference', async () => {
    // /docs sends the browser to /docs/ (so the page's relative links resolve), which is HTML.
    let res = await t.app.inject({ url: '/docs' });
    if (res.statusCode >= 300 && res.statusCode < 400) {
      expect(res.headers.location).toBe('/docs/');
      res = await t.app.inject({ url: res.headers.location });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html/i);
    expect(res.headers['x-request-id']).toBeTruthy();
    // The page's script and spec resolve, relative to /docs/, to routes that answer.
    const base = 'http://localhost/docs/';
    const script = /<script[^>]+src="([^"]+)"/i.exec(res.body)?.[1];
    expect(script, 'a script tag with src').toBeTruthy();
    const js = await t.app.inject({ url: new URL(script!, base).pathname });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(res.body).toContain('openapi.json');
    expect(new URL('./openapi.json', base).pathname).toBe('/docs/openapi.json');
  });

  it('GET /docs/openapi.json is an OpenAPI 3.x document', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    // Every $ref points at something that exists.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components?.schemas?.[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    }
  });

  it('lists every /api route of the CONTRACT, and only routes the app serves', async () => {
    const listed = apiOps.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();
    const contract = CONTRACT_ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    expect(listed).toEqual(expect.arrayContaining(contract));
    // Nothing documented is missing from the app: each listed route is routed (not a 404 "route not found").
    for (const { method, path } of apiOps) {
      const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await t.app.inject({ method: method.toUpperCase() as 'GET', url });
      const body = res.json();
      expect(body.message ?? '', `${method} ${path} is routed`).not.toMatch(/^Route .* not found$/);
    }
    // The probes are documented too.
    for (const probe of ['/health/live', '/health/ready', '/health/startup']) expect(doc.paths[probe]?.get, probe).toBeDefined();
  });

  it('every /api operation has a 2xx response schema, and error responses use the error body', () => {
    for (const { method, path, op } of apiOps) {
      const name = `${method.toUpperCase()} ${path}`;
      const success = Object.entries(op.responses ?? {}).filter(([code]) => /^2\d\d$/.test(code));
      expect(success.length, `${name}: a 2xx response`).toBeGreaterThan(0);
      for (const [code, response] of success) {
        const schema = resolve(response.content?.['application/json']?.schema);
        expect(schema, `${name} ${code}: a JSON schema`).toBeDefined();
        expect(schema?.type, `${name} ${code}`).toBe('object');
        expect(Object.keys((schema?.properties as object | undefined) ?? {}).length, `${name} ${code}: properties`).toBeGreaterThan(0);
      }
      const failures = Object.entries(op.responses ?? {}).filter(([code]) => /^[45]\d\d$/.test(code));
      expect(failures.length, `${name}: error responses`).toBeGreaterThan(0);
      for (const [code, response] of failures) {
        const schema = resolve(response.content?.['application/json']?.schema);
        expect(schema?.required, `${name} ${code}: the error body`).toEqual(expect.arrayContaining(['error', 'message', 'request_id']));
      }
    }
  });

  it('every POST and PATCH declares a required JSON requestBody schema', () => {
    const writes = apiOps.filter((o) => o.method === 'post' || o.method === 'patch');
    expect(writes.length).toBeGreaterThanOrEqual(CONTRACT_ROUTES.filter((r) => r.method !== 'get').length);
    for (const { method, path, op } of writes) {
      const name = `${method.toUpperCase()} ${path}`;
      expect(op.requestBody?.required, name).toBe(true);
      const schema = resolve(op.requestBody?.content?.['application/json']?.schema);
      expect(schema?.type, name).toBe('object');
      expect(Object.keys((schema?.properties as object | undefined) ?? {}).length, name).toBeGreaterThan(0);
      // Unknown fields are refused, so the description says so.
      expect(schema?.additionalProperties, name).toBe(false);
    }
  });

  it('path and query parameters are described', () => {
    for (const { method, path, op } of apiOps) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const name of names) {
        const param = op.parameters?.find((p) => p.in === 'path' && p.name === name);
        expect(param, `${method} ${path}: path parameter ${name}`).toMatchObject({ required: true, schema: { type: 'string', format: 'uuid' } });
      }
    }
    for (const list of ['/api/users', '/api/products', '/api/orders']) {
      const limit = doc.paths[list]?.get?.parameters?.find((p) => p.in === 'query' && p.name === 'limit');
      expect(limit?.schema, `${list} ?limit`).toMatchObject({ type: 'integer', maximum: 100 });
    }
    const key = doc.paths['/api/orders']?.post?.parameters?.find((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
    expect(key, 'POST /api/orders Idempotency-Key header').toMatchObject({ required: true });
  });

  it('authenticated operations declare bearer security; public ones do not', () => {
    for (const route of CONTRACT_ROUTES) {
      const op = doc.paths[route.path]?.[route.method];
      const name = `${route.method.toUpperCase()} ${route.path}`;
      if (route.auth) {
        expect(op?.security, name).toEqual(expect.arrayContaining([expect.objectContaining({ bearerAuth: expect.any(Array) })]));
        expect(Object.keys(op?.responses ?? {}), `${name} documents its 401`).toContain('401');
      } else {
        expect(op?.security ?? [], name).toEqual([]);
      }
    }
  });

  it('the routes that declare bearer security really refuse a caller without a token', async () => {
    const secured = apiOps.filter((o) => o.op.security?.length);
    expect(secured.length).toBeGreaterThanOrEqual(CONTRACT_ROUTES.filter((r) => r.auth).length);
    for (const { method, path } of secured) {
      const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await t.app.inject({ method: method.toUpperCase() as 'GET', url });
      expect(res.statusCode, `${method} ${path}`).toBe(401);
    }
  });
});
