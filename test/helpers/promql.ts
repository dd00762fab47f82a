// What PromQL in ops/ reads, from the official parser (@prometheus-io/lezer-promql, the one
// Prometheus's own UI uses), not from a regular expression: every metric name in a vector
// selector, and whether an expression parses at all.
import { parser } from '@prometheus-io/lezer-promql';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoPath } from '../../ops/generate/index.ts';
import { panelQueries, substituteVariables } from '../../ops/grafana/src/queries.ts';

export interface ParsedExpr {
  metrics: string[];
  errors: number;
}

export function parsePromQL(expr: string): ParsedExpr {
  const tree = parser.parse(expr);
  const metrics = new Set<string>();
  let errors = 0;
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors++;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.add(expr.slice(node.from, node.to));
    },
  });
  return { metrics: [...metrics], errors };
}

export interface RuleExpr {
  source: string;
  name: string;
  expr: string;
  record?: string;
}

/** Every rule of ops/prometheus/*.yml. */
export function ruleExprs(): RuleExpr[] {
  const dir = repoPath('ops/prometheus');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .flatMap((file) =>
      (parse(readFileSync(join(dir, file), 'utf8')) as { groups: { rules: { record?: string; alert?: string; expr: string }[] }[] }).groups.flatMap((g) =>
        g.rules.map((r) => ({ source: `ops/prometheus/${file}`, name: r.record ?? r.alert ?? '?', expr: r.expr, ...(r.record ? { record: r.record } : {}) })),
      ),
    );
}

/**
 * Every PromQL expression of ops/: rules and dashboard panels (Grafana's variables replaced,
 * as Grafana does before it sends a query), with where it comes from.
 */
export function allExprs(): { where: string; expr: string }[] {
  return [
    ...ruleExprs().map((r) => ({ where: `${r.source} ${r.name}`, expr: r.expr })),
    ...panelQueries().map((q) => ({ where: `${q.dashboard} / ${q.panel}`, expr: substituteVariables(q.expr) })),
  ];
}

/** Series Prometheus makes itself. */
export const PROMETHEUS_OWN = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/**
 * The exposition's metric names a selector may use: each family name, and for histograms and
 * summaries the _bucket, _sum and _count series.
 */
export function exposedNames(families: Map<string, { type?: string }>): Set<string> {
  const names = new Set<string>();
  for (const [name, family] of families) {
    names.add(name);
    if (family.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (family.type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/**
 * The metric names of the service that `expr` needs, recording rules resolved through their
 * own expressions (recursively).
 */
export function neededMetrics(expr: string, records = new Map(ruleExprs().flatMap((r) => (r.record ? [[r.record, r.expr] as const] : [])))): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  const visit = (e: string) => {
    for (const m of parsePromQL(e).metrics) {
      if (PROMETHEUS_OWN.has(m)) continue;
      const recorded = records.get(m);
      if (recorded !== undefined) {
        if (!seen.has(m)) {
          seen.add(m);
          visit(recorded);
        }
      } else out.add(m);
    }
  };
  visit(expr);
  return out;
}
