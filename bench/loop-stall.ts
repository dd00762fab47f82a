// What a traced server's span export costs the event loop during a run, read from its own
// /metrics around the run: telemetry_span_export_block_seconds (each synchronous piece of
// export work, tracing/export-blocking.ts) and nodejs_eventloop_lag_max_seconds (the
// loop's longest delay since the previous scrape, whatever caused it: export, GC, a
// request). The first scrape also resets the lag monitor, so the second one covers the run.

export interface StallReading {
  /** Cumulative block counts per upper bound (seconds, +Inf last). */
  buckets: [number, number][];
  sum: number;
  count: number;
}

export interface RunStall {
  /** Export blocks during the run. */
  blocks: number;
  /** Their mean length, µs. */
  mean_us: number;
  /** The longest block fell at or under this many ms (the histogram's bound; '+Inf' past the last); null: no block. */
  longest_block_le_ms: number | '+Inf' | null;
  /** The event loop's longest delay during the run, ms (any cause). */
  loop_lag_max_ms: number;
}

const BLOCK = 'telemetry_span_export_block_seconds';

export async function readStall(url: string): Promise<(StallReading & { lagMax: number }) | undefined> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) return undefined;
  const text = await res.text();
  const buckets: [number, number][] = [];
  let sum = 0;
  let count = 0;
  let lagMax = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${BLOCK}_bucket`)) {
      const le = /le="([^"]+)"/.exec(line)?.[1] ?? '+Inf';
      buckets.push([le === '+Inf' ? Infinity : Number(le), Number(line.split(' ').at(-1))]);
    } else if (line.startsWith(`${BLOCK}_sum`)) sum = Number(line.split(' ').at(-1));
    else if (line.startsWith(`${BLOCK}_count`)) count = Number(line.split(' ').at(-1));
    else if (line.startsWith('nodejs_eventloop_lag_max_seconds')) lagMax = Number(line.split(' ').at(-1));
  }
  if (buckets.length === 0) return undefined;
  return { buckets, sum, count, lagMax };
}

/** The blocks between two readings, and the loop's longest delay as of the second. */
export function stallBetween(before: StallReading, after: StallReading & { lagMax: number }): RunStall {
  const blocks = after.count - before.count;
  // Cumulative buckets: every block of the run is at or under the first bound whose delta reaches the total.
  let longest: number | '+Inf' | null = null;
  if (blocks > 0) {
    for (const [i, [bound, cumulative]] of after.buckets.entries()) {
      if (cumulative - (before.buckets[i]?.[1] ?? 0) >= blocks) {
        longest = Number.isFinite(bound) ? bound * 1000 : '+Inf';
        break;
      }
    }
  }
  return {
    blocks,
    mean_us: blocks > 0 ? Number((((after.sum - before.sum) / blocks) * 1e6).toFixed(1)) : 0,
    longest_block_le_ms: longest,
    loop_lag_max_ms: Number((after.lagMax * 1000).toFixed(1)),
  };
}
