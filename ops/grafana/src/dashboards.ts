// Glassbox's four dashboards, as code: file name → the dashboard model Grafana imports as is
// (ops/grafana/provisioning/dashboards loads ops/grafana/dashboards/*.json). Rendered
// deterministically (no timestamps or random ids; panel ids numbered in order) in prettier's
// layout, so the committed files are exactly this output. ops/generate/dashboards.ts writes them.
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { loadSlos, type SloSpec } from '../../generate/slo-spec.ts';
import { businessDashboard } from './business.ts';
import { prettyJson } from './json.ts';
import { resourcesDashboard } from './resources.ts';
import { serviceDashboard } from './service.ts';
import { sloDashboard } from './slo.ts';

/** The dashboard models, by file name. */
export function dashboardModels(specs: SloSpec[]): Record<string, dashboard.Dashboard> {
  const builders = {
    'service.json': serviceDashboard(),
    'resources.json': resourcesDashboard(),
    'business.json': businessDashboard(),
    'slo.json': sloDashboard(specs),
  };
  return Object.fromEntries(
    Object.entries(builders).map(([file, builder]) => {
      const model = builder.build();
      // Stable ids: Grafana's panel links (viewPanel=<id>) survive a regeneration.
      model.panels?.forEach((panel, i) => (panel.id = i + 1));
      return [file, model];
    }),
  );
}

/**
 * File name → dashboard JSON text (trailing newline, prettier-stable), from the SLO specs of ops/slo/.
 * ops/generate/dashboards.ts wraps it as renderDashboards(); ops/generate/index.ts passes the specs it loaded.
 */
export function renderDashboards(specs: SloSpec[] = loadSlos()): Record<string, string> {
  return Object.fromEntries(Object.entries(dashboardModels(specs)).map(([file, model]) => [file, prettyJson(model)]));
}
