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
  /** 99.9 % of the run's blocks were at or under this many ms (a histogram bound). */
  p999_block_le_ms: number | '+Inf' | null;
  /** Blocks over 1 ms during the run. */
  over_1ms: number;
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
  const delta = after.buckets.map(([bound, cumulative], i): [number, number] => [bound, cumulative - (before.buckets[i]?.[1] ?? 0)]);
  /** The first bound under which at least `share` of the run's blocks fall (cumulative buckets). */
  const bound = (share: number): number | '+Inf' | null => {
    if (blocks <= 0) return null;
    const found = delta.find(([, cumulative]) => cumulative >= share * blocks);
    return found && Number.isFinite(found[0]) ? found[0] * 1000 : '+Inf';
  };
  const upTo1ms = delta.find(([b]) => b === 0.001)?.[1] ?? blocks;
  return {
    blocks,
    mean_us: blocks > 0 ? Number((((after.sum - before.sum) / blocks) * 1e6).toFixed(1)) : 0,
    longest_block_le_ms: bound(1),
    p999_block_le_ms: bound(0.999),
    over_1ms: blocks - upTo1ms,
    loop_lag_max_ms: Number((after.lagMax * 1000).toFixed(1)),
  };
}
