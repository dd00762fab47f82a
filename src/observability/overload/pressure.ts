// What "under pressure" means, in one place: the limits resolved from the options, and the
// reason a reading passes one of them. The shedding hook (@fastify/under-pressure), the
// readiness check and the overload log lines all use this, so they never disagree.
import type { OverloadOptions } from '../options.ts';

export interface OverloadLimits {
  /** 0: not watched. */
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  maxRssBytes: number;
  retryAfterSeconds: number;
  sampleIntervalMs: number;
}

/** What @fastify/under-pressure measured at its last sample (its `memoryUsage()`). */
export interface PressureReading {
  /** Mean event-loop delay over the last sample interval, in ms. */
  eventLoopDelay: number;
  heapUsed: number;
  rssBytes: number;
}

export const OVERLOAD_DEFAULTS = { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0, retryAfterSeconds: 10, sampleIntervalMs: 1000 } as const;

/** The limits to enforce, or undefined when overload protection is off or watches nothing. */
export function resolveOverload(options: OverloadOptions | false | undefined): OverloadLimits | undefined {
  if (options === false) return undefined;
  const limits: OverloadLimits = {
    maxEventLoopDelayMs: options?.maxEventLoopDelayMs ?? OVERLOAD_DEFAULTS.maxEventLoopDelayMs,
    maxHeapUsedBytes: options?.maxHeapUsedBytes ?? OVERLOAD_DEFAULTS.maxHeapUsedBytes,
    maxRssBytes: options?.maxRssBytes ?? OVERLOAD_DEFAULTS.maxRssBytes,
    retryAfterSeconds: Math.max(1, Math.ceil(options?.retryAfterSeconds ?? OVERLOAD_DEFAULTS.retryAfterSeconds)),
    sampleIntervalMs: Math.max(10, options?.sampleIntervalMs ?? OVERLOAD_DEFAULTS.sampleIntervalMs),
  };
  return limits.maxEventLoopDelayMs > 0 || limits.maxHeapUsedBytes > 0 || limits.maxRssBytes > 0 ? limits : undefined;
}

const MIB = 1024 * 1024;
const size = (bytes: number) => (bytes >= MIB ? `${Math.round(bytes / MIB)} MB` : `${bytes} bytes`);

/** Why this reading is over a limit (checked in @fastify/under-pressure's order), or undefined. */
export function pressureReason(reading: PressureReading, limits: OverloadLimits): string | undefined {
  if (limits.maxEventLoopDelayMs > 0 && reading.eventLoopDelay > limits.maxEventLoopDelayMs) {
    const delay = Number.isFinite(reading.eventLoopDelay) ? `${Math.round(reading.eventLoopDelay)} ms` : 'unmeasurable';
    return `event loop delay ${delay} over the ${limits.maxEventLoopDelayMs} ms limit`;
  }
  if (limits.maxHeapUsedBytes > 0 && reading.heapUsed > limits.maxHeapUsedBytes) {
    return `heap used ${size(reading.heapUsed)} over the ${size(limits.maxHeapUsedBytes)} limit`;
  }
  if (limits.maxRssBytes > 0 && reading.rssBytes > limits.maxRssBytes) {
    return `rss ${size(reading.rssBytes)} over the ${size(limits.maxRssBytes)} limit`;
  }
  return undefined;
}

/**
 * The limits, and whether readings count yet. Readings that cover startup (migrations, schema
 * compilation, the job queue's setup: seconds of synchronous work, more on a busy machine)
 * are not load: until two samples after the app is ready (the first may still span startup),
 * nothing is shed, readiness does not fail on pressure, and no episode is logged. Without
 * this, a replica that just started would refuse its first requests for its own startup.
 */
export class PressureGate {
  readonly limits: OverloadLimits;
  private armedAt = Infinity;

  constructor(limits: OverloadLimits) {
    this.limits = limits;
  }

  /** Called once the app is ready. */
  arm(now = Date.now()): void {
    this.armedAt = now + 2 * this.limits.sampleIntervalMs;
  }

  get armed(): boolean {
    return Date.now() >= this.armedAt;
  }

  /** pressureReason, once readings count. */
  reason(reading: PressureReading): string | undefined {
    return this.armed ? pressureReason(reading, this.limits) : undefined;
  }
}
