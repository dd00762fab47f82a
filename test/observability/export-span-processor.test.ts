// ExportSpanProcessor (export-span-processor.ts) takes span export off the span.end() of a
// request: these tests prove that onEnd never exports synchronously, that full batches go out
// on the next setImmediate and partial ones on the interval, that at most 4 exports are in
// flight, that flush and shutdown send every queued span and wait for every answer, and that
// overflowing, failed and unsampled spans are dropped (the first two counted, each by cause:
// TelemetryLoss). Losses with a real OTLP transport failing: telemetry-loss.test.ts.
// The interval is faked (setInterval only: setImmediate and setTimeout stay real), so a test
// decides when the timer fires; the exporter below answers each export only when told.
// The same holds with an exporter that takes encoded spans (OTLP protobuf, otlp-exporter.ts),
// where real spans are encoded on the turn after they end and only their bytes wait: each
// batch sent is decoded with the official opentelemetry-proto definitions to see its spans.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, createAlwaysRecordSampler, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExportSpanProcessor, type ExportSpanProcessorOptions } from '../../src/observability/tracing/export-span-processor.ts';
import type { EncodedSpanExporter } from '../../src/observability/tracing/otlp-exporter.ts';
import { SpanEncoder, type EncodedSpans } from '../../src/observability/tracing/otlp-span-encoder.ts';
import { NO_TELEMETRY_LOSS, type TelemetryLoss } from '../../src/observability/tracing/telemetry-loss.ts';
import { decodeTraceRequest } from '../helpers/otlp-proto.ts';

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
    this.receive(
      spans.map((span) => span.name),
      resultCallback,
    );
  }

  /** Records a batch by span name, then throws, answers at once or holds the callback. */
  protected receive(names: string[], resultCallback: (result: ExportResult) => void): void {
    this.batches.push(names);
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

/** The loss expected: the counts given, 0 for the others. */
const loss = (counts: Partial<TelemetryLoss>): TelemetryLoss => ({ ...NO_TELEMETRY_LOSS, ...counts });

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

/**
 * With 4 exports on the wire and more batches waiting: one answer lets exactly one more
 * go, two answers two more, and answering the rest sends all `total` batches, never more
 * than 4 in flight.
 */
async function answerOneByOne(exporter: HeldExporter, total: number): Promise<void> {
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

  while (exporter.batches.length < total || exporter.pending.length > 0) {
    expect(exporter.pending.length).toBeLessThanOrEqual(4);
    exporter.answer();
    await settle(2);
  }
  await settle();
  expect(exporter.batches).toHaveLength(total);
}

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

    await answerOneByOne(exporter, 10);
    for (const batch of exporter.batches) expect(batch).toHaveLength(3);
    expect(exporter.names()).toEqual(names);
    expect(new Set(exporter.names()).size).toBe(30);
    expect(processor.loss()).toEqual(NO_TELEMETRY_LOSS);
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
    expect(processor.loss()).toEqual(loss({ spansDroppedQueueFull: 3 }));
    // Two full batches leave the queue for the exporter (which holds them): room for 4 more, not 5.
    await until(() => exporter.batches.length >= 2, 'the full batches');
    await settle();
    expect(exporter.pending).toHaveLength(2);
    const later = endSpans(processor, 5);
    expect(processor.loss()).toEqual(loss({ spansDroppedQueueFull: 4 }));

    exporter.release();
    await processor.shutdown();
    expect(exporter.names()).toEqual([...names.slice(0, 5), ...later.slice(0, 4)]);
    expect(processor.loss()).toEqual(loss({ spansDroppedQueueFull: 4 }));
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
    expect(processor.loss()).toEqual(NO_TELEMETRY_LOSS);
  });

  it('counts a FAILED batch and a throwing exporter as failed exports with their spans, and keeps exporting later batches', async () => {
    const { exporter, processor } = setup({ maxExportBatchSize: 3 });
    const failedNames = endSpans(processor, 3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames]);
    exporter.answer(ExportResultCode.FAILED);
    await settle();
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 3, exportsFailed: 1 }));

    exporter.throwNext = 1;
    const thrownNames = endSpans(processor, 3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames, thrownNames]);
    await settle();
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 6, exportsFailed: 2 }));
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
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 6, exportsFailed: 2 }));
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
    expect(processor.loss()).toEqual(NO_TELEMETRY_LOSS);
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
    // Every batch timed out: 5 failed exports, all 10 spans lost, and a late answer counts nothing twice.
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 10, exportsFailed: 5 }));
    exporter.answer(ExportResultCode.FAILED);
    exporter.answer();
    expect(processor.loss()).toEqual(loss({ spansDroppedExportFailed: 10, exportsFailed: 5 }));
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
    expect(processor.loss()).toEqual(NO_TELEMETRY_LOSS);
  });
});

// ---------------------------------------------------------------------------------------
// With an exporter that takes encoded spans

/** The span names in an encoded ExportTraceServiceRequest, in order (one resource and scope here). */
function decodedNames(bytes: Uint8Array): string[] {
  const request = decodeTraceRequest<{ resourceSpans?: { scopeSpans?: { spans?: { name: string }[] }[] }[] }>(bytes);
  return (request.resourceSpans ?? []).flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((span) => span.name)));
}

/**
 * Like OtlpProtobufSpanExporter: the processor encodes with its encoder and hands over bytes.
 * Each batch is recorded by the span names its bytes decode to, and answered like HeldExporter's.
 */
class EncodedExporter extends HeldExporter implements EncodedSpanExporter {
  /** Every batch handed to exportEncoded(), as sent. */
  readonly sent: EncodedSpans[] = [];
  /** The names of the spans the encoder was given, in order: when spans were encoded. */
  readonly encodedNames: string[] = [];
  /** Calls of the plain export(): the processor should never make one here. */
  plainExports = 0;

  createEncoder(): SpanEncoder {
    const encoder = new SpanEncoder();
    const add = encoder.add.bind(encoder);
    encoder.add = (span: ReadableSpan) => {
      this.encodedNames.push(span.name);
      add(span);
    };
    return encoder;
  }

  exportEncoded(batch: EncodedSpans, done: (result: ExportResult) => void): void {
    this.sent.push(batch);
    this.receive(decodedNames(batch.bytes), done);
  }

  override export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.plainExports += 1;
    super.export(spans, resultCallback);
  }
}

/** A processor with an encoding exporter, fed by real spans: span.end() calls its onEnd. */
function setupEncoded(options: Omit<ExportSpanProcessorOptions, 'exporter'> = {}) {
  const exporter = new EncodedExporter();
  const processor = new ExportSpanProcessor({ exporter, scheduledDelayMillis: 60_000, ...options });
  created.push({ processor, exporter });
  const resource = resourceFromAttributes({ 'service.name': 'export-span-processor-test' });
  const tracer = new TracerProvider({ resource, spanProcessors: [processor] }).getTracer('encoded');
  // Recorded but not sampled: the SDK calls onEnd for these too, with traceFlags 0.
  const unsampledTracer = new TracerProvider({ resource, sampler: createAlwaysRecordSampler(new AlwaysOffSampler()), spanProcessors: [processor] }).getTracer(
    'unsampled',
  );
  /** Every span ended, by name: the objects behind the bytes. */
  const spans = new Map<string, ReadableSpan>();
  const endWith = (t: typeof tracer, count: number) => {
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      spanCount += 1;
      const span = t.startSpan(`encoded-${spanCount}`, { attributes: { i: spanCount, 'http.route': '/users/:id' } });
      span.end();
      names.push(`encoded-${spanCount}`);
      spans.set(`encoded-${spanCount}`, span as unknown as ReadableSpan);
    }
    return names;
  };
  return {
    exporter,
    processor,
    spans,
    /** Ends `count` sampled spans and returns their names. */
    end: (count: number) => endWith(tracer, count),
    /** Ends `count` recorded, unsampled spans and returns their names. */
    endUnsampled: (count: number) => endWith(unsampledTracer, count),
  };
}

describe('ExportSpanProcessor with an exporter that takes encoded spans', () => {
  it('encodes nothing and exports nothing inside span.end() or in the same turn; on the next turn encodes, and sends a full batch', async () => {
    const { exporter, end } = setupEncoded({ maxExportBatchSize: 4 });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      names.push(...end(1));
      expect(exporter.encodedNames).toHaveLength(0);
      expect(exporter.batches).toHaveLength(0);
    }
    await nextTurn();
    expect(exporter.encodedNames).toEqual(names);
    expect(exporter.batches).toEqual([names]);
    expect(exporter.sent.map((b) => b.count)).toEqual([4]);

    // A partial batch is encoded on the next turn too (its span objects no longer wait), but not sent.
    const partial = end(1);
    expect(exporter.encodedNames).toEqual(names);
    await nextTurn();
    expect(exporter.encodedNames).toEqual([...names, ...partial]);
    await settle();
    expect(exporter.batches).toHaveLength(1);
    expect(exporter.plainExports).toBe(0);
  });

  it("sends the default batch of 512 (the spec's) as soon as it is full, and not before", async () => {
    const { exporter, end } = setupEncoded();
    const names = end(511);
    await settle();
    expect(exporter.encodedNames).toEqual(names);
    expect(exporter.batches).toHaveLength(0);
    names.push(...end(1));
    await nextTurn();
    expect(exporter.batches).toEqual([names]);
    expect(exporter.sent[0]!.count).toBe(512);
  });

  it('splits a turn of spans into full batches, in order, and fills the rest across turns', async () => {
    const { exporter, end } = setupEncoded({ maxExportBatchSize: 4 });
    const names = end(10);
    await nextTurn();
    expect(exporter.batches).toEqual([names.slice(0, 4), names.slice(4, 8)]);
    names.push(...end(1));
    await nextTurn();
    expect(exporter.batches).toHaveLength(2);
    names.push(...end(1));
    await nextTurn();
    expect(exporter.batches).toEqual([names.slice(0, 4), names.slice(4, 8), names.slice(8, 12)]);
    expect(exporter.sent.map((b) => b.count)).toEqual([4, 4, 4]);
  });

  it('leaves a partial batch for the interval timer, which then sends it', async () => {
    const { exporter, end } = setupEncoded({ maxExportBatchSize: 4, scheduledDelayMillis: 30 });
    const names = end(3);
    await settle();
    vi.advanceTimersByTime(29);
    await settle();
    expect(exporter.batches).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(exporter.batches).toEqual([names]);
    expect(exporter.sent[0]!.count).toBe(3);
    // The next tick has nothing to send.
    exporter.answer();
    vi.advanceTimersByTime(30);
    await settle();
    expect(exporter.batches).toHaveLength(1);
  });

  it('the timer also sends spans ended in its own turn, not yet encoded', async () => {
    const { exporter, end } = setupEncoded({ maxExportBatchSize: 4, scheduledDelayMillis: 30 });
    const names = end(2);
    vi.advanceTimersByTime(30);
    expect(exporter.batches).toEqual([names]);
  });

  it('sends bytes that are what the stock serializer makes of the spans of each batch', async () => {
    const { exporter, processor, end, spans } = setupEncoded({ maxExportBatchSize: 5 });
    end(12);
    exporter.release();
    await processor.forceFlush();
    expect(exporter.sent.map((b) => b.count)).toEqual([5, 5, 2]);
    for (const [i, batch] of exporter.sent.entries()) {
      const objects = exporter.batches[i]!.map((name) => spans.get(name)!);
      const stock = ProtobufTraceSerializer.serializeRequest(objects as Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0])!;
      expect(Buffer.from(batch.bytes).equals(Buffer.from(stock)), `batch ${i}: the encoded bytes are not the stock serializer's`).toBe(true);
    }
  });

  it('forceFlush sends the partial batch and spans not yet encoded, and resolves only once every export has answered', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 4 });
    const names = end(6);
    await nextTurn();
    expect(exporter.batches).toEqual([names.slice(0, 4)]);
    // Ended in this turn: still span objects when forceFlush comes.
    names.push(...end(1));

    const flushed = track(p.forceFlush());
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
    expect(exporter.plainExports).toBe(0);
  });

  it('keeps at most 4 exports in flight; each answer lets one more go; every span goes out once, in order, in full batches', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 3 });
    const names = end(30);
    await nextTurn();
    expect(exporter.batches).toHaveLength(4);
    // More turns end spans while the four are on the wire: their batches wait, encoded.
    for (let turn = 0; turn < 3; turn++) {
      names.push(...end(2));
      await nextTurn();
    }
    await settle();
    expect(exporter.batches).toHaveLength(4);
    expect(exporter.pending).toHaveLength(4);
    expect(exporter.encodedNames).toEqual(names);

    await answerOneByOne(exporter, 12);
    for (const batch of exporter.batches) expect(batch).toHaveLength(3);
    expect(exporter.names()).toEqual(names);
    expect(new Set(exporter.names()).size).toBe(36);
    expect(exporter.plainExports).toBe(0);
    expect(p.loss()).toEqual(NO_TELEMETRY_LOSS);
  });

  it('an answer lets the waiting batches go at once, spans ended earlier in that turn included', async () => {
    const { exporter, end } = setupEncoded({ maxExportBatchSize: 3 });
    const names = end(15);
    await nextTurn();
    expect(exporter.batches).toHaveLength(4);
    // In one turn: a request ends three spans (a full batch, not yet encoded), then two answers come.
    names.push(...end(3));
    exporter.answer();
    exporter.answer();
    // Promise callbacks only, no next turn: the drain waiting for a slot sends both batches itself.
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(exporter.batches).toHaveLength(6);
    expect(exporter.batches[5]).toEqual(names.slice(15));
  });

  it('forceFlush with more than 4 batches waiting sends them at most 4 at a time, the last one partial', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 2 });
    const names = end(11);
    const flushed = track(p.forceFlush());
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

  it('counts spans in the encoder (a partial batch) toward maxQueueSize', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 4, maxQueueSize: 3 });
    const first = end(2);
    await nextTurn();
    expect(exporter.encodedNames).toEqual(first);
    // Two spans encoded, one more fits; the last is dropped.
    const later = end(2);
    expect(p.loss()).toEqual(loss({ spansDroppedQueueFull: 1 }));
    exporter.release();
    await p.forceFlush();
    expect(exporter.names()).toEqual([...first, later[0]]);
    expect(p.loss()).toEqual(loss({ spansDroppedQueueFull: 1 }));
  });

  it('counts encoded full batches waiting for a slot toward maxQueueSize, and frees the room once they are sent', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 2, maxQueueSize: 5 });
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) {
      sent.push(...end(2));
      await nextTurn();
    }
    expect(exporter.pending).toHaveLength(4);
    // Two full batches encoded, waiting for a slot: 4 spans held as bytes.
    const waiting = end(4);
    await nextTurn();
    expect(exporter.encodedNames).toEqual([...sent, ...waiting]);
    expect(exporter.batches).toHaveLength(4);
    const fits = end(1);
    expect(p.loss()).toEqual(NO_TELEMETRY_LOSS);
    end(1);
    expect(p.loss()).toEqual(loss({ spansDroppedQueueFull: 1 }));

    exporter.release();
    await p.forceFlush();
    expect(exporter.names()).toEqual([...sent, ...waiting, ...fits]);
    // Everything has left: the whole room is free again.
    const after = end(5);
    await p.forceFlush();
    expect(exporter.names()).toEqual([...sent, ...waiting, ...fits, ...after]);
    expect(p.loss()).toEqual(loss({ spansDroppedQueueFull: 1 }));
  });

  it('ignores unsampled spans: neither encoded nor sent', async () => {
    const { exporter, processor: p, end, endUnsampled } = setupEncoded({ maxExportBatchSize: 2 });
    endUnsampled(1);
    const sampled = end(1);
    endUnsampled(2);
    sampled.push(...end(1));
    endUnsampled(1);
    await settle();
    expect(exporter.encodedNames).toEqual(sampled);
    expect(exporter.batches).toEqual([sampled]);
    exporter.answer();
    endUnsampled(3);
    await p.forceFlush();
    expect(exporter.batches).toHaveLength(1);
    expect(p.loss()).toEqual(NO_TELEMETRY_LOSS);
  });

  it('counts a FAILED batch and a throwing exportEncoded as failed exports with their spans, and keeps exporting later batches', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 3 });
    const failedNames = end(3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames]);
    exporter.answer(ExportResultCode.FAILED);
    await settle();
    expect(p.loss()).toEqual(loss({ spansDroppedExportFailed: 3, exportsFailed: 1 }));

    exporter.throwNext = 1;
    const thrownNames = end(3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames, thrownNames]);
    await settle();
    expect(p.loss()).toEqual(loss({ spansDroppedExportFailed: 6, exportsFailed: 2 }));
    expect(exporter.pending).toHaveLength(0);

    const okNames = end(3);
    await nextTurn();
    expect(exporter.batches).toEqual([failedNames, thrownNames, okNames]);
    exporter.answer();
    const partial = end(2);
    const flushed = track(p.forceFlush());
    exporter.answer();
    await until(() => flushed.settled, 'forceFlush');
    expect(exporter.batches).toEqual([failedNames, thrownNames, okNames, partial]);
    expect(p.loss()).toEqual(loss({ spansDroppedExportFailed: 6, exportsFailed: 2 }));
  });

  it('on shutdown sends everything, waits for the answers, shuts the exporter down, then ignores spans', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 4, scheduledDelayMillis: 30 });
    const names = end(6);
    await nextTurn();

    const shut = track(p.shutdown());
    expect(exporter.batches).toEqual([names.slice(0, 4), names.slice(4)]);
    exporter.answer();
    await settle();
    expect(shut.settled).toBe(false);
    expect(exporter.shutdownCalls).toBe(0);
    exporter.answer();
    await until(() => shut.settled, 'shutdown');
    expect(exporter.shutdownCalls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);

    exporter.release();
    end(8);
    await settle();
    await p.forceFlush();
    expect(exporter.names()).toEqual(names);
    expect(exporter.encodedNames).toEqual(names);
    expect(p.loss()).toEqual(NO_TELEMETRY_LOSS);
  });

  it('exports spans that end while shutdown waits for the exports in flight', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 4 });
    const first = end(4);
    await nextTurn();
    const shut = track(p.shutdown());
    await settle();
    // A request finishing during shutdown ends its spans while the first batch is on the wire.
    const late = end(2);
    await settle();
    exporter.answer();
    await until(() => exporter.batches.length === 2, 'the late spans exported');
    expect(shut.settled).toBe(false);
    exporter.answer();
    await until(() => shut.settled, 'shutdown');
    expect(exporter.names()).toEqual([...first, ...late]);
    expect(exporter.shutdownCalls).toBe(1);
    expect(p.loss()).toEqual(NO_TELEMETRY_LOSS);
  });

  it('on shutdown sends spans that end in the same turn as the answer it waits for', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 4 });
    const first = end(4);
    await nextTurn();
    const shut = track(p.shutdown());
    await settle();
    // One turn: a request ends its spans, then the answer comes; shutdown resumes before any setImmediate.
    const late = end(2);
    exporter.answer();
    await until(() => exporter.batches.length === 2, 'the late spans exported');
    exporter.answer();
    await until(() => shut.settled, 'shutdown');
    expect(exporter.names()).toEqual([...first, ...late]);
  });

  it('on shutdown also waits for a full batch of late spans that the next turn sends', async () => {
    const { exporter, processor: p, end } = setupEncoded({ maxExportBatchSize: 2 });
    const first = end(2);
    await nextTurn();
    const shut = track(p.shutdown());
    // Late spans fill a batch: the next turn's drain sends it, while shutdown waits for the first.
    const late = end(2);
    await settle();
    expect(exporter.batches).toEqual([first, late]);
    exporter.answer();
    await settle();
    expect(shut.settled, 'shutdown resolved with the late batch still on the wire').toBe(false);
    expect(exporter.shutdownCalls).toBe(0);
    exporter.answer();
    await until(() => shut.settled, 'shutdown');
    expect(exporter.shutdownCalls).toBe(1);
  });
});

describe('ExportSpanProcessor.blockingCounts()', () => {
  it('times each synchronous run of its export work: a send that holds the loop 3 ms is one block of at least 3 ms', async () => {
    const { exporter, processor, end } = setupEncoded({ maxExportBatchSize: 4 });
    exporter.release();
    end(4);
    await nextTurn();
    await settle();
    const quick = processor.blockingCounts();
    expect(quick.count).toBeGreaterThanOrEqual(1);
    expect(quick.counts.reduce((a, b) => a + b, 0)).toBe(quick.count);

    // The transport now holds the loop for 3 ms each time it is handed a batch.
    const send = exporter.exportEncoded.bind(exporter);
    exporter.exportEncoded = (batch, done) => {
      const until = performance.now() + 3;
      while (performance.now() < until);
      send(batch, done);
    };
    end(4);
    await nextTurn();
    await settle();
    const slow = processor.blockingCounts();
    expect(exporter.batches).toHaveLength(2);
    expect(slow.count).toBeGreaterThan(quick.count);
    expect(slow.maxSeconds).toBeGreaterThanOrEqual(0.003);
    expect(slow.sumSeconds - quick.sumSeconds).toBeGreaterThanOrEqual(0.003);
    // Bucket 5 is (2.5 ms, 5 ms]: the slow block is there or above, and only one block is.
    const above = (c: readonly number[]) => c.slice(5).reduce((a, b) => a + b, 0);
    expect(above(slow.counts) - above(quick.counts)).toBe(1);
  });
});
