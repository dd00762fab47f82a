// The runbooks stay true to the code they send an on-call engineer into: the same sections in
// each, every PromQL block parses, every metric it names is one the service or a recording
// rule provides, every log event it filters on is one the code logs, every configuration
// variable it tells you to set exists, and every dashboard and panel it points to exists.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../ops/generate/index.ts';
import { panelQueries } from '../../ops/grafana/src/queries.ts';
import { ConfigSchema } from '../../src/config.ts';
import { parsePromQL, ruleExprs } from '../helpers/promql.ts';

const DIR = repoPath('ops/runbooks');
const runbooks = readdirSync(DIR)
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .sort();
const text = (f: string) => readFileSync(`${DIR}/${f}`, 'utf8');

/** Every string literal of src/: where a log event's name must appear. */
function sourceStrings(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/'([a-z_]+)'/g)) out.add(m[1]!);
    }
  };
  walk(repoPath('src'));
  return out;
}

const SECTIONS = ['## What it means', '## Impact', '## Dashboards', '## Investigate', '## Mitigate', '## Verify recovery', '## Escalate'];
/** Metric names the service exposes (checked against /metrics by prometheus-live.test.ts) and the recorded ones. */
const KNOWN_METRICS = new Set([
  ...ruleExprs().flatMap((r) => [...(r.record ? [r.record] : []), ...parsePromQL(r.expr).metrics]),
  ...panelQueries().flatMap((q) => parsePromQL(q.expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h')).metrics),
  'up',
  'process_start_time_seconds',
]);
const dashboards = readdirSync(repoPath('ops/grafana/dashboards')).map(
  (f) => JSON.parse(readFileSync(repoPath(`ops/grafana/dashboards/${f}`), 'utf8')) as { uid: string; title: string; panels: { title: string; type: string }[] },
);
const events = sourceStrings();
const variables = new Set(Object.keys(ConfigSchema.properties));

describe.each(runbooks)('%s', (file) => {
  const md = text(file);

  it('has every section, in order', () => {
    const at = SECTIONS.map((s) => md.indexOf(s));
    expect(
      at.every((i) => i >= 0),
      `${file} lacks one of ${SECTIONS.join(', ')}`,
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('has PromQL blocks that parse and read known metrics', () => {
    const blocks = [...md.matchAll(/```promql\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    // One expression per line, except a line ending in an operator or continuing with one.
    for (const block of blocks) {
      const exprs = block
        .replace(/#.*$/gm, '')
        .split(/\n(?!\s)/)
        .map((e) => e.trim())
        .filter(Boolean);
      for (const expr of exprs) {
        const parsed = parsePromQL(expr);
        expect(parsed.errors, expr).toBe(0);
        for (const m of parsed.metrics) expect(KNOWN_METRICS.has(m), `${m} in ${expr}`).toBe(true);
      }
    }
  });

  it('filters logs only on events the code logs', () => {
    const names = [...md.matchAll(/message(?:==|=~)\\?"([a-z_|]+)\\?"/g)].flatMap((m) => m[1]!.split('|'));
    for (const name of names) expect(events.has(name), `${name} is not logged anywhere in src/`).toBe(true);
  });

  it('names only configuration variables that exist', () => {
    const named = [...md.matchAll(/\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b/g)].map((m) => m[1]!).filter((v) => !['GROUP_BY'].includes(v));
    for (const v of named) expect(variables.has(v), `${v} is not a variable of src/config.ts`).toBe(true);
  });

  it('points to dashboards and panels that exist', () => {
    const section = md.slice(md.indexOf('## Dashboards'), md.indexOf('## Investigate'));
    const uids = [...section.matchAll(/\(`(glassbox-[a-z]+)`\)/g)].map((m) => m[1]!);
    expect(uids.length).toBeGreaterThan(0);
    for (const uid of uids)
      expect(
        dashboards.some((d) => d.uid === uid),
        uid,
      ).toBe(true);
    const titles = new Set(dashboards.flatMap((d) => d.panels.map((p) => p.title)));
    const quoted = [...section.replace(/\n\s*/g, ' ').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    expect(quoted.length).toBeGreaterThan(0);
    for (const title of quoted) expect(titles.has(title), `panel "${title}"`).toBe(true);
  });
});

it('there is a runbook for every alert, and the index lists each', () => {
  const index = text('README.md');
  for (const file of runbooks) expect(index).toContain(`(${file})`);
  expect(runbooks).toHaveLength(10);
});
