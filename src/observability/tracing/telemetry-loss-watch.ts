// The once-per-interval warning about lost spans: a collector that is down or too slow
// shows in the logs as one `telemetry_spans_dropped` line a minute with what was lost in
// that minute, not as one line per failed export (a dead collector would otherwise log
// every few seconds per export in flight) and not as silence. The cumulative counts stay
// in the metrics (telemetry_* series); this line says when it happened.
import type { TelemetryLoss } from './telemetry-loss.ts';

export interface TelemetryLossWatchOptions {
  /** The pipeline's cumulative counts (TracingRuntime.loss). */
  loss: () => TelemetryLoss;
  log: { warn(obj: object, msg: string): void };
  /** How often the deltas are checked and, when something was lost, logged. */
  intervalMs?: number;
}

/**
 * Every `intervalMs` (default 60 s), logs one warning with what was lost since the last
 * check, only when something was. The timer does not keep the process alive. Returns the
 * function that stops it.
 */
export function watchTelemetryLoss(options: TelemetryLossWatchOptions): () => void {
  const intervalMs = options.intervalMs ?? 60_000;
  // From what is already counted: a watcher reports what was lost while it watched (an app
  // built again in the same process must not repeat the previous one's report).
  let last = { ...options.loss() };
  // Counts only grow; should a runtime be replaced by a fresh one, a negative delta is no loss.
  const delta = (now: number, before: number) => Math.max(0, now - before);
  const timer = setInterval(() => {
    const now = { ...options.loss() };
    const queueFull = delta(now.spansDroppedQueueFull, last.spansDroppedQueueFull);
    const exportFailed = delta(now.spansDroppedExportFailed, last.spansDroppedExportFailed);
    const exportsFailed = delta(now.exportsFailed, last.exportsFailed);
    last = now;
    if (queueFull === 0 && exportFailed === 0 && exportsFailed === 0) return;
    options.log.warn(
      { spans_dropped_queue_full: queueFull, spans_dropped_export_failed: exportFailed, exports_failed: exportsFailed, interval_ms: intervalMs },
      'telemetry_spans_dropped',
    );
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
