// Profiles of the live process, taken through /admin/* while real HTTP load runs against the
// app on a loopback port: the .cpuprofile parses and holds the product route's own frames;
// the pprof gunzips and decodes with pprof-format, its samples labelled with the route
// template and (all requests being sampled here) trace ids; `route=` keeps only that
// route's samples; the heap profile, in both formats, and the streamed heap snapshot parse;
// a profile's deliberate seconds are no slow_request.
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createProduct, signup } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { startTestTracing } from '../helpers/tracing.ts';

startTestTracing({ OTEL_TRACES_SAMPLER: 'always_on' });

const ADMIN_TOKEN = 'profiling-test-admin-token';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Label values of every sample, by key. */
function labelsOf(profile: Profile): Record<string, string>[] {
  const strings = profile.stringTable.strings;
  return profile.sample.map((s) => Object.fromEntries(s.label.map((l) => [strings[Number(l.key)]!, strings[Number(l.str)]!])));
}

/** The source files of the functions a pprof profile's samples ran. */
const filesOf = (profile: Profile) => new Set(profile.function.map((f) => profile.stringTable.strings[Number(f.filename)]!));

describe(`profiles of the live process under load (${backend})`, () => {
  let t: TestApp;
  let base: string;
  let productUrl: string;
  let headers: Record<string, string>;
  const traceIds = new Set<string>();

  beforeAll(async () => {
    t = await startTestApp({ env: { ADMIN_TOKEN }, tracing: true });
    const owner = await signup(t.app);
    const product = await createProduct(t.app, owner.token);
    headers = bearer(owner.token);
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    productUrl = `${base}/api/products/${product.id}`;
  });
  afterAll(async () => t?.close());

  /** Runs `work` while 8 loops send GET /api/products/:id over HTTP, until it ends (bounded). */
  async function underLoad<T>(work: () => Promise<T>): Promise<T> {
    let done = false;
    const deadline = Date.now() + 20_000;
    const loop = async () => {
      while (!done && Date.now() < deadline) {
        const res = await fetch(productUrl, { headers });
        await res.arrayBuffer();
        const traceId = res.headers.get('traceresponse')?.split('-')[1];
        if (traceId) traceIds.add(traceId);
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    try {
      return await work();
    } finally {
      done = true;
      await Promise.all(loops);
    }
  }

  const post = (path: string) => fetch(`${base}${path}`, { method: 'POST', headers: admin });

  it('takes a .cpuprofile that parses and holds the route handler frames', { timeout: 30_000 }, async () => {
    const res = await underLoad(() => post('/admin/profile/cpu?seconds=2'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="cpu-.*\.cpuprofile"/);
    const profile = (await res.json()) as { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
    expect(profile.samples.length).toBeGreaterThan(100);
    expect(profile.timeDeltas).toHaveLength(profile.samples.length);
    // Two seconds of wall time, as asked.
    expect((profile.endTime - profile.startTime) / 1e6).toBeGreaterThanOrEqual(1.9);
    const urls = new Set(profile.nodes.map((n) => n.callFrame.url));
    expect([...urls].some((u) => u.endsWith('/src/modules/products/products.service.ts') || u.endsWith('/src/modules/products/products.routes.ts'))).toBe(true);
    // Sampled: some product-module frame was on the CPU when V8 looked.
    const sampled = new Set(profile.samples);
    const productNodes = profile.nodes.filter((n) => n.callFrame.url.includes('/src/modules/'));
    expect(productNodes.some((n) => sampled.has(n.id))).toBe(true);
  });

  it('takes a pprof profile whose samples carry the route template and the trace id', { timeout: 30_000 }, async () => {
    traceIds.clear();
    const res = await underLoad(() => post('/admin/profile/cpu?seconds=2&format=pprof'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/\.pb\.gz"$/);
    const profile = Profile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
    const strings = profile.stringTable.strings;
    expect(profile.sampleType.map((t) => strings[Number(t.type)])).toContain('wall');
    expect(profile.sample.length).toBeGreaterThan(100);
    expect([...filesOf(profile)].some((f) => f.includes('/src/modules/products/'))).toBe(true);
    const labels = labelsOf(profile);
    const routed = labels.filter((l) => l.route === '/api/products/:id');
    expect(routed.length).toBeGreaterThan(20);
    // Every request is sampled here: the labelled samples carry the trace ids the clients saw.
    const labelledTraces = routed.map((l) => l.trace_id).filter(Boolean);
    expect(labelledTraces.length).toBeGreaterThan(0);
    for (const traceId of labelledTraces) expect(traceIds.has(traceId!)).toBe(true);
  });

  it('narrows a pprof profile to one route with route=', { timeout: 30_000 }, async () => {
    const res = await underLoad(() => post(`/admin/profile/cpu?seconds=2&format=pprof&route=${encodeURIComponent('/api/products/:id')}`));
    expect(res.status).toBe(200);
    const profile = Profile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
    const labels = labelsOf(profile);
    expect(labels.length).toBeGreaterThan(0);
    expect(labels.filter((l) => l.route !== '/api/products/:id')).toEqual([]);

    // A route nobody called: nothing left.
    const none = await underLoad(() => post(`/admin/profile/cpu?seconds=1&format=pprof&route=${encodeURIComponent('/api/orders')}`));
    expect(Profile.decode(gunzipSync(Buffer.from(await none.arrayBuffer()))).sample).toEqual([]);
  });

  it('takes a sampling heap profile in both formats', { timeout: 30_000 }, async () => {
    const json = await underLoad(() => post('/admin/profile/heap?seconds=1'));
    expect(json.status).toBe(200);
    expect(json.headers.get('content-disposition')).toMatch(/\.heapprofile"$/);
    const heap = (await json.json()) as { head: { callFrame: { functionName: string }; children: unknown[] }; samples: unknown[] };
    expect(heap.head.callFrame.functionName).toBe('(root)');
    expect(Array.isArray(heap.samples)).toBe(true);

    const pprof = await underLoad(() => post('/admin/profile/heap?seconds=1&format=pprof'));
    expect(pprof.status).toBe(200);
    const profile = Profile.decode(gunzipSync(Buffer.from(await pprof.arrayBuffer())));
    expect(profile.sampleType.map((t) => profile.stringTable.strings[Number(t.type)])).toEqual(['inuse_objects', 'inuse_space']);
  });

  it('streams a heap snapshot that parses', { timeout: 60_000 }, async () => {
    const res = await post('/admin/heap-snapshot');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/\.heapsnapshot"$/);
    const snapshot = (await res.json()) as { snapshot: { meta: { node_fields: string[] }; node_count: number }; nodes: number[]; strings: string[] };
    expect(snapshot.snapshot.meta.node_fields).toContain('self_size');
    expect(snapshot.snapshot.node_count).toBeGreaterThan(1000);
    expect(snapshot.nodes.length).toBe(snapshot.snapshot.node_count * snapshot.snapshot.meta.node_fields.length);
    // The app's own objects are in it.
    expect(snapshot.strings).toContain('Database');
  });

  it('logs each profile taken, with what and how long, and no slow_request for it', async () => {
    const taken = t.logs.find('admin_profile_taken').map((l) => l.profile);
    expect(taken).toEqual(expect.arrayContaining(['cpu cpuprofile', 'cpu pprof', 'heap heapprofile', 'heap pprof', 'heap snapshot']));
    // A 2 s profile is slow by design: past SLOW_REQUEST_MS (1 s here), yet no slow_request.
    expect(t.logs.find('request_completed').filter((l) => String(l.path).startsWith('/admin/') && Number(l.duration_ms) > 1000).length).toBeGreaterThan(0);
    expect(t.logs.find('slow_request').filter((l) => String(l.route).startsWith('/admin/'))).toEqual([]);
  });
});
