// The order flow's queue contract: queue names, their retry policies and the payload of
// each job. Producers (the order service, the settlement) and the workers (orders.jobs.ts)
// both import this file and never each other, and the composition root declares the
// queues from it, so platform/ never imports a module.
import type { QueueDefinition } from '../../platform/jobs/job-queue.ts';

export const QUEUES = {
  orderConfirmation: 'order-confirmation',
  orderReconcile: 'order-reconcile',
} as const;

export const queueDefinitions: QueueDefinition[] = [
  { name: QUEUES.orderConfirmation, options: { retryLimit: 5, retryDelay: 2, retryBackoff: true, retryDelayMax: 300 } },
  { name: QUEUES.orderReconcile, options: { retryLimit: 20, retryDelay: 10, retryBackoff: true, retryDelayMax: 600 } },
];

/** Sent by a paid order's settlement: one confirmation to the user who ordered. */
export interface OrderConfirmationJob {
  tenant_id: string;
  order_id: string;
  user_id: string;
  request_id: string;
}

/** Sent with every new order, delayed: settles it if it is still pending by then. */
export interface OrderReconcileJob {
  tenant_id: string;
  order_id: string;
}
