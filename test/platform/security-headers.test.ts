// The headers callers and their scanners expect (OWASP REST Security Cheat Sheet) on every
// /api answer, and CORS only for the origins CORS_ORIGINS lists, tried over a real socket as
// a browser would: a preflight from an allowed origin and one from a refused origin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { signup } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

const ALLOWED = 'https://app.example.com';

async function serve(env: Record<string, string>) {
  const t = await startTestApp({ env });
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { t, url };
}

describe(`security headers (${backend})`, () => {
  let t: TestApp;
  let url: string;
  let token: string;
  beforeAll(async () => {
    ({ t, url } = await serve({}));
    token = (await signup(t.app)).token;
  });
  afterAll(async () => t?.close());

  it.each([
    ['an authenticated read', '/api/me', true],
    ['an error (401 without a token)', '/api/me', false],
    ['an unknown /api route (404)', '/api/nothing-here', false],
  ])('puts no-store, nosniff and frame-ancestors on %s', async (_what, path, authenticated) => {
    const res = await fetch(`${url}${path}`, authenticated ? { headers: { authorization: `Bearer ${token}` } } : {});
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    // Not production: no HSTS over plain HTTP on a developer's machine.
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('leaves /docs working for a browser: the reference page and its document carry no frame-ancestors policy from the API', async () => {
    const page = await fetch(`${url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toBeNull();
    expect((await fetch(`${url}/docs/openapi.json`)).status).toBe(200);
  });

  it('sends no CORS headers when CORS_ORIGINS is unset, even to a browser on another origin', async () => {
    const res = await fetch(`${url}/api/me`, { headers: { origin: ALLOWED, authorization: `Bearer ${token}` } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe(`security headers in production, and CORS (${backend})`, () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    ({ t, url } = await serve({ CORS_ORIGINS: `${ALLOWED}, https://admin.example.com` }));
  });
  afterAll(async () => t?.close());

  it('answers a preflight from an allowed origin with that origin, the methods and headers an API call needs, and no credentials', async () => {
    const res = await fetch(`${url}/api/orders`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')?.toLowerCase()).toContain('origin');
  });

  it('refuses a preflight from an origin not listed: no allow-origin, so the browser blocks the call', async () => {
    const res = await fetch(`${url}/api/orders`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets the allowed origin read the answer and its request id on a real call', async () => {
    const res = await fetch(`${url}/api/me`, { headers: { origin: ALLOWED } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('x-request-id');
  });
});

describe(`HSTS with APP_ENV=production (${backend})`, () => {
  // Production refuses the embedded database: this part runs where a real one is configured (CI's second run).
  it.skipIf(!process.env.DATABASE_URL)('is sent on /api answers when the service runs in production', async () => {
    const { t, url } = await serve({ APP_ENV: 'production' });
    try {
      const res = await fetch(`${url}/api/me`);
      expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect((await fetch(`${url}/health/live`)).headers.get('strict-transport-security')).toBeNull();
    } finally {
      await t.close();
    }
  });
});

describe('CORS_ORIGINS', () => {
  it('takes http(s) origins separated by commas, or *, and refuses anything else with a clear error', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com,http://localhost:5173' }).CORS_ORIGINS).toBe('https://a.example.com,http://localhost:5173');
    expect(loadConfig({ CORS_ORIGINS: '*' }).CORS_ORIGINS).toBe('*');
    for (const bad of ['a.example.com', 'https://a.example.com/path', 'ftp://x', 'https://a.example.com,*']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS must be browser origins/);
    }
  });
});
