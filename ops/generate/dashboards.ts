// The dashboards' generator: ops/grafana/src/*.ts (one file per dashboard, the SLO one from
// ops/slo/*.yaml) → ops/grafana/dashboards/*.json. `npm run ops:generate` runs it with the
// rest of the generated files; `npm run ops:dashboards` runs it alone.
// test/ops/dashboards.test.ts fails when a committed file differs from renderDashboards().
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDashboards as render } from '../grafana/src/dashboards.ts';

export const DASHBOARDS_DIR = join(import.meta.dirname, '..', 'grafana', 'dashboards');

/** File name (service.json, resources.json, business.json, slo.json) → JSON text; pure, deterministic. */
export function renderDashboards(): Record<string, string> {
  return render();
}

/** Writes every dashboard to ops/grafana/dashboards/. */
export function writeDashboards(): void {
  mkdirSync(DASHBOARDS_DIR, { recursive: true });
  for (const [file, json] of Object.entries(renderDashboards())) writeFileSync(join(DASHBOARDS_DIR, file), json);
}

if (import.meta.main) {
  writeDashboards();
  console.log(`wrote ${Object.keys(renderDashboards()).join(', ')} to ops/grafana/dashboards/`);
}
