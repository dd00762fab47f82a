// Glassbox / SLOs, generated from ops/slo/*.yaml: per SLO its error budget left, its burn rate
// per window and the events that burned it, all read from the slo:* recording rules that
// ops/generate/slo.ts writes from the same specs (so a new spec gets its row by itself). The
// SLO series are per job: the instance and route variables do not filter them.
import type { SloSpec } from '../../generate/slo-spec.ts';
import { BURN_POLICY, WINDOWS } from '../../generate/slo.ts';
import { newDashboard, row, series, single, type Steps } from './panels.ts';

const percent = (ratio: number) => `${Number((ratio * 100).toPrecision(6))} %`;

/** The factors the burn alerts fire at, as dashed lines: ticket (1×, 3×) then page (6×, 14.4×). */
const BURN_LINES: Steps = {
  base: 'green',
  steps: [
    ...BURN_POLICY.ticket.map(({ factor }): [number, string] => [factor, 'orange']),
    ...BURN_POLICY.page.map(({ factor }): [number, string] => [factor, 'red']),
  ].sort((a, b) => a[0] - b[0]),
};

const pairs = (severity: keyof typeof BURN_POLICY) => BURN_POLICY[severity].map((p) => `${p.factor}× over ${p.long} and ${p.short}`).join(', or ');

export function sloDashboard(specs: SloSpec[]) {
  let board = newDashboard(
    'glassbox-slo',
    'Glassbox / SLOs',
    'Generated from ops/slo/*.yaml: error budget left over 30 days, burn rate per window (1 = spending exactly the budget), and the events that burned it. The SLO series are per job, so the instance and route variables do not filter them.',
  );
  for (const spec of specs) {
    const slo = `slo="${spec.name}",job="glassbox"`;
    board = board
      .withRow(row(`${spec.name}: ${spec.description} Objective ${percent(spec.objective)} over ${spec.period}`))
      .withPanel(
        single(
          `${spec.name}: error budget left`,
          'percentunit',
          { expr: `slo:error_budget_remaining:ratio30d{${slo}}` },
          {
            w: 6,
            decimals: 1,
            description: `Share of the 30-day error budget (${percent(1 - spec.objective)} of events) not spent yet; below 0 the SLO is missed.`,
            thresholds: {
              base: 'red',
              steps: [
                [0, 'orange'],
                [0.25, 'green'],
              ],
            },
          },
        ),
      )
      .withPanel(
        series(
          `${spec.name}: burn rate by window`,
          'short',
          WINDOWS.map((w) => ({ expr: `slo:burn_rate:ratio${w}{${slo}}`, legend: w })),
          {
            w: 12,
            min: 0,
            thresholds: BURN_LINES,
            description: `How fast the budget burns over each window (1 = exactly the budget in 30 days). ${spec.alert.name} pages at ${pairs('page')}; files a ticket at ${pairs('ticket')}.`,
          },
        ),
      )
      .withPanel(
        series(
          `${spec.name}: events that burned the budget`,
          'short',
          [
            { expr: `slo:errors:increase5m{${slo}}`, legend: 'bad events / 5 m' },
            { expr: `slo:requests:increase5m{${slo}}`, legend: 'all events / 5 m' },
          ],
          { w: 6, description: `The SLI's events over each 5 minutes (good: ${spec.description}); the bad ones spent the budget.` },
        ),
      );
  }
  return board;
}
