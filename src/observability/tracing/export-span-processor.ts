// Batches ended spans and hands them to the exporter from a timer, never from inside the
// `span.end()` of a request. The stock BatchSpanProcessor serializes a full batch
// synchronously in the span.end() that filled it, which puts the whole OTLP encoding of
// 512 spans on one unlucky request (a p99 spike). Here span.end() only pushes to an array;
// small batches go out every `scheduledDelayMillis` or as soon as `maxExportBatchSize`
// spans wait, from a setImmediate, one export at a time. Past `maxQueueSize` spans are
// dropped and counted rather than buffered without limit.
import type { Context } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

export interface ExportSpanProcessorOptions {
  exporter: SpanExporter;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  maxQueueSize?: number;
  exportTimeoutMillis?: number;
}

export class ExportSpanProcessor implements SpanProcessor {
  private readonly exporter: SpanExporter;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private queue: ReadableSpan[] = [];
  private exporting: Promise<void> | undefined;
  private scheduled = false;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  /** Spans dropped because the queue was full (the exporter is slower than traffic). */
  dropped = 0;

  constructor(options: ExportSpanProcessorOptions) {
    this.exporter = options.exporter;
    this.maxBatch = options.maxExportBatchSize ?? 256;
    this.maxQueue = options.maxQueueSize ?? 4096;
    this.timeoutMs = options.exportTimeoutMillis ?? 10_000;
    this.timer = setInterval(() => this.schedule(), options.scheduledDelayMillis ?? 1000);
    this.timer.unref();
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & 1) === 0) return;
    if (this.queue.length >= this.maxQueue) {
      this.dropped += 1;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.maxBatch) this.schedule();
  }

  /** Export soon, off the current call stack. */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain(false);
    });
  }

  /** Exports batches one at a time; `all` empties the queue (flush), otherwise one batch. */
  private async drain(all: boolean): Promise<void> {
    while (this.exporting) await this.exporting;
    do {
      const batch = this.queue.splice(0, this.maxBatch);
      if (batch.length === 0) return;
      this.exporting = this.exportBatch(batch);
      await this.exporting;
      this.exporting = undefined;
    } while (all);
    if (this.queue.length >= this.maxBatch) this.schedule();
  }

  private exportBatch(batch: ReadableSpan[]): Promise<void> {
    return new Promise((resolve) => {
      const timeout = setTimeout(resolve, this.timeoutMs);
      try {
        this.exporter.export(batch, (result) => {
          clearTimeout(timeout);
          if (result.code !== ExportResultCode.SUCCESS) this.dropped += batch.length;
          resolve();
        });
      } catch {
        clearTimeout(timeout);
        this.dropped += batch.length;
        resolve();
      }
    });
  }

  async forceFlush(): Promise<void> {
    await this.drain(true);
    await this.exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    clearInterval(this.timer);
    await this.drain(true);
    this.stopped = true;
    await this.exporter.shutdown();
  }
}
