// How long a profile runs: the `seconds` asked for, or less when the server closes. A 60 s
// profile must not hold an orderly stop past SHUTDOWN_TIMEOUT_MS (the request would still
// be in flight when the deadline exits 1): on close, the profile ends early and the caller
// gets what was sampled so far.
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves after `seconds`, or as soon as `signal` aborts; true when it ran the whole time. */
export async function profileWindow(seconds: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(seconds * 1000, undefined, signal ? { signal } : {});
    return true;
  } catch (error) {
    if (signal?.aborted) return false;
    throw error;
  }
}
