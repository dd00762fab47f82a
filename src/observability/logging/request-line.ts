// The `request_completed` line, the one line every request writes, composed here instead of
// through pino's generic path. The line is byte for byte what `log.info({ status_code,
// duration_ms }, 'request_completed')` writes (test/observability/request-line.test.ts holds
// the two side by side): the same level and timestamp prefix, the logger's bindings (already
// redacted when its child was made), the mixin's fields (trace ids) run through the same
// redaction, then the two numbers and the message.
//
// Why: pino's path for this line (argument parsing, the mixin merge, a walk of the merged
// object with a serializer lookup and a type switch per key) was ~10 µs of a request's CPU
// on the authenticated read, profiled: the largest single cost of logging. Here it is a few
// string concatenations. Anything unusual about the logger (a destination that wants pino's
// metadata, a write hook, a message prefix, a nested key) makes the caller use pino itself.
import pino from 'pino';
import type { Logger } from './logger.ts';
import { redact } from './redact.ts';

// pino.symbols is exported API; msgPrefixSym is missing from its type declarations.
const S = pino.symbols as typeof pino.symbols & { msgPrefixSym: symbol };

type Internals = Record<symbol, unknown> & pino.Logger;
type Stream = { write(line: string): unknown } & Record<symbol, unknown>;
type Mixin = (merge: object, level: number, logger: object) => Record<string, unknown>;

/** Writes the line and returns true, or returns false when pino itself must write it. */
export function writeRequestCompleted(log: Logger, statusCode: number, durationMs: number): boolean {
  const logger = log as unknown as Internals;
  if (!logger.isLevelEnabled('info')) return true;
  const stream = logger[S.streamSym] as Stream;
  if (
    stream[S.needsMetadataGsym] ||
    (logger[S.hooksSym] as { streamWrite?: unknown } | undefined)?.streamWrite ||
    logger[S.msgPrefixSym] ||
    logger[S.nestedKeySym] ||
    logger[S.messageKeySym] !== 'message'
  ) {
    return false;
  }
  const level = logger.levels.values.info!;
  const status = `"status_code":${statusCode}`;
  const duration = `"duration_ms":${Number.isFinite(durationMs) ? durationMs : null}`;
  let fields = '';
  let ownPlaced = false;
  const mixin = logger[S.mixinSym] as Mixin | undefined;
  if (mixin) {
    // pino merges with Object.assign(mixinFields, ours): a key both have keeps the mixin's
    // position and takes our value.
    const extra = redact(mixin({}, level, logger)) as Record<string, unknown>;
    let statusPlaced = false;
    let durationPlaced = false;
    for (const key in extra) {
      const value = extra[key];
      if (key === 'status_code') {
        fields += `,${status}`;
        statusPlaced = true;
        continue;
      }
      if (key === 'duration_ms') {
        fields += `,${duration}`;
        durationPlaced = true;
        continue;
      }
      if (value === undefined || typeof value === 'function') continue; // pino skips these
      // Strings, numbers and booleans stringify the same in both; anything else is pino's to write.
      if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return false;
      fields += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
    }
    if (statusPlaced || durationPlaced) {
      fields += `${statusPlaced ? '' : `,${status}`}${durationPlaced ? '' : `,${duration}`}`;
      ownPlaced = true;
    }
  }
  if (!ownPlaced) fields += `,${status},${duration}`;
  const prefix = (logger[S.lsCacheSym] as Record<number, string>)[level]!;
  const time = (logger[S.timeSym] as () => string)();
  stream.write(`${prefix}${time}${logger[S.chindingsSym] as string}${fields},"message":"request_completed"${logger[S.endSym] as string}`);
  return true;
}
