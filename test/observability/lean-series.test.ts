// The hand-kept series behind the hottest metrics, unit by unit (metrics.test.ts checks the
// same series through the app's requests):
// - Buckets / LabeledHistogram (lean-histogram.ts): an observation equal to a bound lands in
//   that bucket (`le` is ≤), above the last in +Inf; counts cumulative, _sum and _count;
//   the latest sampled observation of each bucket is its exemplar, an unsampled one never;
// - TwoLabelCounter (lean-counter.ts): one series per label pair, pairs kept apart whatever
//   their values contain;
// - RequestStats (request-stats.ts): a count per status, one latency histogram per method
//   and route template, whatever the statuses.
import { Registry, type OpenMetricsContentType } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { renderExposition } from '../../src/observability/metrics/exposition.ts';
import { TwoLabelCounter } from '../../src/observability/metrics/lean-counter.ts';
import { Buckets, LabeledHistogram, type Sample } from '../../src/observability/metrics/lean-histogram.ts';
import { RequestStats } from '../../src/observability/metrics/request-stats.ts';
import { parseExposition } from '../helpers/metrics.ts';

function newRegistry(): Registry<OpenMetricsContentType> {
  return new (Registry as unknown as new (contentType: OpenMetricsContentType) => Registry<OpenMetricsContentType>)(Registry.OPENMETRICS_CONTENT_TYPE);
}
const scrape = async (registry: Registry<OpenMetricsContentType>) => parseExposition(await renderExposition(registry, 'openmetrics'));

const TRACE_A = 'a'.repeat(32);
const TRACE_B = 'b'.repeat(32);
const TRACE_C = 'c'.repeat(32);

describe('Buckets (lean-histogram.ts)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const samplesOf = (buckets: Buckets, labels: Record<string, string> = {}) => {
    const out: Sample[] = [];
    buckets.samples('lat', labels, out);
    return out;
  };

  it('puts a value equal to a bound in that bucket and one above the last in +Inf, counting cumulatively', () => {
    const buckets = new Buckets([0.1, 1]);
    for (const v of [0, 0.1, 0.5, 1, 1.0001, 50]) buckets.observe(v);
    expect(samplesOf(buckets, { route: '/x' })).toEqual([
      { metricName: 'lat_bucket', labels: { le: 0.1, route: '/x' }, value: 2 },
      { metricName: 'lat_bucket', labels: { le: 1, route: '/x' }, value: 4 },
      { metricName: 'lat_bucket', labels: { le: '+Inf', route: '/x' }, value: 6 },
      { metricName: 'lat_sum', labels: { route: '/x' }, value: 0 + 0.1 + 0.5 + 1 + 1.0001 + 50 },
      { metricName: 'lat_count', labels: { route: '/x' }, value: 6 },
    ]);
  });

  it('writes every bucket at 0 before the first observation', () => {
    expect(samplesOf(new Buckets([0.1])).map((s) => [s.metricName, s.value])).toEqual([
      ['lat_bucket', 0],
      ['lat_bucket', 0],
      ['lat_sum', 0],
      ['lat_count', 0],
    ]);
  });

  it('keeps the latest sampled observation of each bucket as its exemplar, never an unsampled one', () => {
    const buckets = new Buckets([0.1, 1]);
    buckets.observe(0.05, TRACE_A);
    vi.setSystemTime(1_700_000_001_500);
    buckets.observe(0.07, TRACE_B); // replaces A in the first bucket
    buckets.observe(0.08); // unsampled: B stays
    buckets.observe(0.5); // unsampled only: the second bucket has none
    buckets.observe(7, TRACE_C);
    const exemplars = samplesOf(buckets).map((s) => s.exemplar);
    expect(exemplars).toEqual([
      { labelSet: { trace_id: TRACE_B }, value: 0.07, timestamp: 1_700_000_001.5 },
      undefined,
      { labelSet: { trace_id: TRACE_C }, value: 7, timestamp: 1_700_000_001.5 },
      undefined, // _sum
      undefined, // _count
    ]);
  });
});

describe('LabeledHistogram (lean-histogram.ts)', () => {
  it('keeps one series per label value, each with its own buckets', async () => {
    const registry = newRegistry();
    const queries = new LabeledHistogram('operation', [0.01, 0.1]);
    queries.register(registry, 'db_query_duration_seconds', 'Queries.');
    queries.observe('SELECT', 0.005);
    queries.observe('SELECT', 0.05);
    queries.observe('INSERT', 0.5);
    const e = await scrape(registry);
    expect(e.type('db_query_duration_seconds')).toBe('histogram');
    expect(e.buckets('db_query_duration_seconds', { operation: 'SELECT' }).map((b) => [b.le, b.value])).toEqual([
      [0.01, 1],
      [0.1, 2],
      [Infinity, 2],
    ]);
    expect(e.buckets('db_query_duration_seconds', { operation: 'INSERT' }).map((b) => [b.le, b.value])).toEqual([
      [0.01, 0],
      [0.1, 0],
      [Infinity, 1],
    ]);
    expect(e.value('db_query_duration_seconds_sum', { operation: 'INSERT' })).toBe(0.5);
    expect(e.labelValues('db_query_duration_seconds_count', 'operation')).toEqual(new Set(['SELECT', 'INSERT']));
    // A histogram with no exemplar source has none.
    expect(e.samples.filter((s) => s.exemplar)).toEqual([]);
  });
});

describe('TwoLabelCounter (lean-counter.ts)', () => {
  it('counts each label pair in a series of its own, and writes none before the first count', async () => {
    const registry = newRegistry();
    const calls = new TwoLabelCounter(['tenant_id', 'endpoint']);
    calls.register(registry, 'api_calls_total', 'Calls.');
    const empty = await scrape(registry);
    expect(empty.type('api_calls')).toBe('counter');
    expect(empty.series('api_calls_total')).toEqual([]);

    for (const [tenant, endpoint, n] of [
      ['t1', '/a', 3],
      ['t1', '/b', 1],
      ['t2', '/a', 2],
    ] as const) {
      for (let i = 0; i < n; i++) calls.inc(tenant, endpoint);
    }
    const e = await scrape(registry);
    expect(e.series('api_calls_total').map((s) => [s.labels, s.value])).toEqual([
      [{ tenant_id: 't1', endpoint: '/a' }, 3],
      [{ tenant_id: 't1', endpoint: '/b' }, 1],
      [{ tenant_id: 't2', endpoint: '/a' }, 2],
    ]);
  });

  it('keeps apart pairs that would be one if their values were joined (a separator inside a value)', async () => {
    const registry = newRegistry();
    const calls = new TwoLabelCounter(['tenant_id', 'endpoint']);
    calls.register(registry, 'api_calls_total', 'Calls.');
    for (const sep of ['\u0000', ' ', '\n']) {
      calls.inc(`a${sep}b`, 'c');
      calls.inc('a', `b${sep}c`);
    }
    const e = await scrape(registry);
    expect(e.series('api_calls_total')).toHaveLength(6);
    for (const sep of ['\u0000', ' ', '\n']) {
      expect(e.value('api_calls_total', { tenant_id: `a${sep}b`, endpoint: 'c' }), JSON.stringify(sep)).toBe(1);
      expect(e.value('api_calls_total', { tenant_id: 'a', endpoint: `b${sep}c` }), JSON.stringify(sep)).toBe(1);
    }
  });
});

describe('RequestStats (request-stats.ts)', () => {
  it('counts each status apart, and keeps one latency histogram per method and route, exemplars from sampled requests only', async () => {
    const registry = newRegistry();
    const stats = new RequestStats([0.1, 1]);
    stats.register(registry, { requests: 'http_requests_total', duration: 'http_request_duration_seconds' });
    stats.record('GET', '/x', 200, 0.05, TRACE_A);
    stats.record('GET', '/x', 200, 0.06, undefined);
    stats.record('GET', '/x', 503, 2, undefined);
    stats.record('POST', '/x', 201, 0.5, TRACE_B);
    const e = await scrape(registry);
    expect(e.series('http_requests_total').map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', endpoint: '/x', status: '200' }, 2],
      [{ method: 'GET', endpoint: '/x', status: '503' }, 1],
      [{ method: 'POST', endpoint: '/x', status: '201' }, 1],
    ]);
    expect(e.series('http_request_duration_seconds_count').map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', endpoint: '/x' }, 3],
      [{ method: 'POST', endpoint: '/x' }, 1],
    ]);
    expect(e.buckets('http_request_duration_seconds', { method: 'GET', endpoint: '/x' }).map((b) => [b.le, b.value, b.sample.exemplar?.labels])).toEqual([
      [0.1, 2, { trace_id: TRACE_A }],
      [1, 2, undefined],
      [Infinity, 3, undefined],
    ]);
    expect(e.buckets('http_request_duration_seconds', { method: 'POST', endpoint: '/x' }).map((b) => [b.le, b.value, b.sample.exemplar?.labels])).toEqual([
      [0.1, 0, undefined],
      [1, 1, { trace_id: TRACE_B }],
      [Infinity, 1, undefined],
    ]);
  });
});
