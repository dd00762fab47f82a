// Batches ended spans and hands them to the exporter from a timer, never from inside the
// `span.end()` of a request. The stock BatchSpanProcessor serializes a full batch
// synchronously in the span.end() that filled it, which puts the whole OTLP encoding of
// 512 spans on one unlucky request (a p99 spike). Here span.end() only pushes to an array;
// small batches go out every `scheduledDelayMillis` or as soon as `maxExportBatchSize`
// spans wait, from a setImmediate, with up to MAX_IN_FLIGHT exports on the wire at once.
// Past `maxQueueSize` spans are dropped and counted rather than buffered without limit.
//
// Why several exports in flight: one at a time, a busy server's spans waited for the
// previous batch's HTTP answer (a few turns of a loaded event loop) and lived long enough
// to be promoted to V8's old generation, which then grew by ~8 MB/s at 100 % sampling
// until a full GC (seen with --trace-gc): the traced server's extra peak memory. A span
// now lives from its end to the next full batch, a few milliseconds under load.
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

/** Exports on the wire at once (the OTLP exporters allow 30). */
const MAX_IN_FLIGHT = 4;

export class ExportSpanProcessor implements SpanProcessor {
  private readonly exporter: SpanExporter;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private queue: ReadableSpan[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private scheduled = false;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  /** Spans dropped because the queue was full (the exporter is slower than traffic). */
  dropped = 0;

  constructor(options: ExportSpanProcessorOptions) {
    this.exporter = options.exporter;
    // Small batches: a span then dies young (a batch fills in a few ms under load), and one
    // batch's encoding (~5 µs a span) holds the event loop for well under a millisecond.
    // With 256, the traced server's old generation grew ~8 MB/s at 100 % (--trace-gc).
    this.maxBatch = options.maxExportBatchSize ?? 64;
    this.maxQueue = options.maxQueueSize ?? 4096;
    this.timeoutMs = options.exportTimeoutMillis ?? 10_000;
    this.timer = setInterval(() => void this.drain('tick'), options.scheduledDelayMillis ?? 1000);
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
      void this.drain('full');
    });
  }

  /**
   * Sends batches, at most MAX_IN_FLIGHT on the wire: 'full' the full batches waiting,
   * 'tick' (the timer) also one partial batch, 'all' (flush, shutdown) every span, and then
   * waits for every export in flight, again while spans ended meanwhile (requests finishing
   * during shutdown) are waiting.
   */
  private async drain(mode: 'full' | 'tick' | 'all'): Promise<void> {
    const more = () => this.queue.length >= this.maxBatch || (mode !== 'full' && this.queue.length > 0);
    do {
      while (more()) {
        while (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight);
        if (!more()) break; // another drain took them while this one waited
        const sent = this.exportBatch(this.queue.splice(0, this.maxBatch));
        this.inFlight.add(sent);
        void sent.then(() => this.inFlight.delete(sent));
        if (mode === 'tick') mode = 'full';
      }
      if (mode === 'all') await Promise.all(this.inFlight);
    } while (mode === 'all' && this.queue.length > 0);
  }

  /**
   * Hands a batch to the exporter and keeps only its length: the OTLP exporters serialize
   * inside export(), so the spans can be collected while the request is on the wire. Held
   * until the answer, a busy server's spans lived long enough to be promoted to the old
   * generation, which then grew by megabytes a second (seen with --trace-gc).
   */
  private exportBatch(batch: ReadableSpan[]): Promise<void> {
    const count = batch.length;
    return new Promise((resolve) => {
      let settled = false;
      /** The first of answer, throw or timeout decides; a timed-out batch counts as dropped. */
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (!ok) this.dropped += count;
        resolve();
      };
      const timeout = setTimeout(() => settle(false), this.timeoutMs);
      try {
        this.exporter.export(batch, (result) => settle(result.code === ExportResultCode.SUCCESS));
      } catch {
        settle(false);
      }
    });
  }

  async forceFlush(): Promise<void> {
    await this.drain('all');
    await this.exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    clearInterval(this.timer);
    await this.drain('all');
    this.stopped = true;
    await this.exporter.shutdown();
  }
}
