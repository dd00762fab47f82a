// The order flow's queue contract: queue names, their retry policies and the payload of
// each job. Producers (the order service, the settlement) and the workers (orders.jobs.ts)
// both import this file and never each other, and the composition root declares the
// queues from it, so platform/ never imports a module.
import type { QueueDefinition } from '../../platform/jobs/job-queue.ts';

export const QUEUES = {
  orderConfirmation: 'order-confirmation',
  /** No longer sent (the sweeper replaced it); its worker drains jobs an older version queued. */
  orderReconcile: 'order-reconcile',
  /** The periodic sweep that settles orders left pending: one job per slot across replicas. */
  orderSweep: 'order-sweep',
} as const;

export const queueDefinitions: QueueDefinition[] = [
  { name: QUEUES.orderConfirmation, options: { retryLimit: 5, retryDelay: 2, retryBackoff: true, retryDelayMax: 300 } },
  { name: QUEUES.orderReconcile, options: { retryLimit: 20, retryDelay: 10, retryBackoff: true, retryDelayMax: 600 } },
  // A failed sweep is not retried: the next slot's sweep starts over from the database.
  { name: QUEUES.orderSweep, options: { retryLimit: 0 } },
];

/** Sent by a paid order's settlement: one confirmation to the user who ordered. */
export interface OrderConfirmationJob {
  tenant_id: string;
  order_id: string;
  user_id: string;
  request_id: string;
}

/** Was sent with every new order, delayed (before the sweeper): settles it if still pending. */
export interface OrderReconcileJob {
  tenant_id: string;
  order_id: string;
}
