// The committed dashboards are what ops/grafana/src renders today, and have what an operator
// and the runbooks rely on: the uids and panel titles the runbooks cite, the three variables,
// a query on every panel whose every selector is filtered to this service, the chosen
// instances and routes, exemplars and a trace link on the latency panel, and data sources
// provisioned with the exemplar → trace link. That every query returns data from a real
// Prometheus is test/ops/prometheus-live.test.ts's job (with panelQueries/substituteVariables).
import { parser } from '@prometheus-io/lezer-promql';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DASHBOARDS_DIR, renderDashboards } from '../../ops/generate/dashboards.ts';
import { loadSlos } from '../../ops/generate/slo-spec.ts';
import { panelQueries, substituteVariables } from '../../ops/grafana/src/queries.ts';
import { findTool, runsWith } from '../helpers/metrics.ts';

interface Target {
  expr: string;
  exemplar?: boolean;
  instant?: boolean;
  datasource?: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
  fieldConfig?: { defaults?: { unit?: string; links?: { title: string; internal?: { datasourceUid: string; query: { query: string } } }[] } };
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query?: unknown; multi?: boolean; includeAll?: boolean }[] };
  panels: Panel[];
}

const REPO = join(import.meta.dirname, '..', '..');
const committed = (file: string) => readFileSync(join(DASHBOARDS_DIR, file), 'utf8');
const board = (file: string) => JSON.parse(committed(file)) as Dashboard;
const panelsOf = (d: Dashboard) => d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));

const slos = loadSlos().map((s) => s.name);
const EXPECTED: Record<string, { uid: string; title: string; panels: string[] }> = {
  'service.json': {
    uid: 'glassbox-service',
    title: 'Glassbox / Service (RED)',
    panels: ['Request rate', 'Error ratio', 'Latency p50 / p95 / p99 by route', 'Requests in flight', 'Requests by status'],
  },
  'resources.json': {
    uid: 'glassbox-resources',
    title: 'Glassbox / Resources',
    panels: [
      'CPU',
      'Memory (RSS)',
      'Heap used / total',
      'Event-loop lag',
      'GC time',
      'DB pool: active vs size',
      'DB pool: waiting clients',
      'Query latency p95 by operation',
      'Slow queries',
      'Redis connected',
      'Cache hit ratio',
    ],
  },
  'business.json': {
    uid: 'glassbox-business',
    title: 'Glassbox / Business',
    panels: [
      'Revenue today',
      'Orders by status',
      'Failed payments by reason',
      'Signups by source',
      'Active users',
      'API calls (24 h)',
      'Noisiest tenants (top 10)',
    ],
  },
  'slo.json': {
    uid: 'glassbox-slo',
    title: 'Glassbox / SLOs',
    panels: slos.flatMap((n) => [`${n}: error budget left`, `${n}: burn rate by window`, `${n}: events that burned the budget`]),
  },
};

/** The series with an `endpoint` label: a selector of one of them must take the route variable. */
const ROUTED = /^(http_requests_total|http_request_duration_seconds_(bucket|count|sum)|api_calls_total|job_endpoint:.*)$/;

/** Every vector selector of an expression (Grafana's interval variables replaced so it parses): its metric and label matchers. */
function selectors(expr: string): { metric: string; matchers: string[] }[] {
  const promql = expr.replace(/\$__\w+/g, '1m');
  const tree = parser.parse(promql);
  const out: { metric: string; matchers: string[] }[] = [];
  let errors = 0;
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors++;
      if (node.name !== 'VectorSelector') return;
      const metric = node.node.getChild('Identifier');
      const matchers = node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
      out.push({ metric: metric ? promql.slice(metric.from, metric.to) : '', matchers: matchers.map((m) => promql.slice(m.from, m.to)) });
    },
  });
  expect(errors, `PromQL does not parse: ${expr}`).toBe(0);
  return out;
}

describe('the committed dashboards', () => {
  const rendered = renderDashboards();

  it('are exactly what renderDashboards() renders today (run `npm run ops:dashboards` after editing ops/grafana/src or ops/slo)', () => {
    expect(Object.keys(rendered).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [file, json] of Object.entries(rendered)) expect(committed(file), `ops/grafana/dashboards/${file} is stale`).toBe(json);
  });

  it('render the same bytes twice (no timestamps or random ids), in prettier’s layout with a trailing newline', async () => {
    expect(renderDashboards()).toEqual(rendered);
    const options = { ...(await resolveConfig(join(REPO, 'package.json'))), parser: 'json' };
    for (const json of Object.values(rendered)) {
      expect(json.endsWith('}\n')).toBe(true);
      expect(await format(json, options)).toBe(json);
    }
  });
});

describe.each(Object.entries(EXPECTED))('%s', (file, expected) => {
  const d = board(file);
  const panels = panelsOf(d);

  it('has its uid, title and exactly the panels the plan and the runbooks name', () => {
    expect(d.uid).toBe(expected.uid);
    expect(d.title).toBe(expected.title);
    expect(panels.map((p) => p.title).sort()).toEqual([...expected.panels].sort());
  });

  it('has unique panel ids', () => {
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has the data source, instance and route variables (instance and route multi-value, with All)', () => {
    const vars = d.templating.list;
    expect(vars.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['instance', 'query'],
      ['route', 'query'],
    ]);
    expect(vars[0]!.query).toBe('prometheus');
    expect(vars[1]).toMatchObject({ query: 'label_values(up{job="glassbox"}, instance)', multi: true, includeAll: true });
    expect(vars[2]).toMatchObject({ query: 'label_values(http_requests_total{job="glassbox"}, endpoint)', multi: true, includeAll: true });
  });

  it.each(panels.map((p) => [p.title, p] as const))('%s queries $datasource, every selector filtered to this service', (_title, panel) => {
    expect(panel.datasource?.uid).toBe('${datasource}');
    expect(panel.targets?.length).toBeGreaterThan(0);
    for (const t of panel.targets!) {
      expect(t.expr).toBeTruthy();
      expect(t.datasource?.uid).toBe('${datasource}');
      const found = selectors(t.expr);
      expect(found.length).toBeGreaterThan(0);
      for (const { metric, matchers } of found) {
        expect(matchers, `${metric} in ${t.expr}`).toContain('job="glassbox"');
        // The SLO series are per job: no instance to filter (the dashboard's description says so).
        if (file !== 'slo.json') expect(matchers, `${metric} in ${t.expr}`).toContain('instance=~"$instance"');
        if (ROUTED.test(metric)) expect(matchers, `${metric} in ${t.expr}`).toContain('endpoint=~"$route"');
      }
    }
  });
});

describe('Glassbox / Service (RED)', () => {
  const panels = panelsOf(board('service.json'));
  const latency = panels.find((p) => p.title === 'Latency p50 / p95 / p99 by route')!;

  it('asks for exemplars on every latency query that reads the histogram, and links a point to its trace in tempo by trace_id', () => {
    const histogram = latency.targets!.filter((t) => t.expr.includes('http_request_duration_seconds_bucket'));
    expect(histogram.map((t) => t.expr.match(/histogram_quantile\(([\d.]+)/)?.[1])).toEqual(['0.5', '0.95', '0.99']);
    expect(histogram.every((t) => t.exemplar === true)).toBe(true);
    const links = latency.fieldConfig?.defaults?.links ?? [];
    expect(links).toContainEqual(
      expect.objectContaining({
        internal: expect.objectContaining({ datasourceUid: 'tempo', query: expect.objectContaining({ query: '${__data.fields.trace_id}' }) }),
      }),
    );
  });

  it('shows the series the alerts read (the RED recording rules) next to the raw ones', () => {
    const exprs = panels.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
    for (const rule of ['job:http_request_error_ratio:rate5m', 'job:http_request_duration_seconds:p95_5m', 'job_endpoint:http_requests:rate5m']) {
      expect(exprs).toContain(rule);
    }
  });
});

describe('units', () => {
  it.each([
    ['service.json', 'Request rate', 'reqps'],
    ['service.json', 'Error ratio', 'percentunit'],
    ['service.json', 'Latency p50 / p95 / p99 by route', 's'],
    ['resources.json', 'Memory (RSS)', 'bytes'],
    ['resources.json', 'Heap used / total', 'bytes'],
    ['resources.json', 'Query latency p95 by operation', 's'],
    ['resources.json', 'Cache hit ratio', 'percentunit'],
    ['business.json', 'Revenue today', 'currencyUSD'],
    ['slo.json', `${slos[0]}: error budget left`, 'percentunit'],
  ])('%s "%s" is in %s', (file, title, unit) => {
    expect(panelsOf(board(file)).find((p) => p.title === title)?.fieldConfig?.defaults?.unit).toBe(unit);
  });
});

describe('Glassbox / SLOs', () => {
  it('reads each SLO’s recording rules: budget left, the burn rate of every window, bad and all events', () => {
    const panels = panelsOf(board('slo.json'));
    for (const name of slos) {
      const exprs = (title: string) => panels.find((p) => p.title === `${name}: ${title}`)!.targets!.map((t) => t.expr);
      expect(exprs('error budget left')).toEqual([`slo:error_budget_remaining:ratio30d{slo="${name}",job="glassbox"}`]);
      expect(exprs('burn rate by window')).toEqual(
        ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'].map((w) => `slo:burn_rate:ratio${w}{slo="${name}",job="glassbox"}`),
      );
      expect(exprs('events that burned the budget')).toEqual([
        `slo:errors:increase5m{slo="${name}",job="glassbox"}`,
        `slo:requests:increase5m{slo="${name}",job="glassbox"}`,
      ]);
    }
  });
});

describe('provisioning', () => {
  it('defines the prometheus and tempo data sources, exemplars linked to traces by trace_id', () => {
    const ds = parse(readFileSync(join(REPO, 'ops/grafana/provisioning/datasources/datasources.yml'), 'utf8')) as {
      apiVersion: number;
      datasources: { uid: string; type: string; url: string; jsonData?: { exemplarTraceIdDestinations?: { name: string; datasourceUid: string }[] } }[];
    };
    expect(ds.apiVersion).toBe(1);
    const prometheus = ds.datasources.find((d) => d.uid === 'prometheus');
    expect(prometheus).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(prometheus?.jsonData?.exemplarTraceIdDestinations).toEqual([{ name: 'trace_id', datasourceUid: 'tempo' }]);
    expect(ds.datasources.find((d) => d.uid === 'tempo')).toMatchObject({ type: 'tempo', url: 'http://tempo:3200' });
  });

  it('loads the dashboards from the directory compose.yaml mounts them at', () => {
    const p = parse(readFileSync(join(REPO, 'ops/grafana/provisioning/dashboards/dashboards.yml'), 'utf8')) as {
      apiVersion: number;
      providers: { type: string; options: { path: string } }[];
    };
    expect(p.apiVersion).toBe(1);
    expect(p.providers).toHaveLength(1);
    expect(p.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
  });
});

describe('panelQueries and substituteVariables', () => {
  it('list every panel target, and leave no Grafana variable in the PromQL', () => {
    const queries = panelQueries();
    const targets = Object.keys(EXPECTED).reduce((n, f) => n + panelsOf(board(f)).reduce((m, p) => m + (p.targets?.length ?? 0), 0), 0);
    expect(queries).toHaveLength(targets);
    expect(new Set(queries.map((q) => q.dashboard))).toEqual(new Set(Object.values(EXPECTED).map((e) => e.uid)));
    for (const q of queries) expect(substituteVariables(q.expr), `${q.dashboard} / ${q.panel}`).not.toMatch(/\$/);
  });

  it('set the multi-value variables to All and Grafana’s intervals to fixed ones, in both $x and ${x} forms', () => {
    expect(substituteVariables('rate(x{instance=~"$instance",endpoint=~"${route}"}[$__rate_interval])')).toBe('rate(x{instance=~".*",endpoint=~".*"}[1m])');
    expect(substituteVariables('increase(x{instance=~"${instance:regex}"}[${__range}]) / $__interval')).toBe('increase(x{instance=~".*"}[1h]) / 15s');
  });
});

// "Revenue today" reads a gauge that only grows: promtool evaluates the panel's own query on
// series that existed before the range (with a process restart in it) and one born inside it.
describe.runIf(runsWith(findTool('promtool'), 'Revenue today (promtool)'))('Revenue today', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glassbox-revenue-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts what a series earned in the range, across a restart, and all of a series born in it', () => {
    const expr = panelQueries().find((q) => q.panel === 'Revenue today')!.expr;
    const labels = 'job="glassbox",instance="app:3000",tenant_id="t1"';
    writeFileSync(join(dir, 'none.yml'), 'groups: []\n');
    writeFileSync(
      join(dir, 'revenue.test.yml'),
      stringify({
        rule_files: ['none.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              // 100 USD before the range, then 10 a minute; the process restarts (back to 0) at minute 100.
              { series: `revenue_total_usd{${labels},product="p1"}`, values: '100+10x99 0+10x20' },
              // A first sale of p2 at minute 90 (50 USD), then 5 a minute.
              { series: `revenue_total_usd{${labels},product="p2"}`, values: '_x90 50+5x30' },
            ],
            // Over the last hour (minutes 60 to 120): p1 390 + 200 after the restart, p2 all of its 200.
            promql_expr_test: [{ expr: substituteVariables(expr), eval_time: '120m', exp_samples: [{ value: 790 }] }],
          },
        ],
      }),
    );
    expect(execFileSync(findTool('promtool')!, ['test', 'rules', 'revenue.test.yml'], { cwd: dir, encoding: 'utf8' })).toContain('SUCCESS');
  });
});
