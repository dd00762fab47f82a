// Small API clients for tests: sign up a tenant, log in, create things, with unique names
// so files can share one real database. Every call goes through the typed client generated
// from the OpenAPI document (helpers/client.ts), so the tests call the API as its callers do.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { paths } from '../../clients/typescript/schema.ts';
import { apiClient, result, type ApiResult } from './client.ts';

type Body<P extends keyof paths, M extends 'post' | 'patch'> = paths[P][M] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

export interface Tenant {
  tenantId: string;
  userId: string;
  slug: string;
  email: string;
  password: string;
  token: string;
}

export const unique = (prefix = 't') => `${prefix}-${randomUUID().slice(0, 8)}`;

export function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

export async function signup(app: FastifyInstance, overrides: Record<string, unknown> = {}): Promise<Tenant> {
  const slug = unique('acme');
  const body = { name: 'Acme Inc', slug, email: `owner@${slug}.test`, password: 'correct horse battery', ...overrides } as Body<'/api/tenants', 'post'>;
  const res = await result(apiClient(app).POST('/api/tenants', { body }));
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
  const json = res.json();
  return {
    tenantId: json.tenant.id,
    userId: json.user.id,
    slug: body.slug as string,
    email: String(body.email).toLowerCase(),
    password: body.password as string,
    token: json.access_token,
  };
}

export async function login(app: FastifyInstance, tenant: string, email: string, password: string): Promise<ApiResult> {
  return result(apiClient(app).POST('/api/auth/login', { body: { tenant, email, password } }));
}

export async function createUser(app: FastifyInstance, owner: Tenant, role: 'admin' | 'member'): Promise<{ id: string; email: string; token: string }> {
  const email = `${unique(role)}@${owner.slug}.test`;
  const res = await result(apiClient(app, owner.token).POST('/api/users', { body: { email, password: 'member password', role } }));
  if (res.statusCode !== 201) throw new Error(`create user failed: ${res.statusCode} ${res.body}`);
  const token = (await login(app, owner.slug, email, 'member password')).json().access_token as string;
  return { id: res.json().id, email, token };
}

export async function createProduct(
  app: FastifyInstance,
  token: string,
  overrides: Record<string, unknown> = {},
): Promise<{ id: string; price_cents: number; stock: number }> {
  const body = { name: 'Widget', price_cents: 1999, stock: 10, ...overrides } as Body<'/api/products', 'post'>;
  const res = await result(apiClient(app, token).POST('/api/products', { body }));
  if (res.statusCode !== 201) throw new Error(`create product failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function placeOrder(
  app: FastifyInstance,
  token: string,
  items: { product_id: string; quantity: number }[],
  options: { key?: string; payment_method?: string } = {},
) {
  return result(
    apiClient(app, token).POST('/api/orders', {
      params: { header: { 'idempotency-key': options.key ?? randomUUID() } },
      body: { items, ...(options.payment_method ? { payment_method: options.payment_method } : {}) } as Body<'/api/orders', 'post'>,
    }),
  );
}
