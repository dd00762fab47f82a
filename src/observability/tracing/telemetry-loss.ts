// What the span export pipeline lost since the process started, as cumulative counts:
// read by the metrics at scrape time (telemetry_* series) and by the once-per-interval
// warning, so a collector that is down or too slow is visible instead of silent.
export interface TelemetryLoss {
  /** Spans dropped because the export queue was full (the exporter is slower than traffic). */
  spansDroppedQueueFull: number;
  /** Spans in batches whose export failed or timed out. */
  spansDroppedExportFailed: number;
  /** Export calls (batches) that failed or timed out. */
  exportsFailed: number;
}

export const NO_TELEMETRY_LOSS: TelemetryLoss = Object.freeze({ spansDroppedQueueFull: 0, spansDroppedExportFailed: 0, exportsFailed: 0 });

/** The losses of several export pipelines (one per exporter) as one. */
export function sumTelemetryLoss(losses: readonly TelemetryLoss[]): TelemetryLoss {
  const total = { spansDroppedQueueFull: 0, spansDroppedExportFailed: 0, exportsFailed: 0 };
  for (const loss of losses) {
    total.spansDroppedQueueFull += loss.spansDroppedQueueFull;
    total.spansDroppedExportFailed += loss.spansDroppedExportFailed;
    total.exportsFailed += loss.exportsFailed;
  }
  return total;
}
