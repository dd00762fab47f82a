// `npm run ops:generate`: every generated file of ops/ from its source (the SLO specs of
// ops/slo/, the dashboards of ops/grafana/src/). test/ops/generated.test.ts fails when a
// committed file differs from what this renders, so a spec edited without regenerating
// never reaches main.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { stringify } from 'yaml';
import { renderDashboards } from '../grafana/src/dashboards.ts';
import { sloRules, sloTests, SLO_RULES_HEADER, SLO_TESTS_HEADER } from './slo.ts';
import { loadSlos, OPS_DIR } from './slo-spec.ts';

const REPO = join(OPS_DIR, '..');

/** As prettier writes it with the repository's settings, so `prettier --check .` and the staleness test agree. */
const pretty = async (text: string, parser: 'yaml' | 'json') => format(text, { ...(await resolveConfig(join(REPO, 'package.json'))), parser });
const yaml = async (header: string, value: unknown) => pretty(header + stringify(value, { lineWidth: 0, aliasDuplicateObjects: false }), 'yaml');

/** Repository-relative path → file content, for every generated file. */
export async function renderAll(): Promise<Record<string, string>> {
  const specs = loadSlos();
  const files: Record<string, string> = {
    'ops/prometheus/slo-rules.yml': await yaml(SLO_RULES_HEADER, sloRules(specs)),
  };
  for (const spec of specs) files[`ops/prometheus/tests/slo-${spec.name}.test.yml`] = await yaml(SLO_TESTS_HEADER, sloTests(spec));
  for (const [name, json] of Object.entries(renderDashboards(specs))) {
    files[`ops/grafana/dashboards/${name}`] = await pretty(json, 'json');
  }
  return files;
}

export const repoPath = (relative: string) => join(REPO, relative);

if (import.meta.main) {
  for (const [relative, content] of Object.entries(await renderAll())) {
    mkdirSync(dirname(repoPath(relative)), { recursive: true });
    writeFileSync(repoPath(relative), content);
    console.log(`wrote ${relative}`);
  }
}
