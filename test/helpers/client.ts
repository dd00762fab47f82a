// The typed client of clients/typescript, as the API tests' way in: every call goes through
// the paths, parameters and bodies the OpenAPI document declares, so a route whose schema
// changes in a way that breaks callers breaks these tests (at `tsc` and at run time). Its
// requests are served by app.inject (no socket), through openapi-fetch's own fetch hook.
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { createGlassboxClient, type GlassboxClient } from '../../clients/typescript/index.ts';

const BASE_URL = 'http://glassbox.test';

/** A fetch that hands each request to app.inject and turns its answer into a Response. */
export function injectFetch(app: FastifyInstance): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const res = await app.inject({
      method: request.method as HTTPMethods,
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(request.headers),
      ...(body ? { payload: body } : {}),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) headers.append(name, v);
    }
    const empty = res.statusCode === 204 || res.statusCode === 304 || request.method === 'HEAD';
    return new Response(empty ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers });
  };
}

/** Each answer's body as sent (the client parses it; a replay must be byte for byte the first answer). */
const rawBodies = new WeakMap<Response, string>();

/** The typed client, talking to `app` in-process; `token` is sent as the bearer token. */
export function apiClient(app: FastifyInstance, token?: string): GlassboxClient {
  const client = createGlassboxClient({ baseUrl: BASE_URL, fetch: injectFetch(app), ...(token ? { token } : {}) });
  client.use({
    async onResponse({ response }) {
      rawBodies.set(response, await response.clone().text());
      return undefined;
    },
  });
  return client;
}

/** A client call's answer in the shape the API tests assert on (status, headers, raw body, parsed body). */
export interface ApiResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- what a test reads of a JSON body, as light-my-request's json()
  json(): any;
}

/** Awaits a client call (`api.POST(...)`) and gives its answer as an ApiResult. */
export async function result(call: Promise<{ response: Response }>): Promise<ApiResult> {
  const { response } = await call;
  const body = rawBodies.get(response) ?? '';
  return {
    statusCode: response.status,
    headers: Object.fromEntries(response.headers),
    body,
    json: () => JSON.parse(body),
  };
}
