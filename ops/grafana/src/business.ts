// Glassbox / Business: what the tenants do. Only the API-call series carry a route label; the
// route variable filters those two panels.
import { bars, newDashboard, rate, ROUTE, SERVICE, series, single } from './panels.ts';

const REVENUE = `revenue_total_usd{${SERVICE}}`;

/**
 * USD captured over the panel's range ($__range; "today" with the panel time `now/d`).
 * revenue_total_usd is a gauge that only grows and starts at 0 with each process, so: for a
 * series that existed when the range began, its increase (which sees a restart as a reset);
 * for one born within the range (a new process, a first sale of a product), all of its value,
 * which increase() would miss up to the first scrape. Each part is 0, not absent, when empty.
 */
const REVENUE_THEN = `(${REVENUE} offset $__range)`;
const revenueToday = `(sum(increase(${REVENUE}[$__range]) and ${REVENUE_THEN}) or vector(0)) + (sum(${REVENUE} unless ${REVENUE_THEN}) or vector(0))`;

const perMinute = (metric: string, by: string) => ({
  expr: `60 * sum by (${by}) (${rate(`${metric}{${SERVICE}}`)})`,
  legend: `{{${by}}}`,
});

export function businessDashboard() {
  return newDashboard(
    'glassbox-business',
    'Glassbox / Business',
    'What the tenants do: revenue, orders, payments, signups, usage. Tenant, product and reason labels are capped (METRICS_MAX_TENANTS; beyond it: "other").',
  )
    .withPanel(
      single(
        'Revenue today',
        'currencyUSD',
        { expr: revenueToday },
        { timeFrom: 'now/d', decimals: 2, description: 'USD of captured payments since midnight (dashboard time zone), all tenants.' },
      ),
    )
    .withPanel(
      single(
        'Active users',
        'short',
        { expr: `sum(active_users{${SERVICE}})` },
        { description: 'Distinct users seen in the last 15 minutes, counted by each instance and summed: a user served by two instances counts twice.' },
      ),
    )
    .withPanel(
      single(
        'API calls (24 h)',
        'short',
        { expr: `sum(increase(api_calls_total{${ROUTE}}[24h]))` },
        { description: 'Authenticated API calls over the last 24 hours, on the chosen routes.', w: 12 },
      ),
    )
    .withPanel(series('Orders by status', 'cpm', [perMinute('orders_total', 'status')], { description: 'Orders settled a minute, by final status.' }))
    .withPanel(
      series('Failed payments by reason', 'cpm', [perMinute('payments_failed_total', 'reason')], {
        description: 'Payments refused or failed a minute, by reason. GlassboxPaymentFailureSpike pages when failures pass 20 % of orders.',
      }),
    )
    .withPanel(series('Signups by source', 'cpm', [perMinute('user_signups_total', 'source')], { description: 'Users signed up a minute, by source.' }))
    .withPanel(
      bars(
        'Noisiest tenants (top 10)',
        'short',
        { expr: `topk(10, sum by (tenant_id) (increase(api_calls_total{${ROUTE}}[24h])))`, legend: '{{tenant_id}}' },
        { description: 'The ten tenants with the most API calls over the last 24 hours, on the chosen routes.' },
      ),
    );
}
