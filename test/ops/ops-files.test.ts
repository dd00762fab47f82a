// Every ops file a tool loads parses, with no tool installed: each YAML and JSON file under
// ops/ (and compose.yaml), and each PromQL expression of the rules and dashboards through the
// official PromQL parser. Whether the metrics they name exist is prometheus-live.test.ts's job.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoPath } from '../../ops/generate/index.ts';
import { allExprs, parsePromQL } from '../helpers/promql.ts';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const root = repoPath('.');
const files = [...walk(repoPath('ops')), ...[repoPath('compose.yaml')].filter((f) => existsSync(f))].map((f) => relative(root, f));

describe('ops files parse', () => {
  it.each(files.filter((f) => /\.ya?ml$/.test(f)))('%s is valid YAML', (file) => {
    for (const doc of parseAllDocuments(readFileSync(repoPath(file), 'utf8'))) expect(doc.errors, file).toEqual([]);
  });

  it.each(files.filter((f) => f.endsWith('.json')))('%s is valid JSON', (file) => {
    expect(() => JSON.parse(readFileSync(repoPath(file), 'utf8'))).not.toThrow();
  });
});

describe('PromQL of the rules and dashboards', () => {
  const exprs = allExprs();
  it('has rules and panels to check', () => expect(exprs.length).toBeGreaterThan(100));

  it.each(exprs.map((e) => [e.where, e.expr]))('%s parses', (_where, expr) => {
    const parsed = parsePromQL(expr);
    expect(parsed.errors, expr).toBe(0);
    if (!expr.startsWith('vector(')) expect(parsed.metrics.length, expr).toBeGreaterThan(0);
  });

  it('finds a parse error where there is one', () => {
    expect(parsePromQL('sum(rate(http_requests_total{status=}[5m])').errors).toBeGreaterThan(0);
    expect(parsePromQL('sum by (job) (rate(a_total[5m])) / b:c:rate5m').metrics).toEqual(['a_total', 'b:c:rate5m']);
  });
});
