// ExportSpanProcessor (export-span-processor.ts) takes span export off the span.end() of a
// request: these tests prove that onEnd never exports synchronously, that full batches go out
// on the next setImmediate and partial ones on the interval, that at most 4 exports are in
// flight, that flush and shutdown send every queued span and wait for every answer, and that
// overflowing, failed and unsampled spans are dropped (and the first two counted).
// The interval is faked (setInterval only: setImmediate and setTimeout stay real), so a test
// decides when the timer fires; the exporter below answers each export only when told.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExportSpanProcessor, type ExportSpanProcessorOptions } from '../../src/observability/tracing/export-span-processor.ts';

/** Records every batch by span name and holds each export's callback until the test answers it. */
class HeldExporter implements SpanExporter {
  /** Batches handed to export(), in order (a throwing export included). */
  readonly batches: string[][] = [];
  /** Callbacks of the exports not answered yet: the exports in flight. */
  readonly pending: ((result: ExportResult) => void)[] = [];
  /** When set, every export (the pending ones included) is answered SUCCESS at once. */
  private auto = false;
  /** How many of the next export() calls throw. */
  throwNext = 0;
  shutdownCalls = 0;
  flushCalls = 0;

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.batches.push(spans.map((span) => span.name));
    if (this.throwNext > 0) {
      this.throwNext -= 1;
      throw new Error('exporter broke');
    }
    if (this.auto) resultCallback({ code: ExportResultCode.SUCCESS });
    else this.pending.push(resultCallback);
  }

  /** Answers the oldest export in flight. */
  answer(code: ExportResultCode = ExportResultCode.SUCCESS): void {
    const callback = this.pending.shift();
    if (!callback) throw new Error('no export in flight');
    callback({ code });
  }

  /** Answers everything in flight and, from now on, every export at once. */
  release(): void {
    this.auto = true;
    while (this.pending.length > 0) this.answer();
  }

  /** Every span name exported, in order. */
  names(): string[] {
    return this.batches.flat();
  }

  async forceFlush(): Promise<void> {
    this.flushCalls += 1;
  }

  async shutdown(): Promise<void> {
    this.shutdownCalls += 1;
  }
}

let spanCount = 0;

/** A minimal ended span: onEnd reads only spanContext().traceFlags, the exporter only the name here. */
function span(traceFlags = 1): ReadableSpan {
  spanCount += 1;
  const name = `span-${spanCount}`;
  const spanId = spanCount.toString(16).padStart(16, '0');
  return { name, spanContext: () => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId, traceFlags }) } as unknown as ReadableSpan;
}

/** Ends `count` sampled spans on the processor and returns their names. */
function endSpans(processor: ExportSpanProcessor, count: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = span();
    names.push(s.name);
    processor.onEnd(s);
  }
  return names;
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** Lets every pending setImmediate and promise settle (for "nothing more happens" checks). */
async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn();
}

/** Polls until `condition` holds, with a generous deadline (a failure, not a flake, if never). */
async function until(condition: () => boolean, what: string, deadlineMs = 2_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A promise's state without waiting for it. */
function track(promise: Promise<void>) {
  const state = { settled: false };
  void promise.then(() => {
    state.settled = true;
  });
  return state;
}

const created: { processor: ExportSpanProcessor; exporter: HeldExporter }[] = [];

function setup(options: Omit<ExportSpanProcessorOptions, 'exporter'> = {}) {
  const exporter = new HeldExporter();
  const processor = new ExportSpanProcessor({ exporter, scheduledDelayMillis: 60_000, ...options });
  created.push({ processor, exporter });
  return { exporter, processor };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});

// Every processor is shut down (its exporter answering everything), even when a test failed halfway.
afterEach(async () => {
  for (const { processor, exporter } of created.splice(0)) {
    exporter.release();
    await processor.shutdown();
  }
  vi.useRealTimers();
});

describe('ExportSpanProcessor', () => {
  it('never exports inside onEnd; a full batch goes out on the next setImmediate, without waiting for the timer', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 4 });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      names.push(...endSpans(processor, 1));
      expect(exporter.batches).toHaveLength(0);
    }
    await nextTurn();
    expect(exporter.batches).toEqual([names]);
    // One more span is a partial batch: no setImmediate sends it.
    endSpans(processor, 1);
    await settle();
    expect(exporter.batches).toHaveLength(1);
  });

  it('sends the default batch of 64 spans as soon as it is full, and not before', async () => {
    const { exporter, processor } = setup();
    const names = endSpans(processor, 63);
    await settle();
    expect(exporter.batches).toHaveLength(0);
    names.push(...endSpans(processor, 1));
    await nextTurn();
    expect(exporter.batches).toEqual([names]);
  });

  it('leaves a partial batch for the interval timer, which then exports it', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 4, scheduledDelayMillis: 30 });
    const names = endSpans(processor, 3);
    await settle();
    vi.advanceTimersByTime(29);
    await settle();
    expect(exporter.batches).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(exporter.batches).toEqual([names]);
    // The next tick has nothing to send.
    exporter.answer();
    vi.advanceTimersByTime(30);
    await settle();
    expect(exporter.batches).toHaveLength(1);
  });

  it('keeps exactly 4 exports in flight; each answer lets one more go; every span goes out once, in full batches', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 3 });
    const names = endSpans(processor, 30);
    await until(() => exporter.batches.length >= 4, 'the first exports');
    await settle();
    expect(exporter.batches).toHaveLength(4);
    expect(exporter.pending).toHaveLength(4);

    exporter.answer();
    await until(() => exporter.batches.length >= 5, 'an export after the first answer');
    await settle();
    expect(exporter.batches).toHaveLength(5);
    expect(exporter.pending).toHaveLength(4);

    exporter.answer();
    exporter.answer();
    await until(() => exporter.batches.length >= 7, 'two exports after two answers');
    await settle();
    expect(exporter.batches).toHaveLength(7);
    expect(exporter.pending).toHaveLength(4);

    while (exporter.batches.length < 10 || exporter.pending.length > 0) {
      expect(exporter.pending.length).toBeLessThanOrEqual(4);
      exporter.answer();
      await settle(2);
    }
    await settle();
    expect(exporter.batches).toHaveLength(10);
    for (const batch of exporter.batches) expect(batch).toHaveLength(3);
    expect(exporter.names()).toEqual(names);
    expect(new Set(exporter.names()).size).toBe(30);
    expect(processor.dropped).toBe(0);
  });

  it('forceFlush exports partial batches and resolves only once every export in flight has answered', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 4 });
    const names = endSpans(processor, 6);
    await nextTurn();
    expect(exporter.batches).toEqual([names.slice(0, 4)]);

    const flushed = track(processor.forceFlush());
    expect(exporter.batches).toEqual([names.slice(0, 4), names.slice(4)]);
    expect(exporter.pending).toHaveLength(2);

    exporter.answer();
    await settle();
    expect(flushed.settled).toBe(false);
    expect(exporter.flushCalls).toBe(0);

    exporter.answer();
    await until(() => flushed.settled, 'forceFlush');
    expect(exporter.flushCalls).toBe(1);
    expect(exporter.names()).toEqual(names);
  });

  it('forceFlush sends a queue of more than 4 batches, at most 4 exports at a time, the last one partial', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 2 });
    // Ended in one go, the 11 spans wait in the queue; only the first four batches can leave at once.
    const names = endSpans(processor, 11);
    const flushed = track(processor.forceFlush());
    await settle();
    expect(exporter.pending).toHaveLength(4);
    while (!flushed.settled) {
      expect(exporter.pending.length).toBeLessThanOrEqual(4);
      if (exporter.pending.length > 0) exporter.answer();
      await settle(2);
    }
    expect(exporter.batches.map((b) => b.length)).toEqual([2, 2, 2, 2, 2, 1]);
    expect(exporter.names()).toEqual(names);
  });

  it('drops and counts the spans past maxQueueSize while the exporter does not answer', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 2, maxQueueSize: 5 });
    const names = endSpans(processor, 8);
    expect(processor.dropped).toBe(3);
    // Two full batches leave the queue for the exporter (which holds them): room for 4 more, not 5.
    await until(() => exporter.batches.length >= 2, 'the full batches');
    await settle();
    expect(exporter.pending).toHaveLength(2);
    const later = endSpans(processor, 5);
    expect(processor.dropped).toBe(4);

    exporter.release();
    await processor.shutdown();
    expect(exporter.names()).toEqual([...names.slice(0, 5), ...later.slice(0, 4)]);
    expect(processor.dropped).toBe(4);
  });

  it('ignores unsampled spans (sampled bit of traceFlags is 0)', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 2 });
    const sampled = [span(1), span(3)];
    for (const s of [span(0), sampled[0]!, span(2), span(0), sampled[1]!, span(0), span(2)]) processor.onEnd(s);
    await settle();
    expect(exporter.batches).toEqual([sampled.map((s) => s.name)]);
    exporter.answer();
    await processor.forceFlush();
    expect(exporter.batches).toHaveLength(1);
    expect(processor.dropped).toBe(0);
  });

  it('counts a FAILED batch and a throwing exporter in dropped, and keeps exporting later batches', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 3 });
    const failedNames = endSpans(processor, 3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames]);
    exporter.answer(ExportResultCode.FAILED);
    await settle();
    expect(processor.dropped).toBe(3);

    exporter.throwNext = 1;
    const thrownNames = endSpans(processor, 3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames, thrownNames]);
    await settle();
    expect(processor.dropped).toBe(6);
    expect(exporter.pending).toHaveLength(0);

    const okNames = endSpans(processor, 3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames, thrownNames, okNames]);
    exporter.answer();
    const partial = endSpans(processor, 2);
    const flushed = track(processor.forceFlush());
    exporter.answer();
    await until(() => flushed.settled, 'forceFlush');
    expect(exporter.batches).toEqual([failedNames, thrownNames, okNames, partial]);
    expect(processor.dropped).toBe(6);
  });

  it('on shutdown exports the queue, waits for the answers, shuts the exporter down, stops its timer, then ignores spans', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 4, scheduledDelayMillis: 30 });
    expect(vi.getTimerCount()).toBe(1);
    const names = endSpans(processor, 6);
    await nextTurn();

    const shut = track(processor.shutdown());
    expect(exporter.batches).toEqual([names.slice(0, 4), names.slice(4)]);
    exporter.answer();
    await settle();
    expect(shut.settled).toBe(false);
    expect(exporter.shutdownCalls).toBe(0);
    exporter.answer();
    await until(() => shut.settled, 'shutdown');
    expect(exporter.shutdownCalls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);

    // From here the exporter answers at once, so a span wrongly sent after shutdown shows without a wait.
    exporter.release();
    endSpans(processor, 8);
    await settle();
    await processor.forceFlush();
    vi.advanceTimersByTime(1_000);
    await settle();
    expect(exporter.names()).toEqual(names);
    expect(processor.dropped).toBe(0);
    await processor.shutdown();
    expect(exporter.shutdownCalls).toBe(1);
  });

  it('gives up waiting for an export that never answers after exportTimeoutMillis, freeing its slot', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 2, exportTimeoutMillis: 20 });
    const names = endSpans(processor, 10);
    await nextTurn();
    expect(exporter.batches).toHaveLength(4);
    // No answer ever comes: the timeouts free the slots and the fifth batch goes out, then flush resolves.
    await until(() => exporter.batches.length === 5, 'the fifth batch after the timeouts');
    await processor.forceFlush();
    expect(exporter.names()).toEqual(names);
    // Every batch timed out: all 10 spans count as dropped, and a late answer counts nothing twice.
    expect(processor.dropped).toBe(10);
    exporter.answer(ExportResultCode.FAILED);
    exporter.answer();
    expect(processor.dropped).toBe(10);
  });

  it('exports spans that end while shutdown waits for the exports in flight', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 4 });
    const first = endSpans(processor, 4);
    await nextTurn();
    const shut = track(processor.shutdown());
    await settle();
    // A request finishing during shutdown ends its span while the first batch is on the wire.
    const late = endSpans(processor, 2);
    exporter.answer();
    await until(() => exporter.batches.length === 2, 'the late spans exported');
    exporter.answer();
    await until(() => shut.settled, 'shutdown');
    expect(exporter.names()).toEqual([...first, ...late]);
    expect(processor.dropped).toBe(0);
  });
});
