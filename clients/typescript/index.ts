// The typed Glassbox client: openapi-fetch over the types generated from the OpenAPI
// document (schema.ts, by `npm run client:generate`). Paths, parameters, bodies and answers
// are checked by the compiler: a route whose schema changes breaks its callers' build.
//
//   const api = createGlassboxClient({ baseUrl: 'http://127.0.0.1:3000' });
//   const { data } = await api.POST('/api/auth/login', { body: { tenant, email, password } });
//   api.setToken(data!.access_token);
//   const { data: order } = await api.POST('/api/orders', { params: { header: { 'idempotency-key': key } }, body: { items } });
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.ts';

export type { components, operations, paths } from './schema.ts';

/** The API's named schemas (`Schemas['Order']`, …). */
export type Schemas = components['schemas'];

export interface GlassboxClient extends Client<paths> {
  /** Sends `Authorization: Bearer <token>` from now on (undefined: no header). */
  setToken(token: string | undefined): void;
}

export interface GlassboxClientOptions extends ClientOptions {
  /** The bearer token to start with (see setToken). */
  token?: string;
}

export function createGlassboxClient(options: GlassboxClientOptions = {}): GlassboxClient {
  const { token: initial, ...clientOptions } = options;
  let token = initial;
  const client = createClient<paths>(clientOptions);
  client.use({
    onRequest({ request }) {
      if (token !== undefined && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
  });
  return Object.assign(client, {
    setToken(next: string | undefined) {
      token = next;
    },
  });
}
