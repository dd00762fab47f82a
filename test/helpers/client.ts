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

/** The typed client, talking to `app` in-process; `token` is sent as the bearer token. */
export function apiClient(app: FastifyInstance, token?: string): GlassboxClient {
  return createGlassboxClient({ baseUrl: BASE_URL, fetch: injectFetch(app), ...(token ? { token } : {}) });
}
