// What a real browser (Debian's Chromium, headless) makes of the service, beyond what header
// assertions show: the /docs reference renders the whole document and fetches nothing from a
// third party; a front end on an origin CORS_ORIGINS lists calls the API (preflight included)
// while one on another origin is stopped by the browser before anything is written; and
// Chromium refuses to frame an API answer (frame-ancestors 'none') while /docs still frames.
// Needs Chromium: skipped with a warning without it, failing when GLASSBOX_REQUIRE_CHROMIUM=1 (CI).
import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signup, type Tenant } from '../helpers/api.ts';
import { apiClient } from '../helpers/client.ts';
import { launchChromium, runsWithChromium } from '../helpers/browser.ts';
import { freePort } from '../helpers/child-server.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

/** A stand-in front end: one empty HTML page, reachable as two origins (127.0.0.1 and localhost). */
async function startFrontEnd(port: number, framed: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const frames = req.url === '/frames' ? framed.map((src) => `<iframe src="${src}" width="400" height="300"></iframe>`).join('') : '';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><title>front end</title></head><body>${frames}</body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** Runs fetch in the page, as the front end's own code would; a network or CORS failure comes back as `{ error }`. */
function fetchFromPage(page: Page, url: string, init: { method?: string; headers?: Record<string, string>; body?: string }) {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const res = await fetch(url, init);
        return { status: res.status, requestId: res.headers.get('x-request-id'), body: await res.text() };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { url, init },
  );
}

describe.runIf(runsWithChromium('browser'))(`in a real Chromium (${backend})`, () => {
  let browser: Browser;
  let t: TestApp;
  let api: string;
  let frontEnd: Server;
  let allowed: string;
  let refused: string;
  let owner: Tenant;

  beforeAll(async () => {
    const port = await freePort();
    allowed = `http://127.0.0.1:${port}`;
    refused = `http://localhost:${port}`; // same page, another origin: not in CORS_ORIGINS
    t = await startTestApp({ env: { CORS_ORIGINS: allowed } });
    api = await t.app.listen({ host: '127.0.0.1', port: 0 });
    frontEnd = await startFrontEnd(port, [`${api}/api/me`, `${api}/docs`]);
    owner = await signup(t.app);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (frontEnd ? frontEnd.close(resolve) : resolve(undefined)));
    await t?.close();
  });

  /** Opens the front end as `origin` and POSTs a product from it with the owner's token: a preflighted call. */
  async function createProductFrom(page: Page, origin: string, name: string) {
    await page.goto(`${origin}/`);
    return fetchFromPage(page, `${api}/api/products`, {
      method: 'POST',
      headers: { ...bearer(owner.token), 'content-type': 'application/json' },
      body: JSON.stringify({ name, price_cents: 1250, stock: 3 }),
    });
  }

  async function productNames(): Promise<string[]> {
    const res = await apiClient(t.app).GET('/api/products', { headers: bearer(owner.token) });
    return (res.data?.items ?? []).map((p) => p.name);
  }

  it('renders the /docs reference from the served document, every tag and operation, with no request off this host and no script error', async () => {
    const page = await browser.newPage();
    const offHost: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      const { hostname } = new URL(r.url());
      if (hostname !== '127.0.0.1' && !r.url().startsWith('data:')) offHost.push(r.url());
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // Chromium asks every site for /favicon.ico; the service has none to give.
      if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) errors.push(`console: ${m.text()} (${m.location().url})`);
    });
    try {
      const res = await page.goto(`${api}/docs`, { waitUntil: 'networkidle' });
      expect(res?.status()).toBe(200);
      // The first tag opens by itself; the others open on a click, their operations listed by summary.
      await page.getByText('Liveness: the process is running').first().waitFor({ timeout: 15_000 });
      for (const tag of ['tenants', 'auth', 'users', 'products', 'orders']) {
        await page
          .getByRole('button', { name: `Open Group - ${tag}`, exact: false })
          .first()
          .click();
      }
      await page.getByText('Place an order and charge it (idempotent by Idempotency-Key)').first().waitFor({ timeout: 15_000 });
      await page.getByText('One order with its items and payment').first().waitFor({ timeout: 15_000 });
      expect(await page.getByText('This instance (HOST and PORT)').count()).toBeGreaterThan(0);
      expect(offHost).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('lets a front end on a listed origin call the API: the preflighted POST succeeds and its request id is readable', async () => {
    const page = await browser.newPage();
    try {
      const name = `from ${allowed}`;
      const res = await createProductFrom(page, allowed, name);
      expect(res).toMatchObject({ status: 201 });
      expect(res.requestId).toMatch(/\S+/); // exposed by Access-Control-Expose-Headers
      expect(await productNames()).toContain(name);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('stops a front end on another origin at the preflight: the call fails in the page and nothing is written', async () => {
    const page = await browser.newPage();
    const consoleText: string[] = [];
    page.on('console', (m) => consoleText.push(m.text()));
    try {
      const name = `from ${refused}`;
      const res = await createProductFrom(page, refused, name);
      expect(res).toEqual({ error: expect.stringMatching(/TypeError: Failed to fetch/) });
      expect(consoleText.join('\n')).toMatch(/blocked by CORS policy/);
      expect(await productNames()).not.toContain(name);
    } finally {
      await page.close();
    }
  }, 60_000);

  it("refuses to frame an API answer (frame-ancestors 'none') and still frames /docs", async () => {
    const page = await browser.newPage();
    const consoleText: string[] = [];
    page.on('console', (m) => consoleText.push(m.text()));
    try {
      await page.goto(`${allowed}/frames`, { waitUntil: 'load' });
      const docsFrame = page.frames().find((f) => f.url().startsWith(`${api}/docs`));
      expect(
        docsFrame,
        page
          .frames()
          .map((f) => f.url())
          .join(', '),
      ).toBeDefined();
      // In a 400-pixel frame the reference lays out for a phone, its sidebar closed: the
      // operation is in the rendered page, not necessarily on screen.
      await docsFrame!.getByText('Liveness: the process is running').first().waitFor({ state: 'attached', timeout: 15_000 });
      expect(consoleText.join('\n')).toMatch(new RegExp(`Framing '${api}/' violates .*frame-ancestors 'none'.*blocked`));
      const apiFrame = page.frames().find((f) => f !== page.mainFrame() && !f.url().startsWith(`${api}/docs`));
      expect(apiFrame?.url()).not.toBe(`${api}/api/me`); // Chromium shows its error page instead
    } finally {
      await page.close();
    }
  }, 60_000);
});
