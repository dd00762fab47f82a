// `event_loop_blocked` (warn): one stall of the event loop longer than the limit, with the
// stall's measured length. Load shedding reacts to the *mean* delay over a sample interval
// (@fastify/under-pressure), which a single long stall barely moves; this line is what
// shows that stall (a synchronous JSON.parse of a huge body, a regex gone quadratic, a
// heap snapshot) in the logs, so the slow requests around it have an explanation.
//
// Node's own histogram (monitorEventLoopDelay) samples the loop in C++; the JS side wakes
// once per interval to read its maximum, so the watch costs nothing per request.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from '../logging/logger.ts';

/** The histogram's sampling period: each sample is the time between two of its ticks, so a stall reads as its length plus up to this. */
const RESOLUTION_MS = 20;

export interface EventLoopWatchOptions {
  log: Logger;
  /** A stall longer than this logs `event_loop_blocked`. */
  limitMs: number;
  /** How often the longest stall since the last look is read. */
  intervalMs: number;
}

/** Starts the watch; returns its stop. */
export function watchEventLoop(options: EventLoopWatchOptions): () => void {
  const { log, limitMs } = options;
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const timer = setInterval(() => {
    // A sample is the time between two ticks; the tick period itself is not delay.
    const longest = histogram.max / 1e6 - RESOLUTION_MS;
    histogram.reset();
    if (longest > limitMs) log.warn({ delay_ms: Math.round(longest), limit_ms: limitMs }, 'event_loop_blocked');
  }, options.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    histogram.disable();
  };
}
