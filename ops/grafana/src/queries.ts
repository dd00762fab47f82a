// Every panel query of the committed dashboards, and the substitution of Grafana's variables
// that turns one into PromQL a Prometheus answers as is: what the live test
// (test/ops/prometheus-live.test.ts) and the metrics-used test run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARDS_DIR = join(import.meta.dirname, '..', 'dashboards');

export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
  instant: boolean;
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr?: string; instant?: boolean }[];
  panels?: Panel[];
}

/** Every target of every panel of the committed dashboards (rows' panels included), by file name order; `dashboard` is the uid. */
export function panelQueries(dir = DASHBOARDS_DIR): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const board = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { uid: string; panels: Panel[] };
    const walk = (panels: Panel[]) => {
      for (const p of panels) {
        for (const t of p.targets ?? []) if (t.expr) out.push({ dashboard: board.uid, panel: p.title, expr: t.expr, instant: Boolean(t.instant) });
        if (p.panels) walk(p.panels);
      }
    };
    walk(board.panels);
  }
  return out;
}

/**
 * Grafana's variables as a Prometheus answers the query as is: "All" (`.*`) for the instance
 * and route variables, fixed durations for the interval ones; `$name`, `${name}` and
 * `${name:format}` alike. `values` overrides or adds some.
 */
const VARIABLES: Record<string, string> = { instance: '.*', route: '.*', __rate_interval: '1m', __interval: '15s', __range: '1h' };

export function substituteVariables(expr: string, values: Record<string, string> = {}): string {
  const all = { ...VARIABLES, ...values };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (match, braced: string | undefined, bare: string | undefined) => all[braced ?? bare ?? ''] ?? match);
}
