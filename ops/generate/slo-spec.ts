// The SLO specs of ops/slo/*.yaml, read and checked. Each SLO is written once there; the
// recording rules, the burn-rate alerts, their promtool tests and the SLO dashboard are
// generated from it (slo.ts, ../grafana/src/slo-dashboard.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const OPS_DIR = join(import.meta.dirname, '..');
export const SLO_DIR = join(OPS_DIR, 'slo');

/** Where every runbook_url points: the runbooks as the repository publishes them. */
export const RUNBOOK_BASE = 'https://github.com/glassbox-dev/glassbox/blob/main/ops/runbooks/';

export interface SloSpec {
  name: string;
  description: string;
  /** The share of events that must be good, e.g. 0.999. */
  objective: number;
  period: '30d';
  /** Counter selectors: either errors and total, or good and total (errors = total - good). */
  sli: { total: string; errors?: string; good?: string };
  alert: { name: string; runbook: string };
  /** Series the generated tests feed (see the spec files). */
  test: { good: string; bad?: string; total?: string; ignored: string };
}

const NAME = /^[a-z][a-z0-9_]*$/;

function check(spec: SloSpec, file: string): SloSpec {
  const fail = (why: string) => {
    throw new Error(`${file}: ${why}`);
  };
  if (!NAME.test(spec.name)) fail(`name must match ${NAME}`);
  if (!(spec.objective > 0 && spec.objective < 1)) fail('objective must be between 0 and 1, e.g. 0.999');
  if (spec.period !== '30d') fail('period: only 30d is supported');
  if (!spec.sli?.total || Boolean(spec.sli.errors) === Boolean(spec.sli.good)) fail('sli needs total and exactly one of errors or good');
  if (!/^[A-Z][A-Za-z]+$/.test(spec.alert?.name ?? '')) fail('alert.name must be an alert name like GlassboxAvailabilitySLOBurn');
  if (!/^[a-z0-9-]+\.md$/.test(spec.alert.runbook ?? '')) fail('alert.runbook must be a file name under ops/runbooks/');
  if (!spec.test?.good || !spec.test.ignored || Boolean(spec.test.bad) === Boolean(spec.test.total))
    fail('test needs good, ignored and exactly one of bad or total');
  return spec;
}

/** Every spec, by file name order (the output is stable). */
export function loadSlos(dir = SLO_DIR): SloSpec[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => check(parse(readFileSync(join(dir, f), 'utf8')) as SloSpec, f));
}
