// Glassbox / Service (RED): rate, errors and duration of the requests callers make. The lines
// of the chosen instances and routes come from the raw series (the RED recording rules keep
// no `instance` label); next to them, the recorded series the alerts read, which carry no
// instance and so show while the instance variable is "All".
import { CALLERS, newDashboard, rate, ROUTE, row, SERVICE, series } from './panels.ts';

/** A recorded service-wide series, shown when every instance is chosen (its `instance` label is empty). */
const RECORDED = SERVICE;

const latency = (q: number) => ({
  expr: `histogram_quantile(${q}, sum by (endpoint, le) (${rate(`http_request_duration_seconds_bucket{${CALLERS}}`)}))`,
  legend: `p${Math.round(q * 100)} {{endpoint}}`,
  exemplar: true,
});

export function serviceDashboard() {
  return newDashboard(
    'glassbox-service',
    'Glassbox / Service (RED)',
    'Rate, errors and duration of the requests callers make (probes and scrapes left out, except in "Requests by status"). The "recorded" lines are the series the alerts read: all instances, 5-minute windows.',
  )
    .withRow(row('Requests'))
    .withPanel(
      series(
        'Request rate',
        'reqps',
        [
          { expr: `sum by (instance) (${rate(`http_requests_total{${CALLERS}}`)})`, legend: '{{instance}}' },
          {
            expr: `sum by (job) (job_endpoint:http_requests:rate5m{${RECORDED},endpoint=~"$route",endpoint!~"/health/.*|/metrics"})`,
            legend: 'all instances, 5 m (recorded)',
          },
        ],
        { description: 'Requests a second per instance, on the chosen routes. An instance that stops taking traffic drops to no line.' },
      ),
    )
    .withPanel(
      series(
        'Error ratio',
        'percentunit',
        [
          {
            expr: `(sum(${rate(`http_requests_total{${CALLERS},status=~"5.."}`)}) or vector(0)) / sum(${rate(`http_requests_total{${CALLERS}}`)})`,
            legend: '5xx share, chosen instances and routes',
          },
          { expr: `job:http_request_error_ratio:rate5m{${RECORDED}}`, legend: 'all routes, 5 m (GlassboxHighErrorRatio reads this)' },
        ],
        {
          description: 'Share of requests answered 5xx. GlassboxHighErrorRatio pages above 5 % for 5 minutes (dashed line).',
          thresholds: { base: 'green', steps: [[0.05, 'red']] },
          min: 0,
        },
      ),
    )
    .withPanel(
      series(
        'Latency p50 / p95 / p99 by route',
        's',
        [
          latency(0.5),
          latency(0.95),
          latency(0.99),
          { expr: `job:http_request_duration_seconds:p95_5m{${RECORDED}}`, legend: 'p95 all routes, 5 m (GlassboxHighLatency reads this)' },
        ],
        {
          description:
            'From http_request_duration_seconds. The dots are exemplars, a sampled request of that bucket: hover one and open its trace (trace_id). Dashed lines: the latency SLO (500 ms) and GlassboxHighLatency (p95 above 1 s for 10 minutes).',
          thresholds: {
            base: 'green',
            steps: [
              [0.5, 'orange'],
              [1, 'red'],
            ],
          },
          traces: true,
          w: 24,
        },
      ),
    )
    .withPanel(
      series('Requests in flight', 'short', [{ expr: `sum by (instance) (http_requests_in_flight{${SERVICE}})`, legend: '{{instance}}' }], {
        description: 'Requests being handled right now, per instance (every route: the gauge has no route label).',
      }),
    )
    .withPanel(
      series('Requests by status', 'reqps', [{ expr: `sum by (status) (${rate(`http_requests_total{${ROUTE}}`)})`, legend: '{{status}}' }], {
        description: 'Every request, probes and scrapes included: pick route /health/ready to see readiness answering 503.',
      }),
    );
}
