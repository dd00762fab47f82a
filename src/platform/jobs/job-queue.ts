// Background jobs on pg-boss, in the same Postgres as the business data, so a job can be
// enqueued inside the business transaction: when that transaction rolls back, the job was
// never sent. Queues are declared up front with their retry policy.
import { PgBoss, type Job, type JobResult, type QueueOptions } from 'pg-boss';
import type { ErrorContext } from '../../observability/errors/error-reporting.ts';
import { activeTraceIds, extractContext, injectContext, SpanKind, withSpan } from '../../observability/tracing/tracer.ts';
import type { Queryable } from '../db/database.ts';

/** Where a job's data carries the trace context of the code that enqueued it. */
export const TRACE_FIELD = '_trace';

export interface QueueDefinition {
  name: string;
  options?: QueueOptions;
}

export interface SendOptions {
  /** The open transaction to enqueue in; without it the job is committed on its own. */
  tx?: Queryable;
  startAfterSeconds?: number;
  /** At most one queued job per key (pg-boss singleton). */
  singletonKey?: string;
  /** With singletonKey: at most one job per key in each slot of this many seconds, across processes. */
  singletonSeconds?: number;
}

/** pg-boss's default schema. */
const SCHEMA = 'pgboss';
const GRANT_LOCK_ID = 727_274_002; // arbitrary, fixed: "glassbox job grants"

/** The ids a job's data carries by convention (request_id, tenant_id, user_id), for error reports: ids only, never the payload. */
function jobIds(data: object): Pick<ErrorContext, 'request_id' | 'tenant_id' | 'user_id'> {
  const d = data as Record<string, unknown>;
  const ids: Pick<ErrorContext, 'request_id' | 'tenant_id' | 'user_id'> = {};
  if (typeof d.request_id === 'string') ids.request_id = d.request_id;
  if (typeof d.tenant_id === 'string') ids.tenant_id = d.tenant_id;
  if (typeof d.user_id === 'string') ids.user_id = d.user_id;
  return ids;
}

export type JobHandler<T> = (data: T, job: Job<T>) => Promise<void>;

export class JobQueue {
  readonly boss: PgBoss;
  private readonly queues: QueueDefinition[];
  private started = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly onJobFailed: ((error: unknown, context: ErrorContext) => void) | undefined;

  constructor(options: {
    url: string;
    maxConnections: number;
    queues: QueueDefinition[];
    onError?: (error: Error) => void;
    /**
     * Called once for every failed job attempt, inside the job's span (its trace ids are in
     * the context): where error tracking hears of failed background work.
     */
    onJobFailed?: (error: unknown, context: ErrorContext) => void;
    /** Run pg-boss's SQL through this (the app's pool) instead of a pool of its own. */
    executeSql?: (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;
  }) {
    this.boss = new PgBoss({
      ...(options.executeSql
        ? { db: { executeSql: options.executeSql as (text: string, values?: unknown[]) => Promise<{ rows: never[] }> } }
        : { connectionString: options.url, max: options.maxConnections }),
      application_name: 'glassbox-jobs',
      // Cron scheduling is not used; supervision (expiry, retention) stays on.
      schedule: false,
      // pg-boss 12 traces on its own once an SDK is registered: a `send` span per enqueue (a
      // sampled root, with our SQL spans under it, even inside an unsampled request), and a
      // second `process <queue>` CONSUMER span per batch plus `complete`, in a trace of their
      // own. The spans of this file (`_trace` in the job data) already carry the job's trace.
      openTelemetry: { enabled: false },
    });
    this.boss.on('error', (error: Error) => options.onError?.(error));
    this.queues = options.queues;
    this.onJobFailed = options.onJobFailed;
  }

  /**
   * Installs or upgrades pg-boss's own schema, declares our queues, and lets `enqueueRole`
   * (the role business transactions run as) enqueue: a job sent inside a tenant transaction
   * is written by that role. pg-boss creates a table per queue, hence the grant after
   * createQueue, on every start (grants are idempotent).
   */
  async start(options: { enqueueRole?: string; grant?: (sql: string) => Promise<unknown> } = {}): Promise<void> {
    await this.boss.start();
    for (const q of this.queues) await this.boss.createQueue(q.name, q.options ?? {});
    if (options.enqueueRole && options.grant) {
      const role = `"${options.enqueueRole.replaceAll('"', '""')}"`;
      // Serialized by a transaction-scoped advisory lock: concurrent GRANTs on the same objects
      // (several replicas starting at once) fail with "tuple concurrently updated".
      await options.grant(
        `BEGIN; SELECT pg_advisory_xact_lock(${GRANT_LOCK_ID});
         GRANT USAGE ON SCHEMA ${SCHEMA} TO ${role};
         GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ${SCHEMA} TO ${role};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${SCHEMA} TO ${role};
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${SCHEMA} TO ${role};
         COMMIT`,
      );
    }
    this.started = true;
  }

  async send<T extends object>(name: string, data: T, options: SendOptions = {}): Promise<string | null> {
    const tx = options.tx;
    // The enqueuing span's context travels in the job, so the worker's span continues its trace.
    const carrier = injectContext();
    const payload = Object.keys(carrier).length > 0 ? { ...data, [TRACE_FIELD]: carrier } : data;
    return this.boss.send(name, payload, {
      ...(options.startAfterSeconds !== undefined ? { startAfter: options.startAfterSeconds } : {}),
      ...(options.singletonKey !== undefined ? { singletonKey: options.singletonKey } : {}),
      ...(options.singletonSeconds !== undefined ? { singletonSeconds: options.singletonSeconds } : {}),
      ...(tx ? { db: { executeSql: (text: string, values?: unknown[]) => tx.query(text, values) } } : {}),
    });
  }

  /**
   * Runs `handler` for each job of `name` inside a CONSUMER span parented to the span that
   * enqueued it; a thrown error fails the attempt (recorded on the span) and pg-boss retries it.
   */
  async work<T extends object>(name: string, handler: JobHandler<T>, options: { pollingIntervalSeconds?: number; concurrency?: number } = {}): Promise<void> {
    // Up to 10 jobs a fetch, fetched again at once while batches come back full, so a backlog
    // drains at the handler's pace instead of one job per poll. Each job is settled on its
    // own (perJobResults): one failing job is retried without re-running its batch mates.
    await this.boss.work<T>(
      name,
      {
        pollingIntervalSeconds: options.pollingIntervalSeconds ?? 1,
        batchSize: 10,
        burstWhenBatchFull: true,
        perJobResults: true,
        // Workers of this process for the queue, each fetching its own batches: a queue fed
        // faster than one worker drains it keeps up (its jobs wait on the database, not the CPU).
        localConcurrency: options.concurrency ?? 1,
      },
      async (jobs) => {
        const results: JobResult[] = [];
        for (const job of jobs) {
          try {
            await this.runTraced(name, job, handler);
            results.push({ id: job.id, status: 'completed' });
          } catch (error) {
            results.push({ id: job.id, status: 'failed', output: { message: (error as Error).message } });
          }
        }
        return results;
      },
    );
  }

  private runTraced<T extends object>(name: string, job: Job<T>, handler: JobHandler<T>): Promise<void> {
    const carrier = (job.data as Record<string, unknown>)[TRACE_FIELD] as Record<string, unknown> | undefined;
    return withSpan(
      `process ${name}`,
      {
        'messaging.system': 'pg-boss',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': name,
        'messaging.message.id': job.id,
        'job.retry_count': job.retryCount,
      },
      async () => {
        try {
          await handler(job.data, job);
        } catch (error) {
          this.onJobFailed?.(error, { source: 'job', job: name, ...jobIds(job.data), ...activeTraceIds() });
          throw error;
        }
      },
      // Sampling was decided once, for the request that enqueued the job: a job from a traced
      // request continues its trace, one from an unsampled request (no context) makes no span.
      { kind: SpanKind.CONSUMER, parent: extractContext(carrier), remoteParent: true },
    );
  }

  /**
   * Sends a job of `name` every `seconds` from this process, as a singleton of that slot: with
   * any number of processes doing the same, one job runs per slot (pg-boss keeps the others
   * out), so a periodic task runs once across the replicas. Stops with stop().
   */
  every(name: string, seconds: number, onError: (error: unknown) => void): void {
    const tick = () => {
      this.send(name, {}, { singletonKey: name, singletonSeconds: seconds }).catch(onError);
    };
    const timer = setInterval(tick, seconds * 1000);
    timer.unref();
    this.timers.push(timer);
    tick();
  }

  async stop(timeoutMs = 5000): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, timeout: timeoutMs, close: true });
  }
}
