// The telemetry group (`telemetry: () => loss`): what the span export pipeline lost, so a
// trace collector that is down or too slow shows on a dashboard and can page, instead of
// traces quietly going missing.
//
// The pipeline keeps the cumulative counts itself (tracing/telemetry-loss.ts); they are read
// here at scrape time, so exporting costs no metric call per span. Both reasons are written
// on every scrape, at 0 until a loss, so rate() and alerts have a series from the start.
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { TelemetryLoss } from '../tracing/telemetry-loss.ts';
import { registerCollected } from './lean-histogram.ts';

export function registerTelemetryMetrics(registry: Registry<OpenMetricsContentType>, loss: () => TelemetryLoss): void {
  registerCollected(registry, {
    name: 'telemetry_spans_dropped_total',
    help:
      'Spans lost before reaching the trace collector, so their traces are missing or incomplete, by reason: ' +
      'queue_full (spans are produced faster than they are exported: the collector is slow, or the export queue too small), ' +
      'export_failed (the collector refused a batch or did not answer in time: check that it is up and reachable).',
    type: 'counter',
    values: () => {
      const l = loss();
      return [
        { labels: { reason: 'queue_full' }, value: l.spansDroppedQueueFull },
        { labels: { reason: 'export_failed' }, value: l.spansDroppedExportFailed },
      ];
    },
  });
  registerCollected(registry, {
    name: 'telemetry_span_exports_failed_total',
    help:
      'Span export calls (batches) to the trace collector that failed or timed out. Rising: the collector is down, unreachable or too slow, ' +
      'and each failed batch is lost (its spans count in telemetry_spans_dropped_total{reason="export_failed"}).',
    type: 'counter',
    values: () => [{ labels: {}, value: loss().exportsFailed }],
  });
}
