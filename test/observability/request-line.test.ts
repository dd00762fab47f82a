// The request_completed line is composed by hand (request-line.ts) for speed: these tests
// hold it byte for byte against the line pino writes for the same logger and fields, and
// check that every case it does not handle goes back to pino. request-line.ts reads pino's
// internals (pino.symbols): the last block checks each one it reads, on real loggers, so a
// pino release that changes them fails here by name, not as subtly wrong log lines.
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { createLogger, loggerOptions, type Logger } from '../../src/observability/logging/logger.ts';
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

// ---------------------------------------------------------------------------------------
// The pino internals request-line.ts relies on

/** Why a check below failed, and what to do: the message names the internal. */
const internal = (name: string, expected: string) =>
  `pino internal ${name} changed (request-line.ts expects ${expected}). pino is pinned exactly in package.json for this reason: ` +
  'adapt request-line.ts to the new pino (or drop its fast path) before changing the pin.';

// As request-line.ts types it: msgPrefixSym is missing from pino's type declarations.
const S = pino.symbols as typeof pino.symbols & { msgPrefixSym: symbol };
/** Every pino.symbols entry request-line.ts reads. */
const SYMBOLS_READ = [
  'streamSym',
  'needsMetadataGsym',
  'hooksSym',
  'msgPrefixSym',
  'nestedKeySym',
  'messageKeySym',
  'mixinSym',
  'lsCacheSym',
  'timeSym',
  'chindingsSym',
  'endSym',
] as const;

type Internals = Record<symbol, unknown>;

describe("pino's internals, as request-line.ts reads them", () => {
  it('pino is pinned to an exact version in package.json, and that version is the one installed', () => {
    const pinned = packageJson.dependencies.pino;
    expect(pinned, 'package.json must pin pino exactly (no ^ or ~): request-line.ts reads its internals').toMatch(/^\d+\.\d+\.\d+$/);
    const installed = (createRequire(import.meta.url)('pino/package.json') as { version: string }).version;
    expect(installed, `pino ${installed} is installed but package.json pins ${pinned}: run npm install`).toBe(pinned);
  });

  it('pino.symbols still has every symbol it reads', () => {
    for (const name of SYMBOLS_READ) expect(typeof (S as Record<string, unknown>)[name], internal(`pino.symbols.${name}`, 'a symbol')).toBe('symbol');
  });

  it('a real logger and its grandchild have the shapes it reads: stream, level prefix, time, bindings, line end, mixin, message key', () => {
    const { out, log } = requestLogger({ mixin: traceLogMixin });
    const root = createLogger({ level: 'info', format: 'json', destination: out });
    for (const [which, logger] of [
      ['the root logger', root],
      ['a child of a child', log],
    ] as const) {
      const l = logger as unknown as Internals;
      const stream = l[S.streamSym] as { write?: unknown } & Internals;
      expect(typeof stream?.write, internal(`[streamSym] of ${which}`, 'the destination, with write(line)')).toBe('function');
      expect(stream, internal(`[streamSym] of ${which}`, 'the destination given to pino')).toBe(out);
      expect(stream[S.needsMetadataGsym], internal('[needsMetadataGsym] of a plain destination', 'unset')).toBeFalsy();
      expect(
        (l[S.hooksSym] as { streamWrite?: unknown } | undefined)?.streamWrite,
        internal(`[hooksSym].streamWrite of ${which}`, 'unset without hooks'),
      ).toBeUndefined();
      expect(l[S.msgPrefixSym], internal(`[msgPrefixSym] of ${which}`, 'unset without msgPrefix')).toBeFalsy();
      expect(l[S.nestedKeySym], internal(`[nestedKeySym] of ${which}`, 'unset without nestedKey')).toBeFalsy();
      expect(l[S.messageKeySym], internal(`[messageKeySym] of ${which}`, 'the messageKey option, "message"')).toBe('message');
      expect(l[S.mixinSym], internal(`[mixinSym] of ${which}`, 'the mixin function given to pino')).toBe(traceLogMixin);
      expect((logger as unknown as pino.Logger).levels.values.info, internal('levels.values.info', 'the number of the info level, 30')).toBe(30);

      const prefix = (l[S.lsCacheSym] as Record<number, unknown> | undefined)?.[30];
      expect(typeof prefix, internal(`[lsCacheSym][30] of ${which}`, 'the line start of the info level, a string')).toBe('string');
      expect(JSON.parse(`${prefix as string}}`), internal(`[lsCacheSym][30] of ${which}`, '\'{"level":"info"\', an open JSON object')).toEqual({
        level: 'info',
      });

      const time = l[S.timeSym] as (() => unknown) | undefined;
      expect(typeof time, internal(`[timeSym] of ${which}`, 'the timestamp function')).toBe('function');
      expect(String(time?.()), internal(`[timeSym]() of ${which}`, 'a string \',"timestamp":"<ISO date>"\'')).toMatch(
        /^,"timestamp":"\d{4}-\d\d-\d\dT[^"]+Z"$/,
      );

      const chindings = l[S.chindingsSym];
      expect(typeof chindings, internal(`[chindingsSym] of ${which}`, 'the serialized bindings, a string')).toBe('string');
      expect(l[S.endSym], internal(`[endSym] of ${which}`, 'the line end "}\\n"')).toBe('}\n');
    }
    // A child's bindings: its own after its parents', serialized (and redacted) as ',"key":value…'.
    const bindings = JSON.parse(`{${((log as unknown as Internals)[S.chindingsSym] as string).slice(1)}}`) as Record<string, unknown>;
    expect(bindings, internal('[chindingsSym] of a child of a child', "every ancestor's bindings, ',\"k\":v' each")).toEqual({
      request_id: 'req-1',
      method: 'GET',
      path: '/api/products/p-"quoted"\\é',
      tenant_id: 't-1',
      user_id: 'u-1',
      authorization: REDACTED,
    });
  });

  it('the options it must leave to pino still show in the internals it checks, and send the line back to pino', () => {
    const out = new Capture();
    const base = loggerOptions({ level: 'info', mixin: traceLogMixin });
    const cases: [string, Internals & Logger, () => unknown][] = [];
    const multi = pino(base, pino.multistream([{ stream: out }])) as unknown as Internals & Logger;
    cases.push(['[streamSym][needsMetadataGsym] with pino.multistream', multi, () => (multi[S.streamSym] as Internals)[S.needsMetadataGsym]]);
    const hooked = pino({ ...base, hooks: { streamWrite: (line: string) => line } }, out) as unknown as Internals & Logger;
    cases.push(['[hooksSym].streamWrite with hooks.streamWrite', hooked, () => (hooked[S.hooksSym] as { streamWrite?: unknown }).streamWrite]);
    const prefixed = pino(base, out).child({}, { msgPrefix: '[p] ' }) as unknown as Internals & Logger;
    cases.push(['[msgPrefixSym] with a child msgPrefix', prefixed, () => prefixed[S.msgPrefixSym]]);
    const nested = pino({ ...base, nestedKey: 'payload' }, out) as unknown as Internals & Logger;
    cases.push(['[nestedKeySym] with nestedKey', nested, () => nested[S.nestedKeySym]]);
    const otherKey = pino({ ...base, messageKey: 'msg' }, out) as unknown as Internals & Logger;
    cases.push(['[messageKeySym] with another messageKey', otherKey, () => (otherKey[S.messageKeySym] === 'message' ? undefined : otherKey[S.messageKeySym])]);
    for (const [name, logger, read] of cases) {
      expect(read(), internal(name, 'set when that option is')).toBeTruthy();
      expect(writeRequestCompleted(logger, 200, 1), `${name}: the fast path must leave this line to pino`).toBe(false);
    }
    expect(out.raw).toEqual([]);
  });

  it("is the line pino writes for Fastify's own request logger", async () => {
    const out = new Capture();
    const app = Fastify({ loggerInstance: createLogger({ level: 'info', format: 'json', destination: out }) as unknown as Logger });
    app.get('/items/:id', async (request) => {
      request.log.info({ status_code: 200, duration_ms: 1.5 }, 'request_completed');
      return { fast: writeRequestCompleted(request.log, 200, 1.5) };
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/items/7' });
      expect(res.json()).toEqual({ fast: true });
      await new Promise((r) => setImmediate(r));
      const lines = out.raw.filter((line) => line.includes('"message":"request_completed"'));
      expect(lines).toHaveLength(2);
      expect(masked(lines[1]!)).toBe(masked(lines[0]!));
      expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'info', reqId: expect.any(String), status_code: 200, duration_ms: 1.5 });
    } finally {
      await app.close();
    }
  });
});
