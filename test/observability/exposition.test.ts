// The text exposition.ts writes by hand, checked against the formats' own rules rather than
// through the app (metrics.test.ts does that):
// - label values: backslash, double quote and newline escaped as \\ \" \n, in both formats,
//   whichever kind of series carries them (prom-client's, the lean counter's, the lean
//   histogram's, an exemplar's); every other character, UTF-8 included, written as it is.
//   Product names flow into revenue_total_usd{product}, so these are customers' strings;
// - HELP: \\ and \n in the Prometheus format, \" as well in OpenMetrics;
// - +Inf, -Inf and NaN as the formats spell them, and exemplars in OpenMetrics' syntax;
// - `promtool check metrics` accepts the Prometheus-format text, and rejects each of the
//   mistakes the escaping guards against (so its pass means something).
import { Counter, Gauge, Registry, type OpenMetricsContentType } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { renderExposition, type ExpositionFormat } from '../../src/observability/metrics/exposition.ts';
import { TwoLabelCounter } from '../../src/observability/metrics/lean-counter.ts';
import { LabeledHistogram } from '../../src/observability/metrics/lean-histogram.ts';
import { RequestStats } from '../../src/observability/metrics/request-stats.ts';
import { findPromtool, parseExposition, PROMTOOL_MISSING, promtoolCheckMetrics, runsWith } from '../helpers/metrics.ts';

const FORMATS: ExpositionFormat[] = ['prometheus', 'openmetrics'];

/** An OpenMetrics-typed registry, as createMetrics builds one (prom-client's types omit the parameter). */
function newRegistry(): Registry<OpenMetricsContentType> {
  return new (Registry as unknown as new (contentType: OpenMetricsContentType) => Registry<OpenMetricsContentType>)(Registry.OPENMETRICS_CONTENT_TYPE);
}

/** [what it is, the value, how the exposition must write it between the quotes]. */
const TRICKY: [string, string, string][] = [
  ['quotes, a backslash and a newline', 'Caf\u00e9 "Deluxe" \\ 10\n', String.raw`Café \"Deluxe\" \\ 10\n`],
  ['a backslash then n (not a newline)', 'line\\nfeed', String.raw`line\\nfeed`],
  ['a backslash before a quote', '\\"', String.raw`\\\"`],
  ['a trailing backslash', 'C:\\temp\\', String.raw`C:\\temp\\`],
  ['two newlines', '\n\n', String.raw`\n\n`],
  ['the label syntax itself', 'a,b}="c" # {x="y"} 1', String.raw`a,b}=\"c\" # {x=\"y\"} 1`],
  ['emoji (astral plane, a ZWJ sequence)', '\u2615\u{1F370} \u{1F469}\u200D\u{1F4BB}', '☕🍰 👩‍💻'],
  ['CJK', '\u5496\u5561\u62FF\u94C1', '咖啡拿铁'],
  // Not normalized: NFC would fold the accent into é, no longer the string recorded.
  ['a combining accent and right-to-left text', 'Cafe\u0301 \u0642\u0647\u0648\u0629', 'Cafe\u0301 \u0642\u0647\u0648\u0629'],
  ['a tab and a carriage return (the formats leave them as they are)', 'a\tb\rc', 'a\tb\rc'],
];

/** Every kind of series the app has, each carrying every tricky value. */
async function trickySeries() {
  const registry = newRegistry();
  const revenue = new Gauge({ name: 'revenue_total_usd', help: 'Revenue.', labelNames: ['tenant_id', 'product'] as const, registers: [registry] });
  const calls = new TwoLabelCounter(['tenant_id', 'endpoint']);
  calls.register(registry, 'api_calls_total', 'Calls.');
  const queries = new LabeledHistogram('operation', [0.1]);
  queries.register(registry, 'db_query_duration_seconds', 'Queries.');
  const requests = new RequestStats([0.1]);
  requests.register(registry, { requests: 'http_requests_total', duration: 'http_request_duration_seconds' });
  TRICKY.forEach(([, value], i) => {
    revenue.inc({ tenant_id: 't', product: value }, i + 1);
    calls.inc(value, '/api/orders');
    queries.observe(value, 0.05);
    // An exemplar's label value goes through the same escaping (trace ids are hex in the app).
    requests.record('GET', value, 200, 0.05, value);
  });
  return registry;
}

describe('label values', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_250 }); // the exemplars' timestamp
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(FORMATS)('are escaped as \\\\ \\" \\n, and every other character written as it is, on every kind of series (%s)', async (format) => {
    const text = await renderExposition(await trickySeries(), format);
    TRICKY.forEach(([what, , escaped], i) => {
      const lines = [
        `revenue_total_usd{tenant_id="t",product="${escaped}"} ${i + 1}`,
        `api_calls_total{tenant_id="${escaped}",endpoint="/api/orders"} 1`,
        `db_query_duration_seconds_bucket{le="0.1",operation="${escaped}"} 1`,
        `db_query_duration_seconds_count{operation="${escaped}"} 1`,
        `http_requests_total{method="GET",endpoint="${escaped}",status="200"} 1`,
      ];
      for (const line of lines) expect(text.split('\n'), `${what}: ${line}`).toContain(line);
      const bucket = `http_request_duration_seconds_bucket{le="0.1",method="GET",endpoint="${escaped}"} 1`;
      const line = text.split('\n').find((l) => l === bucket || l.startsWith(`${bucket} `));
      // The Prometheus format has no exemplars.
      expect(line, what).toBe(format === 'prometheus' ? bucket : `${bucket} # {trace_id="${escaped}"} 0.05 1700000000.25`);
    });
  });

  it.each(FORMATS)('read back as the very strings recorded, one sample a line (%s)', async (format) => {
    const e = parseExposition(await renderExposition(await trickySeries(), format));
    expect(e.labelValues('revenue_total_usd', 'product')).toEqual(new Set(TRICKY.map(([, value]) => value)));
    expect(e.labelValues('api_calls_total', 'tenant_id')).toEqual(new Set(TRICKY.map(([, value]) => value)));
    TRICKY.forEach(([what, value], i) => {
      expect(e.value('revenue_total_usd', { tenant_id: 't', product: value }), what).toBe(i + 1);
      expect(e.value('db_query_duration_seconds_count', { operation: value }), what).toBe(1);
    });
    // No value broke its line: one revenue sample a line, as many as recorded.
    expect(e.series('revenue_total_usd')).toHaveLength(TRICKY.length);
    if (format === 'openmetrics') {
      const exemplars = e.samples.flatMap((s) => (s.exemplar ? [s.exemplar.labels.trace_id] : []));
      expect(new Set(exemplars)).toEqual(new Set(TRICKY.map(([, value]) => value)));
    }
  });
});

describe('HELP text', () => {
  const help = 'Jobs "run" from C:\\jobs\\,\nsee the runbook.';

  it('escapes the backslash and the newline in the Prometheus format, and keeps the double quote', async () => {
    const registry = newRegistry();
    new Counter({ name: 'jobs_total', help, registers: [registry] });
    const text = await renderExposition(registry, 'prometheus');
    expect(text.split('\n')).toContain(String.raw`# HELP jobs_total Jobs "run" from C:\\jobs\\,\nsee the runbook.`);
    expect(parseExposition(text).families.get('jobs_total')?.help).toBe(help);
  });

  it('escapes the double quote as well in OpenMetrics', async () => {
    const registry = newRegistry();
    new Counter({ name: 'jobs_total', help, registers: [registry] });
    const text = await renderExposition(registry, 'openmetrics');
    expect(text.split('\n')).toContain(String.raw`# HELP jobs Jobs \"run\" from C:\\jobs\\,\nsee the runbook.`);
    expect(parseExposition(text).families.get('jobs')?.help).toBe(help);
  });
});

describe('the whole text', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_250 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A counter, a gauge at +Inf, -Inf and NaN, and a histogram with an exemplar. */
  async function small(format: ExpositionFormat) {
    const registry = newRegistry();
    const jobs = new Counter({ name: 'jobs_total', help: 'Jobs run.', labelNames: ['queue'] as const, registers: [registry] });
    jobs.inc({ queue: 'mail' }, 3);
    const level = new Gauge({ name: 'level', help: 'A level.', labelNames: ['kind'] as const, registers: [registry] });
    level.set({ kind: 'high' }, Infinity);
    level.set({ kind: 'low' }, -Infinity);
    level.set({ kind: 'unknown' }, NaN);
    const requests = new RequestStats([0.1, 1]);
    requests.register(registry, { requests: 'http_requests_total', duration: 'http_request_duration_seconds' });
    requests.record('GET', '/x', 200, 0.25, '0123456789abcdef0123456789abcdef');
    return renderExposition(registry, format);
  }

  it('is, in the Prometheus format: families apart by a blank line, counters named with _total, no exemplar, no # EOF', async () => {
    expect(await small('prometheus')).toBe(
      [
        '# HELP jobs_total Jobs run.',
        '# TYPE jobs_total counter',
        'jobs_total{queue="mail"} 3',
        '',
        '# HELP level A level.',
        '# TYPE level gauge',
        'level{kind="high"} +Inf',
        'level{kind="low"} -Inf',
        'level{kind="unknown"} NaN',
        '',
        '# HELP http_requests_total HTTP requests answered, by method, route template (or "unmatched") and status code.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="GET",endpoint="/x",status="200"} 1',
        '',
        '# HELP http_request_duration_seconds Time from the request arriving to its response being sent, by method and route template.',
        '# TYPE http_request_duration_seconds histogram',
        'http_request_duration_seconds_bucket{le="0.1",method="GET",endpoint="/x"} 0',
        'http_request_duration_seconds_bucket{le="1",method="GET",endpoint="/x"} 1',
        'http_request_duration_seconds_bucket{le="+Inf",method="GET",endpoint="/x"} 1',
        'http_request_duration_seconds_sum{method="GET",endpoint="/x"} 0.25',
        'http_request_duration_seconds_count{method="GET",endpoint="/x"} 1',
        '',
        '',
      ].join('\n'),
    );
  });

  it('is, in OpenMetrics: counter families without _total, the exemplar on its bucket with its timestamp, # EOF last', async () => {
    expect(await small('openmetrics')).toBe(
      [
        '# HELP jobs Jobs run.',
        '# TYPE jobs counter',
        'jobs_total{queue="mail"} 3',
        '# HELP level A level.',
        '# TYPE level gauge',
        'level{kind="high"} +Inf',
        'level{kind="low"} -Inf',
        'level{kind="unknown"} NaN',
        String.raw`# HELP http_requests HTTP requests answered, by method, route template (or \"unmatched\") and status code.`,
        '# TYPE http_requests counter',
        'http_requests_total{method="GET",endpoint="/x",status="200"} 1',
        '# HELP http_request_duration_seconds Time from the request arriving to its response being sent, by method and route template.',
        '# TYPE http_request_duration_seconds histogram',
        'http_request_duration_seconds_bucket{le="0.1",method="GET",endpoint="/x"} 0',
        'http_request_duration_seconds_bucket{le="1",method="GET",endpoint="/x"} 1 # {trace_id="0123456789abcdef0123456789abcdef"} 0.25 1700000000.25',
        'http_request_duration_seconds_bucket{le="+Inf",method="GET",endpoint="/x"} 1',
        'http_request_duration_seconds_sum{method="GET",endpoint="/x"} 0.25',
        'http_request_duration_seconds_count{method="GET",endpoint="/x"} 1',
        '# EOF',
        '',
      ].join('\n'),
    );
  });
});

const promtool = findPromtool();
describe.runIf(runsWith(promtool, 'promtool'))('promtool check metrics', () => {
  const check = async (text: string) => {
    if (!promtool) expect.fail(PROMTOOL_MISSING);
    const { code, stdout, stderr } = await promtoolCheckMetrics(promtool, text);
    return { code, output: stdout + stderr };
  };
  const family = (sample: string) => `# HELP jobs_total Jobs.\n# TYPE jobs_total counter\n${sample}\n`;

  it('rejects each mistake the escaping guards against (so the pass below means something)', async () => {
    const mistakes = {
      'an unescaped double quote': 'jobs_total{p="say "hi""} 1',
      'a raw newline': 'jobs_total{p="two\nlines"} 1',
      'an unescaped backslash': 'jobs_total{p="C:\\temp"} 1',
      'an unescaped trailing backslash': 'jobs_total{p="C:\\"} 1',
    };
    for (const [what, sample] of Object.entries(mistakes)) expect((await check(family(sample))).code, what).not.toBe(0);
    expect(await check(family(String.raw`jobs_total{p="say \"hi\" from C:\\temp\\,\n"} 1`))).toEqual({ code: 0, output: '' });
  });

  it('accepts the Prometheus-format text of every kind of series carrying every tricky value', async () => {
    const text = await renderExposition(await trickySeries(), 'prometheus');
    expect(await check(text)).toEqual({ code: 0, output: '' });
  });

  it('accepts +Inf, -Inf, NaN and an escaped HELP', async () => {
    const registry = newRegistry();
    const level = new Gauge({ name: 'level', help: 'A "level" at C:\\x,\nin two lines.', labelNames: ['kind'] as const, registers: [registry] });
    level.set({ kind: 'high' }, Infinity);
    level.set({ kind: 'low' }, -Infinity);
    level.set({ kind: 'unknown' }, NaN);
    expect(await check(await renderExposition(registry, 'prometheus'))).toEqual({ code: 0, output: '' });
  });
});
