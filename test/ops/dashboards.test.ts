// The committed dashboards have what an operator and the runbooks rely on: the uids and panel
// titles the runbooks cite, the three variables, a query on every panel filtered to this
// service and the chosen instances, exemplars and a trace link on the latency panel, and
// data sources provisioned with the exemplar → trace link. That every query returns data
// from a real Prometheus is test/ops/prometheus-live.test.ts's job.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoPath } from '../../ops/generate/index.ts';
import { loadSlos } from '../../ops/generate/slo-spec.ts';
import { panelQueries, substituteVariables } from '../../ops/grafana/src/queries.ts';

interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string; exemplar?: boolean; datasource?: { uid: string } }[];
  fieldConfig?: { defaults?: { links?: { url: string }[] } };
}
interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: Panel[];
}
const board = (file: string) => JSON.parse(readFileSync(repoPath(`ops/grafana/dashboards/${file}`), 'utf8')) as Dashboard;

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

describe.each(Object.entries(EXPECTED))('%s', (file, expected) => {
  const d = board(file);
  const panels = d.panels.filter((p) => p.type !== 'row');

  it('has its uid, title and exactly the panels the runbooks cite', () => {
    expect(d.uid).toBe(expected.uid);
    expect(d.title).toBe(expected.title);
    expect(panels.map((p) => p.title).sort()).toEqual([...expected.panels].sort());
  });

  it('has the data source, instance and route variables', () => {
    expect(d.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['instance', 'query'],
      ['route', 'query'],
    ]);
  });

  it.each(panels.map((p) => [p.title, p]))('%s queries $datasource with a filter on this service', (_title, panel) => {
    expect(panel.datasource?.uid).toBe('${datasource}');
    expect(panel.targets?.length).toBeGreaterThan(0);
    for (const t of panel.targets!) {
      expect(t.datasource?.uid).toBe('${datasource}');
      expect(t.expr).toContain('job="glassbox"');
      if (file !== 'slo.json') expect(t.expr).toContain('instance=~"$instance"');
    }
  });
});

describe('latency panel', () => {
  const latency = board('service.json').panels.find((p) => p.title === 'Latency p50 / p95 / p99 by route')!;
  it('shows exemplars and links a point to its trace in the tempo data source', () => {
    expect(latency.targets!.every((t) => t.exemplar === true)).toBe(true);
    const links = latency.fieldConfig?.defaults?.links ?? [];
    expect(links.some((l) => l.url.includes('"datasource":"tempo"') && l.url.includes('${__data.fields.trace_id}'))).toBe(true);
  });
});

describe('provisioning', () => {
  it('defines the prometheus and tempo data sources, exemplars linked to traces by trace_id', () => {
    const ds = parse(readFileSync(repoPath('ops/grafana/provisioning/datasources/datasources.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; jsonData?: { exemplarTraceIdDestinations?: { name: string; datasourceUid: string }[] } }[];
    };
    const prometheus = ds.datasources.find((d) => d.uid === 'prometheus');
    expect(prometheus?.type).toBe('prometheus');
    expect(prometheus?.jsonData?.exemplarTraceIdDestinations).toEqual([{ name: 'trace_id', datasourceUid: 'tempo' }]);
    expect(ds.datasources.find((d) => d.uid === 'tempo')?.type).toBe('tempo');
  });

  it('loads the dashboards from the directory compose.yaml mounts them at', () => {
    const p = parse(readFileSync(repoPath('ops/grafana/provisioning/dashboards/dashboards.yml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(p.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
  });
});

describe('panelQueries and substituteVariables', () => {
  it('list every panel target and leave no Grafana variable in the PromQL', () => {
    const queries = panelQueries();
    const targets = Object.keys(EXPECTED).reduce((n, f) => n + board(f).panels.reduce((m, p) => m + (p.targets?.length ?? 0), 0), 0);
    expect(queries).toHaveLength(targets);
    for (const q of queries) expect(substituteVariables(q.expr), q.panel).not.toMatch(/\$/);
    expect(substituteVariables('rate(x{instance=~"$instance",endpoint=~"${route}"}[$__rate_interval])')).toBe('rate(x{instance=~".*",endpoint=~".*"}[1m])');
  });
});
