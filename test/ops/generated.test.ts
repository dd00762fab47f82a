// Every generated file of ops/ (SLO rules and their promtool tests, the dashboards) is
// committed as `npm run ops:generate` writes it from its source today: a spec or a dashboard
// edited without regenerating fails here, and a generator that starts to write something
// else (a timestamp, a random id, another order) fails too.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderAll, repoPath } from '../../ops/generate/index.ts';

describe('generated ops files', () => {
  it('are what `npm run ops:generate` writes from ops/slo and ops/grafana/src today', async () => {
    const files = await renderAll();
    expect(Object.keys(files).sort()).toEqual([
      'ops/grafana/dashboards/business.json',
      'ops/grafana/dashboards/resources.json',
      'ops/grafana/dashboards/service.json',
      'ops/grafana/dashboards/slo.json',
      'ops/prometheus/slo-rules.yml',
      'ops/prometheus/tests/slo-availability.test.yml',
      'ops/prometheus/tests/slo-latency.test.yml',
    ]);
    for (const [relative, content] of Object.entries(files)) {
      const path = repoPath(relative);
      expect(existsSync(path), `${relative} is missing: run npm run ops:generate`).toBe(true);
      expect(readFileSync(path, 'utf8'), `${relative} is stale: run npm run ops:generate`).toBe(content);
    }
  });

  it('renders the same bytes twice (no timestamps or random ids)', async () => {
    expect(await renderAll()).toEqual(await renderAll());
  });
});
