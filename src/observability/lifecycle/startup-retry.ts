// Reaching a dependency at startup: a few tries with a growing pause, each try bounded, so a
// database that accepts connections and never answers costs a known time, not forever.
// With the defaults (6 tries of at most 3 s, pauses 0.25 s doubling to a 4 s cap) a
// dependency that never answers stops the process within ~26 s: under the 30 s an
// orchestrator's startup probe usually allows, and the critical line says why.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger.ts';

export interface StartupRetryOptions {
  /** Tries before giving up (STARTUP_ATTEMPTS). */
  attempts: number;
  /** Cap of the pause between tries, which starts at 250 ms and doubles (STARTUP_RETRY_MAX_MS). */
  maxDelayMs: number;
  /** Bound of each try (STARTUP_CONNECT_TIMEOUT_MS). */
  attemptTimeoutMs: number;
}

export const DEFAULT_STARTUP_RETRY: StartupRetryOptions = { attempts: 6, maxDelayMs: 4000, attemptTimeoutMs: 3000 };

/** The pause before try `attempt + 1`. */
export const retryDelay = (attempt: number, maxDelayMs: number) => Math.min(250 * 2 ** (attempt - 1), maxDelayMs);

/** The longest a dependency that never answers can hold startup: every try timing out, every pause taken. */
export function worstCaseMs(options: StartupRetryOptions): number {
  let total = options.attempts * options.attemptTimeoutMs;
  for (let attempt = 1; attempt < options.attempts; attempt++) total += retryDelay(attempt, options.maxDelayMs);
  return total;
}

export class AttemptTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

async function bounded<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new AttemptTimeoutError(timeoutMs)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `fn` until it resolves, `attempts` times at most, each try bounded by
 * `attemptTimeoutMs`, with a growing pause between tries (each failed try logs
 * `dependency_unavailable` at warn); rethrows the last error.
 */
export async function retryStartup<T>(what: string, options: StartupRetryOptions, log: Logger, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bounded(fn, options.attemptTimeoutMs);
    } catch (error) {
      if (attempt >= options.attempts) throw error;
      const delay = retryDelay(attempt, options.maxDelayMs);
      log.warn({ dependency: what, attempt, attempts: options.attempts, retry_in_ms: delay, error: (error as Error).message }, 'dependency_unavailable');
      await sleep(delay);
    }
  }
}
