// The readiness round: every check run concurrently, each bounded by its own timeout, one
// round in flight at a time and its result reused for `cacheMs` after it ended.
//
// Why single-flight and a cache: probes come from the kubelet, load balancers and people,
// and arrive in bursts exactly when a dependency is sick. Without them, 100 probes against
// a hung database are 100 connection attempts piled onto it (and 100 waiters on our own
// pool); with them, a burst costs one round of checks, whatever its size.
//
// A check that outlives its timeout is not cancelled (a pending `pool.query` cannot be):
// its round ends without it, and its own client timeouts end it later. The next round
// starts only after the cache expires, so at most one call per check is started per
// `checkTimeoutMs + cacheMs`, however many probes arrive.

export interface ReadinessCheck {
  name: string;
  /** Resolves when healthy, rejects with a short reason otherwise; or 'disabled'. */
  check: () => Promise<void | 'disabled'>;
}

/** One round's outcome: each check's `ok`, `disabled` or `error: <reason>`. */
export interface ReadinessResult {
  healthy: boolean;
  checks: Record<string, string>;
}

export interface ReadinessOptions {
  /** Each check's bound (HEALTH_CHECK_TIMEOUT_MS). */
  checkTimeoutMs: number;
  /** How long a finished round's result is reused (HEALTH_CACHE_MS); 0: until the next probe. */
  cacheMs: number;
  /** A monotonic clock in ms; default performance.now. */
  now?: () => number;
}

export interface Readiness {
  /** The cached result, the round in flight, or a new round when neither exists. */
  current(): Promise<ReadinessResult>;
  /** The last finished round's result, without starting or awaiting anything. */
  last(): ReadinessResult | undefined;
}

const URL_LIKE = /\w+:\/\/\S+/g;

/** The reason an operator reads: short, and never a connection string (they carry passwords). */
export function failureReason(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown } | undefined;
  // Node's AggregateError (a refused connect to every address of a host) has an empty message.
  const text = (typeof e?.message === 'string' && e.message) || (typeof e?.code === 'string' && e.code) || 'failed';
  return text.replace(URL_LIKE, '<url>').slice(0, 200);
}

async function runCheck(c: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await Promise.race([
      // Inside the race, so a check that throws synchronously is a failed check, not a failed round.
      (async () => c.check())(),
      new Promise<never>((_, reject) => {
        // Rejected one turn later (setImmediate runs after the I/O poll): when our own event loop
        // stalled past the deadline, an answer already waiting on the socket is read first, and
        // the stall is not blamed on the dependency.
        timer = setTimeout(() => setImmediate(() => reject(new Error(`timeout after ${timeoutMs} ms`))), timeoutMs);
      }),
    ]);
    return outcome === 'disabled' ? 'disabled' : 'ok';
  } catch (error) {
    return `error: ${failureReason(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

async function runRound(checks: readonly ReadinessCheck[], timeoutMs: number): Promise<ReadinessResult> {
  const results = await Promise.all(checks.map(async (c) => [c.name, await runCheck(c, timeoutMs)] as const));
  return { healthy: results.every(([, r]) => r === 'ok' || r === 'disabled'), checks: Object.fromEntries(results) };
}

export function createReadiness(checks: readonly ReadinessCheck[], options: ReadinessOptions): Readiness {
  const now = options.now ?? (() => performance.now());
  let inFlight: Promise<ReadinessResult> | undefined;
  let last: ReadinessResult | undefined;
  let endedAt = 0;

  return {
    current() {
      if (inFlight) return inFlight;
      if (last && now() - endedAt < options.cacheMs) return Promise.resolve(last);
      inFlight = runRound(checks, options.checkTimeoutMs).then((result) => {
        last = result;
        endedAt = now();
        inFlight = undefined;
        return result;
      });
      return inFlight;
    },
    last: () => last,
  };
}
