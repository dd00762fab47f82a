// From each SLO spec: recording rules (numerator and denominator per window, so a 30-day SLI
// is weighted by traffic, not an average of ratios), the multi-window multi-burn-rate alerts
// of the SRE workbook, and the promtool unit tests of those alerts. Sloth and Pyrra generate
// the rules from a spec too, but no tests; ours tests itself (`promtool test rules`).
import type { SloSpec } from './slo-spec.ts';
import { RUNBOOK_BASE } from './slo-spec.ts';

/** Every window a rule records; the burn alerts read pairs of them, the dashboard all. */
export const WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'] as const;
export type Window = (typeof WINDOWS)[number];

/** The SRE workbook's burn-rate pairs: fire when both windows burn faster than `factor`. */
export const BURN_POLICY = {
  page: [
    { factor: 14.4, long: '1h', short: '5m' },
    { factor: 6, long: '6h', short: '30m' },
  ],
  ticket: [
    { factor: 3, long: '1d', short: '2h' },
    { factor: 1, long: '3d', short: '6h' },
  ],
} as const satisfies Record<string, readonly { factor: number; long: Window; short: Window }[]>;

const GENERATED = (what: string) => `# Generated from ops/slo/*.yaml by \`npm run ops:generate\`: edit the specs, not this file. ${what}\n`;

/** The PromQL of the errors and the total of one SLO over a window, summed per job. */
function sliExprs(spec: SloSpec, w: Window): { errors: string; total: string } {
  const total = `sum by (job) (increase(${spec.sli.total}[${w}]))`;
  // With no error series at all (no 5xx yet) the errors are 0, not absent: the budget panel
  // then reads 100 % instead of "no data".
  const errors = spec.sli.errors
    ? `sum by (job) (increase(${spec.sli.errors}[${w}])) or 0 * ${total}`
    : `${total} - sum by (job) (increase(${spec.sli.good!}[${w}]))`;
  return { errors, total };
}

const sel = (record: string, spec: SloSpec) => `${record}{slo="${spec.name}"}`;

function recordingRules(spec: SloSpec) {
  const labels = { slo: spec.name };
  const rules: Record<string, unknown>[] = [{ record: 'slo:objective:ratio', expr: `vector(${spec.objective})`, labels }];
  for (const w of WINDOWS) {
    const { errors, total } = sliExprs(spec, w);
    rules.push(
      { record: `slo:requests:increase${w}`, expr: total, labels },
      { record: `slo:errors:increase${w}`, expr: errors, labels },
      { record: `slo:error_ratio:ratio${w}`, expr: `${sel(`slo:errors:increase${w}`, spec)} / ${sel(`slo:requests:increase${w}`, spec)}`, labels },
      { record: `slo:burn_rate:ratio${w}`, expr: `${sel(`slo:error_ratio:ratio${w}`, spec)} / ${round(1 - spec.objective)}`, labels },
    );
  }
  rules.push({ record: 'slo:error_budget_remaining:ratio30d', expr: `1 - ${sel('slo:burn_rate:ratio30d', spec)}`, labels });
  return rules;
}

const round = (n: number) => Number(n.toPrecision(12));

function alertRules(spec: SloSpec) {
  const percent = `${round(spec.objective * 100)} %`;
  return (Object.keys(BURN_POLICY) as (keyof typeof BURN_POLICY)[]).map((severity) => {
    const pairs = BURN_POLICY[severity];
    const expr = pairs
      .map(({ factor, long, short }) => `(${sel(`slo:burn_rate:ratio${long}`, spec)} > ${factor} and ${sel(`slo:burn_rate:ratio${short}`, spec)} > ${factor})`)
      .join('\nor\n');
    const days = pairs.map(({ factor }) => `${Math.round((30 / factor) * 10) / 10} days (${factor}×)`).join(' or ');
    return {
      alert: spec.alert.name,
      expr,
      labels: { severity, service: 'glassbox', slo: spec.name },
      annotations: {
        summary: `${spec.name} SLO (${percent}) burning its error budget fast enough to ${severity === 'page' ? 'page' : 'file a ticket'}`,
        description:
          `{{ $labels.job }}: ${spec.description} At the burn rate of both windows of a pair (${pairs.map((p) => `${p.long} and ${p.short}`).join('; ')}), ` +
          `the 30-day error budget would be gone in ${days}.`,
        runbook_url: `${RUNBOOK_BASE}${spec.alert.runbook}`,
      },
    };
  });
}

/** ops/prometheus/slo-rules.yml as an object (YAML is written by the caller). */
export function sloRules(specs: SloSpec[]) {
  return {
    groups: specs.flatMap((spec) => [
      { name: `slo-${spec.name}-sli`, rules: recordingRules(spec) },
      { name: `slo-${spec.name}-alerts`, rules: alertRules(spec) },
    ]),
  };
}

// ---- tests -------------------------------------------------------------------------------

/** Requests a minute in every generated test. */
const TRAFFIC = 1000;

/**
 * A counter that grows by `rate` a minute for `minutes` minutes, segment after segment, in
 * promtool's expanding notation ('a+bxn' is n+1 samples a, a+b, …, a+nb, one a minute).
 */
export function counterSeries(segments: [rate: number, minutes: number][]): string {
  const out: string[] = [];
  let value = 0;
  segments.forEach(([rate, minutes], i) => {
    if (i === 0) {
      out.push(`0+${fmt(rate)}x${minutes}`);
      value = rate * minutes;
    } else {
      const start = value + rate;
      out.push(minutes > 1 ? `${fmt(start)}+${fmt(rate)}x${minutes - 1}` : fmt(start));
      value += rate * minutes;
    }
  });
  return out.join(' ');
}
const fmt = (n: number) => String(Number(n.toFixed(6)));

interface Case {
  title: string;
  /** Bad events a minute as multiples of the error budget (1 = burning exactly the budget). */
  burn: [multiple: number, minutes: number][];
  at: string;
  fires: (keyof typeof BURN_POLICY)[];
}

const CASES: Case[] = [
  { title: 'a fast burn (20x) pages and files a ticket', burn: [[20, 70]], at: '65m', fires: ['page', 'ticket'] },
  { title: 'a slow burn (5x for a day) files a ticket and does not page', burn: [[5, 1560]], at: '25h', fires: ['ticket'] },
  { title: 'a burn just under the budget (0.9x for a day) stays silent', burn: [[0.9, 1560]], at: '25h', fires: [] },
  {
    title: 'a short spike (50x for 5 minutes after a clean day) is silent 10 minutes later',
    burn: [
      [0, 1440],
      [50, 5],
      [0, 30],
    ],
    at: '1455m',
    fires: [],
  },
];

/** ops/prometheus/tests/slo-<name>.test.yml as an object. */
export function sloTests(spec: SloSpec) {
  const budget = 1 - spec.objective;
  const alerts = alertRules(spec);
  return {
    rule_files: ['../slo-rules.yml'],
    // promtool evaluates rule groups in no fixed order unless told: the alerts read the SLI
    // group's series at the same instant, so they must run after it, or a case near a
    // threshold passes or fails by chance.
    group_eval_order: [`slo-${spec.name}-sli`, `slo-${spec.name}-alerts`],
    // No alert has a `for`: evaluating every 5 minutes tests the same conditions, five times faster.
    evaluation_interval: '5m',
    tests: CASES.map((c) => {
      const bad = c.burn.map(([multiple, minutes]): [number, number] => [multiple * budget * TRAFFIC, minutes]);
      const good = bad.map(([b, minutes]): [number, number] => [TRAFFIC - b, minutes]);
      const minutes = c.burn.reduce((n, [, m]) => n + m, 0);
      const input_series = [
        { series: spec.test.good, values: counterSeries(good) },
        spec.test.bad ? { series: spec.test.bad, values: counterSeries(bad) } : { series: spec.test.total!, values: counterSeries([[TRAFFIC, minutes]]) },
        // Outside the SLI: all of it bad. Counted by mistake, it would fire every case.
        { series: spec.test.ignored, values: counterSeries([[TRAFFIC, minutes]]) },
      ];
      return {
        name: `${spec.name}: ${c.title}`,
        interval: '1m',
        input_series,
        alert_rule_test: [
          {
            eval_time: c.at,
            alertname: spec.alert.name,
            exp_alerts: alerts
              .filter((a) => c.fires.includes(a.labels.severity))
              .map((a) => ({
                exp_labels: { ...a.labels, job: 'glassbox' },
                exp_annotations: { ...a.annotations, description: a.annotations.description.replace('{{ $labels.job }}', 'glassbox') },
              })),
          },
        ],
      };
    }),
  };
}

export const SLO_RULES_HEADER = GENERATED('Rules: numerator and denominator per window, burn rates, budget, burn alerts.');
export const SLO_TESTS_HEADER = GENERATED('promtool unit tests of the burn alerts: `promtool test rules <this file>`.');
