// The order flow's background jobs: the confirmation "e-mail" after a paid order, and the
// reconciler that settles orders left pending. Both run with the tenant's row-level
// security, and both are safe to run twice.
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

export async function startOrderWorkers(deps: {
  db: Database;
  jobs: JobQueue;
  log: Logger;
  settlement: ReturnType<typeof orderSettlement>;
  sender: ConfirmationSender;
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
}
