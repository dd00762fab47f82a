// The telemetry group (`telemetry: () => loss`): what the span export pipeline lost, so a
// trace collector that is down or too slow shows on a dashboard and can page, instead of
// traces quietly going missing.
//
// The pipeline keeps the cumulative counts itself (tracing/telemetry-loss.ts); they are read
// here at scrape time, so exporting costs no metric call per span. Both reasons are written
// on every scrape, at 0 until a loss, so rate() and alerts have a series from the start.
import type { OpenMetricsContentType, Registry } from 'prom-client';
import { EXPORT_BLOCK_BOUNDS, type ExportBlockingCounts } from '../tracing/export-blocking.ts';
import type { TelemetryLoss } from '../tracing/telemetry-loss.ts';
import { registerCollected, type Sample } from './lean-histogram.ts';

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

/**
 * telemetry_span_export_block_seconds: each synchronous run of the span export work (encode
 * the spans ended in a turn, assemble a batch, hand it to the transport), as a histogram.
 * Requests wait behind every block, so its top bucket between two scrapes is the longest
 * stall exporting put on the loop in that time (tracing/export-blocking.ts).
 */
export function registerExportBlockingMetric(registry: Registry<OpenMetricsContentType>, blocking: () => ExportBlockingCounts): void {
  const name = 'telemetry_span_export_block_seconds';
  registerCollected(registry, {
    name,
    help:
      'How long each piece of span export work (encoding ended spans, assembling and sending a batch) held the event loop. ' +
      'Requests wait behind it: blocks in the upper buckets show up in the p99 of every route.',
    type: 'histogram',
    values: () => {
      const b = blocking();
      const out: Sample[] = [];
      let cumulative = 0;
      for (let i = 0; i <= EXPORT_BLOCK_BOUNDS.length; i++) {
        cumulative += b.counts[i] ?? 0;
        out.push({ metricName: `${name}_bucket`, labels: { le: i < EXPORT_BLOCK_BOUNDS.length ? EXPORT_BLOCK_BOUNDS[i]! : '+Inf' }, value: cumulative });
      }
      out.push({ metricName: `${name}_sum`, labels: {}, value: b.sumSeconds });
      out.push({ metricName: `${name}_count`, labels: {}, value: b.count });
      return out;
    },
  });
}
