// The Prometheus rules and the Alertmanager config, checked by the real tools (Debian's
// `prometheus` and `prometheus-alertmanager` packages, as CI installs them):
// - `promtool check rules` on every rule file, `promtool test rules` on every unit-test file
//   (each alert fires when it should and stays silent when it should not, tests/*.test.yml);
// - `amtool check-config`, and `amtool config routes test` for where each severity goes;
// - every alert carries severity, service, summary, description and a runbook_url that
//   names a runbook of ops/runbooks/ that exists.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoPath } from '../../ops/generate/index.ts';
import { RUNBOOK_BASE } from '../../ops/generate/slo-spec.ts';
import { findTool, runsWith } from '../helpers/metrics.ts';

const run = promisify(execFile);
const PROMETHEUS_DIR = repoPath('ops/prometheus');
const ruleFiles = readdirSync(PROMETHEUS_DIR)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join(PROMETHEUS_DIR, f));
const testFiles = readdirSync(join(PROMETHEUS_DIR, 'tests'))
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => join(PROMETHEUS_DIR, 'tests', f));
const ALERTMANAGER = repoPath('ops/alertmanager/alertmanager.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules: Rule[] = ruleFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules));
const alerts = rules.filter((r) => r.alert);

const promtool = findTool('promtool');
const amtool = findTool('amtool');

describe.runIf(runsWith(promtool, 'promtool rules'))('promtool', () => {
  it.each(ruleFiles.map((f) => [f.slice(f.lastIndexOf('/') + 1), f]))('check rules %s', async (_name, file) => {
    const { stdout } = await run(promtool!, ['check', 'rules', file]);
    expect(stdout).toContain('SUCCESS');
  });

  it.each(testFiles.map((f) => [f.slice(f.lastIndexOf('/') + 1), f]))(
    'test rules %s',
    async (_name, file) => {
      const result = await run(promtool!, ['test', 'rules', file]).catch((error: { stdout: string; stderr: string }) => error);
      expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
      expect(`${result.stdout}${result.stderr}`).not.toContain('FAILED');
    },
    120_000,
  );

  it("check config: compose.yaml's Prometheus configuration", async () => {
    const { stdout } = await run(promtool!, ['check', 'config', repoPath('ops/compose/prometheus.yml')]);
    expect(stdout).toContain('SUCCESS');
  });

  it('has a unit test for every alert, firing and silent', () => {
    const tested = new Map<string, { fires: boolean; silent: boolean }>();
    for (const file of testFiles) {
      const doc = parse(readFileSync(file, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
      for (const t of doc.tests) {
        for (const a of t.alert_rule_test ?? []) {
          const seen = tested.get(a.alertname) ?? { fires: false, silent: false };
          if (a.exp_alerts?.length) seen.fires = true;
          else seen.silent = true;
          tested.set(a.alertname, seen);
        }
      }
    }
    for (const name of new Set(alerts.map((a) => a.alert!))) expect(tested.get(name), name).toEqual({ fires: true, silent: true });
  });
});

describe.runIf(runsWith(amtool, 'amtool'))('amtool', () => {
  it('accepts the Alertmanager config', async () => {
    const { stdout } = await run(amtool!, ['check-config', ALERTMANAGER]);
    expect(stdout).toContain('SUCCESS');
    expect(stdout).toContain('2 inhibit rules');
  });

  it.each([
    [['severity=page', 'alertname=GlassboxInstanceDown'], 'pager'],
    [['severity=page', 'alertname=GlassboxAvailabilitySLOBurn', 'slo=availability'], 'pager'],
    [['severity=ticket', 'alertname=GlassboxHighLatency'], 'tickets'],
    [['alertname=SomethingUnlabelled'], 'tickets'],
  ])('routes %j to %s', async (labels, receiver) => {
    const { stdout } = await run(amtool!, ['config', 'routes', 'test', `--config.file=${ALERTMANAGER}`, ...labels]);
    expect(stdout.trim()).toBe(receiver);
  });

  it('routes every severity the alerts use to a receiver of its own', () => {
    const config = parse(readFileSync(ALERTMANAGER, 'utf8')) as { route: { routes: { matchers: string[] }[] } };
    const routed = config.route.routes.flatMap((r) => r.matchers);
    for (const severity of new Set(alerts.map((a) => a.labels?.severity))) expect(routed).toContain(`severity="${severity}"`);
  });
});

describe('alerts', () => {
  it('are the ones the runbooks and dashboards are written for', () => {
    expect([...new Set(alerts.map((a) => a.alert))].sort()).toEqual(
      [
        'GlassboxAvailabilitySLOBurn',
        'GlassboxDatabasePoolSaturated',
        'GlassboxEventLoopLagHigh',
        'GlassboxHighErrorRatio',
        'GlassboxHighLatency',
        'GlassboxInstanceDown',
        'GlassboxInstanceNotReady',
        'GlassboxLatencySLOBurn',
        'GlassboxPaymentFailureSpike',
        'GlassboxRedisDisconnected',
      ].sort(),
    );
  });

  it.each(alerts.map((a) => [`${a.alert} (${a.labels?.severity})`, a]))('%s carries severity, summary, description and an existing runbook', (_name, alert) => {
    expect(['page', 'ticket']).toContain(alert.labels?.severity);
    expect(alert.labels?.service).toBe('glassbox');
    expect(alert.annotations?.summary).toBeTruthy();
    expect(alert.annotations?.description).toBeTruthy();
    const url = alert.annotations?.runbook_url ?? '';
    expect(url.startsWith(RUNBOOK_BASE), url).toBe(true);
    const file = repoPath(`ops/runbooks/${url.slice(RUNBOOK_BASE.length)}`);
    expect(existsSync(file), `${url} → ${file}`).toBe(true);
  });
});
