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
//
// With an exporter that takes encoded spans (OTLP protobuf, otlp-exporter.ts) the spans
// ended in a turn are encoded on the next turn and only their bytes wait for the batch:
// at 10 % sampling a batch of 64 takes ~30 ms to fill, long enough for waiting span
// objects to be promoted to the old generation (~3 MB/s, --trace-gc).
//
// What is lost is counted by cause (telemetry-loss.ts): spans dropped at a full queue, and
// failed exports with their spans. The export itself runs with tracing suppressed: the
// drain that sends a batch often runs in the context of the request whose span.end()
// scheduled it, and an instrumented HTTP client (undici, for a fetch-based transport) would
// otherwise make a span of the export POST inside that request's trace, whose export would
// make another, and so on.
import { context, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { ExportBlocking, type ExportBlockingCounts } from './export-blocking.ts';
import { isEncodedSpanExporter, type EncodedSpanExporter } from './otlp-exporter.ts';
import type { EncodedSpans, SpanEncoder } from './otlp-span-encoder.ts';
import type { TelemetryLoss } from './telemetry-loss.ts';
import { isSampled } from './tracer.ts';

export interface ExportSpanProcessorOptions {
  exporter: SpanExporter;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  maxQueueSize?: number;
  exportTimeoutMillis?: number;
}

/** Exports on the wire at once (the OTLP exporters allow 30). */
const MAX_IN_FLIGHT = 4;

/** A batch ready to go: how many spans, and how to hand it to the exporter. */
interface Batch {
  count: number;
  send(done: (result: ExportResult) => void): void;
}

/** No span of any instrumentation starts in this context (the export's own HTTP or gRPC call). */
const EXPORT_CONTEXT = suppressTracing(ROOT_CONTEXT);

export class ExportSpanProcessor implements SpanProcessor {
  private readonly exporter: SpanExporter;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  /** Ended spans: waiting for a batch, or (encoding) for the next turn's encoding. */
  private queue: ReadableSpan[] = [];
  /** With an encoding exporter: the batch being filled, and full ones waiting for a slot. */
  private readonly encoder: SpanEncoder | undefined;
  private readonly encoded: EncodedSpans[] = [];
  private encodedCount = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private scheduled = false;
  /** A 'full' drain is running (possibly waiting for a free slot). */
  private pumping = false;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private spansDroppedQueueFull = 0;
  private spansDroppedExportFailed = 0;
  private exportsFailed = 0;
  private readonly blocking = new ExportBlocking();

  constructor(options: ExportSpanProcessorOptions) {
    this.exporter = options.exporter;
    this.encoder = isEncodedSpanExporter(options.exporter) ? options.exporter.createEncoder() : undefined;
    // Span objects waiting for a batch: small batches, so a span dies young (a batch fills
    // in a few ms under load); with 256 the traced server's old generation grew ~8 MB/s at
    // 100 % (--trace-gc). Encoded spans: only bytes wait, so the spec's 512, and a POST per
    // 512 spans instead of per 64 cut the cost of a sampled request at 100 % by a third
    // (HTTP client work per export, measured: 18 → 12 µs of CPU a request).
    this.maxBatch = options.maxExportBatchSize ?? (this.encoder ? 512 : 64);
    this.maxQueue = options.maxQueueSize ?? 4096;
    this.timeoutMs = options.exportTimeoutMillis ?? 10_000;
    this.timer = setInterval(() => void this.drain('tick'), options.scheduledDelayMillis ?? 1000);
    this.timer.unref();
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || !isSampled(span.spanContext())) return;
    if (this.waiting() >= this.maxQueue) {
      this.spansDroppedQueueFull += 1;
      return;
    }
    this.queue.push(span);
    if (this.encoder || this.queue.length >= this.maxBatch) this.schedule();
  }

  /** What this processor lost since it started (cumulative counts). */
  loss(): TelemetryLoss {
    return { spansDroppedQueueFull: this.spansDroppedQueueFull, spansDroppedExportFailed: this.spansDroppedExportFailed, exportsFailed: this.exportsFailed };
  }

  /** How long this processor's work held the event loop, block by block (cumulative). */
  blockingCounts(): ExportBlockingCounts {
    return this.blocking.snapshot();
  }

  /** Spans held, in any form. */
  private waiting(): number {
    return this.queue.length + (this.encoder ? this.encoder.count + this.encodedCount : 0);
  }

  /** Encode and export soon, off the current call stack. */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain('full');
    });
  }

  /** Moves the queued spans into the encoder, setting full batches aside. */
  private encodeQueued(encoder: SpanEncoder): void {
    const spans = this.queue;
    if (spans.length === 0) return;
    this.queue = [];
    for (const span of spans) {
      encoder.add(span);
      if (encoder.count >= this.maxBatch) {
        const batch = encoder.take();
        this.encoded.push(batch);
        this.encodedCount += batch.count;
      }
    }
  }

  /** Whether a batch can go: a full one, or in 'tick'/'all' mode whatever is waiting. */
  private hasBatch(mode: 'full' | 'tick' | 'all'): boolean {
    if (this.encoder === undefined) return this.queue.length >= this.maxBatch || (mode !== 'full' && this.queue.length > 0);
    return this.encoded.length > 0 || (mode !== 'full' && this.encoder.count > 0);
  }

  private takeBatch(): Batch {
    if (this.encoder === undefined) {
      const spans = this.queue.splice(0, this.maxBatch);
      return { count: spans.length, send: (done) => this.exporter.export(spans, done) };
    }
    let encoded = this.encoded.shift();
    if (encoded) this.encodedCount -= encoded.count;
    else encoded = this.encoder.take();
    const batch = encoded;
    return { count: batch.count, send: (done) => (this.exporter as EncodedSpanExporter).exportEncoded(batch, done) };
  }

  /**
   * Sends batches, at most MAX_IN_FLIGHT on the wire: 'full' the full batches waiting,
   * 'tick' (the timer) also one partial batch, 'all' (flush, shutdown) every span, and then
   * waits for every export in flight, again while spans ended meanwhile (requests finishing
   * during shutdown) are waiting. One 'full' drain at a time: while it waits for a free
   * slot, the turns that schedule another leave their batches to it.
   */
  private async drain(mode: 'full' | 'tick' | 'all'): Promise<void> {
    // Each run between two awaits is one block of the loop, timed (export-blocking.ts).
    let started = this.blocking.begin();
    if (this.encoder) this.encodeQueued(this.encoder);
    const pump = mode === 'full';
    if (pump) {
      if (this.pumping) {
        this.blocking.record(started);
        return;
      }
      this.pumping = true;
    }
    try {
      do {
        while (this.hasBatch(mode)) {
          while (this.inFlight.size >= MAX_IN_FLIGHT) {
            this.blocking.record(started);
            await Promise.race(this.inFlight);
            started = this.blocking.begin();
          }
          if (this.encoder) this.encodeQueued(this.encoder);
          if (!this.hasBatch(mode)) break; // another drain sent it meanwhile
          const sent = this.exportBatch(this.takeBatch());
          this.inFlight.add(sent);
          void sent.then(() => this.inFlight.delete(sent));
          if (mode === 'tick') mode = 'full';
        }
        if (mode === 'all') {
          this.blocking.record(started);
          await Promise.all(this.inFlight);
          started = this.blocking.begin();
          if (this.encoder) this.encodeQueued(this.encoder);
        }
      } while (mode === 'all' && (this.waiting() > 0 || this.inFlight.size > 0));
    } finally {
      if (pump) this.pumping = false;
      this.blocking.record(started);
    }
  }

  /**
   * Hands a batch to the exporter and keeps only its length: the exporter serializes inside
   * export(), so the spans can be collected while the request is on the wire. Held until
   * the answer, a busy server's spans lived long enough to be promoted to the old
   * generation, which then grew by megabytes a second (seen with --trace-gc).
   */
  private exportBatch(batch: Batch): Promise<void> {
    const count = batch.count;
    return new Promise((resolve) => {
      let settled = false;
      /** The first of answer, throw or timeout decides; a timed-out batch counts as failed. */
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (!ok) {
          this.exportsFailed += 1;
          this.spansDroppedExportFailed += count;
        }
        resolve();
      };
      const timeout = setTimeout(() => settle(false), this.timeoutMs);
      try {
        // The transport's own continuations (retries, the answer) inherit this context too.
        context.with(EXPORT_CONTEXT, () => batch.send((result) => settle(result.code === ExportResultCode.SUCCESS)));
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
