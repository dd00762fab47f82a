// The business group (`business: true`): revenue, signups, orders and failed payments, each
// labelled by tenant. Their label values come from customers (tenant ids, product names,
// signup sources, a gateway's decline codes), so every one is capped here (bounded-label.ts):
// the series count has a bound whatever the traffic.
import { Counter, Gauge, type OpenMetricsContentType, type Registry } from 'prom-client';
import { BoundedLabel, NestedBoundedLabel } from './bounded-label.ts';
import type { Metrics } from './metrics-types.ts';

/** Per tenant, product label values beyond this count as `other`. */
export const MAX_PRODUCTS_PER_TENANT = 50;
/** Decline reasons come from the gateway; a misbehaving one must not mint series. */
export const MAX_FAILURE_REASONS = 20;

export type BusinessMetrics = Pick<Metrics, 'revenue' | 'signup' | 'order' | 'paymentFailed'>;

export function businessMetrics(registry: Registry<OpenMetricsContentType>, options: { maxTenants: number }): BusinessMetrics {
  const registers = [registry];
  // A gauge that only ever goes up. The CONTRACT fixes the name, and a counter must end in
  // `_total` (promtool rejects it otherwise, and OpenMetrics would expose it as
  // `revenue_total_usd_total`); rate() and increase() work on it all the same.
  const revenue = new Gauge({
    name: 'revenue_total_usd',
    help: 'Revenue of captured payments in US dollars since the process started, by tenant and product (only increases).',
    labelNames: ['tenant_id', 'product'] as const,
    registers,
  });
  const signups = new Counter({
    name: 'user_signups_total',
    help: 'Users signed up, by tenant and source.',
    labelNames: ['tenant_id', 'source'] as const,
    registers,
  });
  const orders = new Counter({
    name: 'orders_total',
    help: 'Orders settled, by tenant and final status (paid, failed).',
    labelNames: ['tenant_id', 'status'] as const,
    registers,
  });
  const paymentsFailed = new Counter({
    name: 'payments_failed_total',
    help: 'Payments that did not capture, by tenant and reason (a decline code, or gateway_unavailable).',
    labelNames: ['tenant_id', 'reason'] as const,
    registers,
  });

  /** One cap per metric, so a tenant crowded out of one metric still shows in the others. */
  const tenantCap = () => new BoundedLabel(options.maxTenants);
  const caps = {
    revenue: tenantCap(),
    revenueProduct: new NestedBoundedLabel(MAX_PRODUCTS_PER_TENANT),
    signups: tenantCap(),
    signupSource: new BoundedLabel(MAX_FAILURE_REASONS),
    orders: tenantCap(),
    paymentsFailed: tenantCap(),
    failureReason: new BoundedLabel(MAX_FAILURE_REASONS),
  };

  return {
    revenue(tenantId, product, usd) {
      const tenant = caps.revenue.value(tenantId);
      revenue.inc({ tenant_id: tenant, product: caps.revenueProduct.value(tenant, product) }, usd);
    },
    signup: (tenantId, source) => signups.inc({ tenant_id: caps.signups.value(tenantId), source: caps.signupSource.value(source) }),
    order: (tenantId, status) => orders.inc({ tenant_id: caps.orders.value(tenantId), status }),
    paymentFailed: (tenantId, reason) => paymentsFailed.inc({ tenant_id: caps.paymentsFailed.value(tenantId), reason: caps.failureReason.value(reason) }),
  };
}
