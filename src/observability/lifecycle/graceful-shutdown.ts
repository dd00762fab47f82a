// The orderly stop, in the order an orchestrator needs it (CONTRACT, Lifecycle):
//   1. readiness answers 503 `shutting_down` at once, so the pod leaves the endpoints;
//   2. after `delayMs` (the time that takes) the listener stops accepting;
//   3. in-flight requests finish; idle keep-alive connections close (answers sent while
//      draining carry `connection: close`, see plugin.ts);
//   4. the job worker stops after its current job;
//   5. traces and error reports flush, each bounded by `flushTimeoutMs`: a collector or a
//      tracker that never answers costs its own timeout and a `telemetry_flush_failed`
//      warning, never the exit code;
//   6. pools close; `application_stopped` with the duration; exit.
// `timeoutMs` is the hard deadline over all of it: past it, `shutdown_deadline_exceeded`
// and exit 1, whatever step hangs.
import type { Logger } from '../logging/logger.ts';
import type { LifecycleState } from '../health/health.routes.ts';

/** Something buffered that must leave the process before it exits. */
export interface Flushable {
  /** `traces`, `errors`: named in the warning when it does not make it. */
  name: string;
  /** Resolves true when everything was sent; false (or a rejection) when it was not. */
  flush(timeoutMs: number): Promise<boolean>;
}

export interface GracefulShutdownOptions {
  log: Logger;
  /** Shared with the probes: `shuttingDown` turns readiness 503. */
  state: LifecycleState;
  /** SHUTDOWN_DELAY_MS: readiness 503 this long before the listener stops. */
  delayMs: number;
  /** SHUTDOWN_TIMEOUT_MS: the hard deadline of the whole stop. */
  timeoutMs: number;
  /** TELEMETRY_FLUSH_TIMEOUT_MS: the bound of each flush. */
  flushTimeoutMs: number;
  /** Stops accepting and resolves once in-flight requests finished (Fastify's `close()`). */
  closeServer: () => Promise<void>;
  /** Stops the job workers after their current job. */
  stopWorkers?: () => Promise<void>;
  flush?: Flushable[];
  /** Closes pools and whatever else the process holds. */
  closeResources?: () => Promise<void>;
  /** Default process.exit; tests pass their own. */
  exit?: (code: number) => void;
  now?: () => number;
}

export type Shutdown = (reason: string, exitCode?: number) => Promise<void>;

/** Returns the stop routine; a second call while one runs only logs (a second SIGTERM, a crash while stopping). */
export function gracefulShutdown(options: GracefulShutdownOptions): Shutdown {
  const { log, state } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const now = options.now ?? Date.now;
  let running: Promise<void> | undefined;
  let exitCode = 0;

  const run = async (reason: string): Promise<void> => {
    const started = now();
    state.shuttingDown = true;
    log.info({ reason, delay_ms: options.delayMs, timeout_ms: options.timeoutMs }, 'shutdown_started');
    const deadline = setTimeout(() => {
      log.error({ reason, timeout_ms: options.timeoutMs }, 'shutdown_deadline_exceeded');
      exit(1);
    }, options.timeoutMs);
    deadline.unref();
    try {
      if (options.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      await options.closeServer();
      await options.stopWorkers?.();
      await Promise.all((options.flush ?? []).map((f) => flushBounded(f, options.flushTimeoutMs, log)));
      await options.closeResources?.();
      clearTimeout(deadline);
      log.info({ reason, duration_ms: now() - started, exit_code: exitCode }, 'application_stopped');
      exit(exitCode);
    } catch (error) {
      clearTimeout(deadline);
      log.error({ reason, error }, 'shutdown_failed');
      exit(1);
    }
  };

  return (reason, code = 0) => {
    exitCode = Math.max(exitCode, code);
    if (running) {
      log.warn({ reason }, 'shutdown_already_running');
      return running;
    }
    return (running = run(reason));
  };
}

async function flushBounded(target: Flushable, timeoutMs: number, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([target.flush(timeoutMs).then((ok) => (ok ? 'ok' : 'failed')), timedOut]);
    if (outcome !== 'ok') log.warn({ telemetry: target.name, timeout_ms: timeoutMs, outcome }, 'telemetry_flush_failed');
  } catch (error) {
    log.warn({ telemetry: target.name, timeout_ms: timeoutMs, outcome: 'failed', error }, 'telemetry_flush_failed');
  } finally {
    clearTimeout(timer);
  }
}
