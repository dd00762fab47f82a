// Settling an order's payment: charge the gateway outside any transaction, then record the
// outcome in one transaction. Used by POST /api/orders right after the order is reserved,
// and by the reconciler for orders left pending (a crash or an unreachable gateway).
//
// Why it cannot charge twice: the charge's idempotency key is the order id, and the
// outcome is written under a row lock only while the order is still pending.
import type { Logger } from '../../observability/logging/logger.ts';
import type { Metrics } from '../../observability/metrics/metrics.ts';
import { withSpan } from '../../observability/tracing/tracer.ts';
import type { Database, Queryable } from '../../platform/db/database.ts';
import { errorBody } from '../../platform/http/app-error.ts';
import type { JobQueue } from '../../platform/jobs/job-queue.ts';
import { PaymentGatewayUnavailableError, type ChargeResult, type PaymentGateway } from '../payments/payment-gateway.ts';
import { productsRepository } from '../products/products.repository.ts';
import { idempotencyRepository } from './idempotency.repository.ts';
import { ordersRepository, type PendingOrder } from './orders.repository.ts';
import type { OrderView } from './orders.schemas.ts';
import { QUEUES, type OrderConfirmationJob } from './orders.queues.ts';

/** The HTTP answer for an idempotency key, serialized once and replayed byte for byte. */
export interface StoredResponse {
  statusCode: number;
  body: string;
}

/** The stored 402 of a declined charge: the same error body as every other error, serialized once for replays. */
export function paymentFailedBody(requestId: string, reason: string): string {
  return JSON.stringify(
    errorBody({
      requestId,
      code: 'payment_failed',
      message: 'The payment was declined',
      details: [{ field: 'payment_method', message: `declined: ${reason}`, reason }],
    }),
  );
}

export interface SettlementDeps {
  db: Database;
  gateway: PaymentGateway;
  jobs: JobQueue;
  metrics: Metrics;
}

/** What a committed settlement tells the business metrics. */
type Settled = { status: 'paid'; view: OrderView } | { status: 'failed'; reason: string };

export function orderSettlement(deps: SettlementDeps) {
  /** Counted once the outcome is committed: a rolled-back settlement earned nothing. */
  function countSettled(tenantId: string, settled: Settled): void {
    if (settled.status === 'paid') {
      deps.metrics.order(tenantId, 'paid');
      // Prices are in cents of the order's currency; only US dollars exist so far.
      if (settled.view.currency === 'USD') {
        for (const item of settled.view.items) deps.metrics.revenue(tenantId, item.name, (item.quantity * item.unit_price_cents) / 100);
      }
    } else {
      deps.metrics.order(tenantId, 'failed');
      deps.metrics.paymentFailed(tenantId, settled.reason);
    }
  }

  function charge(tenantId: string, order: PendingOrder): Promise<ChargeResult> {
    const attributes = { 'order.id': order.id, 'payment.provider': deps.gateway.provider, 'payment.amount_cents': order.total_cents };
    return withSpan('charge_payment', attributes, async (span) => {
      let result: ChargeResult;
      try {
        result = await deps.gateway.charge({
          idempotencyKey: order.id,
          amountCents: order.total_cents,
          currency: order.currency,
          paymentMethod: order.payment_method,
        });
      } catch (error) {
        // The order stays pending for the reconciler, but this attempt failed: on-call sees it.
        if (error instanceof PaymentGatewayUnavailableError) deps.metrics.paymentFailed(tenantId, 'gateway_unavailable');
        throw error;
      }
      span.setAttributes({ 'payment.outcome': result.status, ...(result.status === 'declined' ? { 'payment.decline_reason': result.reason } : {}) });
      return result;
    });
  }

  /** Records a charge's outcome; returns the stored answer, or undefined if another settlement won. */
  async function record(tenantId: string, orderId: string, result: ChargeResult, log: Logger): Promise<StoredResponse | undefined> {
    let settled: Settled | undefined;
    const stored = await deps.db.withTenant(tenantId, async (tx) => {
      settled = undefined; // set again only by the attempt that commits
      const order = await ordersRepository.lockForSettlement(tx, orderId);
      if (!order || order.status !== 'pending') return undefined;
      const idempotency = await idempotencyRepository.findForOrder(tx, order.idempotency_key, orderId);
      const requestId = idempotency?.request_id ?? 'reconciler';
      let response: StoredResponse;
      if (result.status === 'captured') {
        await ordersRepository.markPaid(tx, order.id, order.payment_id, result.providerReference);
        await enqueueConfirmation(tx, { tenant_id: tenantId, order_id: order.id, user_id: order.user_id, request_id: requestId });
        const view = await ordersRepository.view(tx, order.id);
        if (!view) throw new Error('paid order has no view');
        settled = { status: 'paid', view };
        response = { statusCode: 201, body: JSON.stringify(view) };
        log.info({ order_id: order.id, total_cents: order.total_cents, payment_id: order.payment_id }, 'order_paid');
      } else {
        await ordersRepository.markFailed(tx, order.id, order.payment_id, result.providerReference, result.reason);
        const items = await ordersRepository.items(tx, order.id);
        await productsRepository.adjustStock(
          tx,
          items.map((i) => i.product_id),
          items.map((i) => i.quantity),
        );
        settled = { status: 'failed', reason: result.reason };
        response = { statusCode: 402, body: paymentFailedBody(requestId, result.reason) };
        log.warn({ order_id: order.id, payment_id: order.payment_id, reason: result.reason }, 'payment_failed');
      }
      if (idempotency) await idempotencyRepository.complete(tx, idempotency.key, response.statusCode, response.body);
      return response;
    });
    if (settled) countSettled(tenantId, settled);
    return stored;
  }

  /** Enqueued in the settling transaction; the job's span continues this one's trace. */
  function enqueueConfirmation(tx: Queryable, job: OrderConfirmationJob) {
    return withSpan('send_confirmation', { 'order.id': job.order_id, 'messaging.destination.name': QUEUES.orderConfirmation }, () =>
      deps.jobs.send(QUEUES.orderConfirmation, job, { tx, singletonKey: job.order_id }),
    );
  }

  return {
    charge,
    record,
    /** Reconciles one order: no-op unless it is still pending. Throws when the gateway is unreachable, so the job retries. */
    async reconcile(tenantId: string, orderId: string, log: Logger): Promise<'settled' | 'already_settled'> {
      const order = await deps.db.withTenant(tenantId, (tx) => ordersRepository.findForCharge(tx, orderId));
      if (!order || order.status !== 'pending') return 'already_settled';
      const result = await charge(tenantId, order);
      const stored = await record(tenantId, orderId, result, log);
      if (stored) log.info({ order_id: orderId, outcome: result.status }, 'order_reconciled');
      return stored ? 'settled' : 'already_settled';
    },
  };
}
