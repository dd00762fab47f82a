// How long the span export pipeline holds the event loop in one piece: encoding the spans
// ended in a turn, assembling a batch, handing it to the transport. Every request waiting
// on the loop waits that long too, so this is the export's share of the traced tail (p99).
//
// Kept as a histogram of "blocks" (one synchronous run of the export processor between two
// awaits) with cumulative counts, read at scrape time as
// telemetry_span_export_block_seconds: its buckets show the longest block since any two
// scrapes (the bench reads it around each run), its sum the loop time exporting costs.
// Plain arrays and no metric library here: the tracing side must not depend on the metrics
// side (metrics/telemetry-metrics.ts renders it).

/** Upper bounds, in seconds: a tenth of a millisecond up to the 10 ms a request would feel. */
export const EXPORT_BLOCK_BOUNDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025];

export interface ExportBlockingCounts {
  /** Non-cumulative: counts[i] blocks fell in (bounds[i-1], bounds[i]]; the last is +Inf. */
  readonly counts: readonly number[];
  readonly sumSeconds: number;
  readonly count: number;
  /** The longest block since the process started, in seconds. */
  readonly maxSeconds: number;
}

export class ExportBlocking {
  private readonly counts = new Float64Array(EXPORT_BLOCK_BOUNDS.length + 1);
  private sum = 0;
  private count = 0;
  private max = 0;

  /**
   * The start of a block, on the wall clock: what the requests behind it waited. A block
   * also lasts longer when the process is preempted or a GC pause falls inside it (on this
   * 2-core machine PostgreSQL's backends share the server's core); the thread's CPU time
   * would exclude that, but Linux reports it here (getrusage, process.threadCpuUsage) in
   * 4 ms ticks, too coarse for blocks of tens of microseconds.
   */
  begin(): number {
    return performance.now();
  }

  /** Records one block that began at `start` (a begin() value) and ends now. */
  record(start: number): void {
    const seconds = (performance.now() - start) / 1000;
    let i = 0;
    while (i < EXPORT_BLOCK_BOUNDS.length && seconds > EXPORT_BLOCK_BOUNDS[i]!) i++;
    this.counts[i]! += 1;
    this.sum += seconds;
    this.count += 1;
    if (seconds > this.max) this.max = seconds;
  }

  snapshot(): ExportBlockingCounts {
    return { counts: Array.from(this.counts), sumSeconds: this.sum, count: this.count, maxSeconds: this.max };
  }
}

/** Several export pipelines' blocks (one per exporter) as one histogram. */
export function sumExportBlocking(all: readonly ExportBlockingCounts[]): ExportBlockingCounts {
  const counts = new Array<number>(EXPORT_BLOCK_BOUNDS.length + 1).fill(0);
  let sumSeconds = 0;
  let count = 0;
  let maxSeconds = 0;
  for (const b of all) {
    b.counts.forEach((c, i) => (counts[i]! += c));
    sumSeconds += b.sumSeconds;
    count += b.count;
    maxSeconds = Math.max(maxSeconds, b.maxSeconds);
  }
  return { counts, sumSeconds, count, maxSeconds };
}
