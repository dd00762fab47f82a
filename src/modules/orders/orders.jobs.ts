// The order flow's background jobs: the confirmation "e-mail" after a paid order, and the
// sweeper that settles orders left pending (the process died between reserving and
// settling, or the payment provider did not answer). Each order is handled with its tenant's
// row-level security, and every job is safe to run twice.
import type { Logger } from '../../observability/logging/logger.ts';
import type { Database } from '../../platform/db/database.ts';
import type { JobQueue } from '../../platform/jobs/job-queue.ts';
import { usersRepository } from '../users/users.repository.ts';
import { ordersRepository } from './orders.repository.ts';
import type { orderSettlement } from './order-settlement.ts';
import { QUEUES, type OrderConfirmationJob, type OrderReconcileJob } from './orders.queues.ts';

/** Where confirmations go. The default writes a log line; a real mailer implements the same. */
export interface ConfirmationSender {
  send(message: { to: string; orderId: string; totalCents: number; currency: string }, log: Logger): Promise<void>;
}

export const logConfirmationSender: ConfirmationSender = {
  async send(message, log) {
    // The address is personal data: the log names the order, not the recipient.
    log.info({ order_id: message.orderId, total_cents: message.totalCents, channel: 'email' }, 'order_confirmation_sent');
  },
};

/**
 * Confirmation workers per process. Under sustained load one worker fell behind the orders
 * (about 30 % of a bench run's confirmations still queued at its end); each job is a short
 * read transaction, so four share the pool without starving requests.
 */
const CONFIRMATION_WORKERS = 4;

/** Orders one sweep settles at most; the next slot's sweep takes the rest. */
const SWEEP_BATCH = 100;

export async function startOrderWorkers(deps: {
  db: Database;
  jobs: JobQueue;
  log: Logger;
  settlement: ReturnType<typeof orderSettlement>;
  sender: ConfirmationSender;
  /** ORDER_RECONCILE_AFTER_SECONDS: how old a pending order is before the sweeper settles it. */
  reconcileAfterSeconds: number;
}): Promise<void> {
  await deps.jobs.work<OrderConfirmationJob>(
    QUEUES.orderConfirmation,
    async (data, job) => {
      const log = deps.log.child({
        job: QUEUES.orderConfirmation,
        job_id: job.id,
        request_id: data.request_id,
        tenant_id: data.tenant_id,
        user_id: data.user_id,
      });
      const found = await deps.db.withTenant(data.tenant_id, async (tx) => ({
        order: await ordersRepository.view(tx, data.order_id),
        user: await usersRepository.findById(tx, data.user_id),
      }));
      if (!found.order || !found.user) {
        log.warn({ order_id: data.order_id }, 'order_confirmation_skipped');
        return;
      }
      await deps.sender.send({ to: found.user.email, orderId: found.order.id, totalCents: found.order.total_cents, currency: found.order.currency }, log);
    },
    { concurrency: CONFIRMATION_WORKERS },
  );

  await deps.jobs.work<OrderReconcileJob>(QUEUES.orderReconcile, async (data, job) => {
    const log = deps.log.child({ job: QUEUES.orderReconcile, job_id: job.id, tenant_id: data.tenant_id });
    await deps.settlement.reconcile(data.tenant_id, data.order_id, log);
  });

  // One sweep per slot across all replicas (a pg-boss singleton per slot), instead of a
  // delayed job per order: an order costs the sweeper nothing unless it is left pending.
  await deps.jobs.work(QUEUES.orderSweep, async (_data, job) => {
    const log = deps.log.child({ job: QUEUES.orderSweep, job_id: job.id });
    const pending = await ordersRepository.pendingOlderThan(deps.db, deps.reconcileAfterSeconds, SWEEP_BATCH);
    for (const order of pending) {
      const orderLog = log.child({ tenant_id: order.tenant_id });
      try {
        await deps.settlement.reconcile(order.tenant_id, order.id, orderLog);
      } catch (error) {
        // The provider still unreachable: the order stays pending for the next sweep.
        orderLog.warn({ order_id: order.id, error }, 'order_reconcile_failed');
      }
    }
  });
  // Half the age: a pending order is settled between one and one and a half times
  // ORDER_RECONCILE_AFTER_SECONDS after its reservation.
  deps.jobs.every(QUEUES.orderSweep, Math.max(1, Math.floor(deps.reconcileAfterSeconds / 2)), (error) =>
    deps.log.warn({ error, queue: QUEUES.orderSweep }, 'job_queue_error'),
  );
}
