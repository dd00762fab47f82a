// The request_completed line is composed by hand (request-line.ts) for speed: these tests
// hold it byte for byte against the line pino writes for the same logger and fields, and
// check that every case it does not handle goes back to pino.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/observability/logging/logger.ts';
import { REDACTED } from '../../src/observability/logging/redact.ts';
import { writeRequestCompleted } from '../../src/observability/logging/request-line.ts';
import { TRACE_IDS, traceLogMixin } from '../../src/observability/tracing/log-correlation.ts';

class Capture extends Writable {
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
}

/** Both lines with the timestamp masked (written a millisecond apart, they may differ there only). */
const masked = (line: string) => line.replace(/"timestamp":"[^"]+"/, '"timestamp":"T"');

function requestLogger(options: { level?: string; mixin?: Parameters<typeof createLogger>[0]['mixin'] } = {}) {
  const out = new Capture();
  const root = createLogger({ level: options.level ?? 'info', format: 'json', destination: out, ...(options.mixin ? { mixin: options.mixin } : {}) });
  // As a request's logger is made: Fastify's child, then the identity child of authentication.
  const log = root
    .child({ request_id: 'req-1', method: 'GET', path: '/api/products/p-"quoted"\\é' })
    .child({ tenant_id: 't-1', user_id: 'u-1', authorization: 'Bearer must-not-print' }) as unknown as Logger;
  return { out, log };
}

/** What pino writes, then what the fast path writes, for the same logger. */
async function bothLines(log: Logger, out: Capture, status: number, durationMs: number) {
  log.info({ status_code: status, duration_ms: durationMs }, 'request_completed');
  expect(writeRequestCompleted(log, status, durationMs)).toBe(true);
  await new Promise((r) => setImmediate(r));
  expect(out.raw).toHaveLength(2);
  return { pinoLine: out.raw[0]!, fastLine: out.raw[1]! };
}

describe('the request_completed line', () => {
  it('is the line pino writes: bindings of both children (redacted), trace ids from the mixin, fields, message', async () => {
    const { out, log } = requestLogger({ mixin: traceLogMixin });
    (log as unknown as Record<symbol, unknown>)[TRACE_IDS] = { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' };
    const { pinoLine, fastLine } = await bothLines(log, out, 201, 12.34);
    expect(masked(fastLine)).toBe(masked(pinoLine));
    const parsed = JSON.parse(fastLine) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      level: 'info',
      request_id: 'req-1',
      tenant_id: 't-1',
      authorization: REDACTED,
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      status_code: 201,
      duration_ms: 12.34,
      message: 'request_completed',
    });
    expect(new Date(parsed.timestamp as string).toISOString()).toBe(parsed.timestamp);
    expect(fastLine).not.toContain('must-not-print');
  });

  it('is the line pino writes without trace ids, and with no mixin at all', async () => {
    for (const mixin of [traceLogMixin, undefined]) {
      const { out, log } = requestLogger({ mixin });
      const { pinoLine, fastLine } = await bothLines(log, out, 404, 0.5);
      expect(masked(fastLine)).toBe(masked(pinoLine));
      expect(fastLine).not.toContain('trace_id');
    }
  });

  it('redacts a secret the mixin returns, and lets the request fields win a clash, as pino does', async () => {
    const mixin = () => ({ api_key: 'mixin-secret', status_code: 999, flag: true, n: 7, none: null, skipped: undefined });
    const { out, log } = requestLogger({ mixin });
    const { pinoLine, fastLine } = await bothLines(log, out, 200, 3);
    expect(masked(fastLine)).toBe(masked(pinoLine));
    expect(JSON.parse(fastLine)).toMatchObject({ api_key: REDACTED, status_code: 200, flag: true, n: 7, none: null });
    expect(fastLine).not.toContain('mixin-secret');
  });

  it('writes null for a duration that is not a finite number, as pino does', async () => {
    const { out, log } = requestLogger();
    const { pinoLine, fastLine } = await bothLines(log, out, 200, Number.NaN);
    expect(masked(fastLine)).toBe(masked(pinoLine));
    expect(JSON.parse(fastLine)).toMatchObject({ duration_ms: null });
  });

  it('writes nothing below the logger level', async () => {
    const { out, log } = requestLogger({ level: 'warn' });
    expect(writeRequestCompleted(log, 200, 1)).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(out.raw).toEqual([]);
  });

  it('leaves the line to pino when the mixin returns a nested value or the destination wants pino metadata', async () => {
    const nested = requestLogger({ mixin: () => ({ ctx: { a: 1 } }) });
    expect(writeRequestCompleted(nested.log, 200, 1)).toBe(false);

    const out = new Capture();
    const multi = pino({ level: 'info' }, pino.multistream([{ stream: out }])) as unknown as Logger;
    expect(writeRequestCompleted(multi, 200, 1)).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(nested.out.raw).toEqual([]);
    expect(out.raw).toEqual([]);
  });
});
