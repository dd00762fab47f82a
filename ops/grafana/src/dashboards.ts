import type { SloSpec } from '../../generate/slo-spec.ts';
export function renderDashboards(_specs: SloSpec[]): Record<string, string> {
  return {};
}
