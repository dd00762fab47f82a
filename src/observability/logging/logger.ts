// The process logger: pino writing one JSON object a line with the CONTRACT's field names
// (`timestamp`, lowercase `level`, snake_case `message`), secrets redacted at any depth.
// Fastify uses it as its own logger, so `request.log` is a child of this one.
import type { FastifyBaseLogger } from 'fastify';
import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { redact } from './redact.ts';
import { traceLogMixin } from '../tracing/log-correlation.ts';
import { turnWriter } from './turn-writer.ts';

/** What code logs through: the process logger, a request's `request.log`, or a child of either. */
export type Logger = FastifyBaseLogger;

/** The process logger: pino's levels plus `critical` (55, between error and fatal) for startup failures. */
export type AppLogger = PinoLogger<'critical'>;
export const CUSTOM_LEVELS = { critical: 55 } as const;

export interface LoggerSettings {
  level: string;
  format: 'json' | 'pretty';
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  destination?: DestinationStream;
  /** Extra fields on every line (a pino mixin). Default: trace_id and span_id of the active span (log-correlation.ts). */
  mixin?: (mergeObject: object, level: number, logger: object) => Record<string, unknown>;
}

/**
 * pino's timestamp, formatted once per millisecond: under load several lines share a
 * millisecond, and toISOString() was ~1 % of a logged request's CPU (profiled).
 */
let stampedAt = -1;
let stamp = '';
function timestamp(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"timestamp":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

export function loggerOptions(settings: Pick<LoggerSettings, 'level' | 'mixin'>): LoggerOptions<'critical'> {
  return {
    level: settings.level,
    customLevels: CUSTOM_LEVELS,
    messageKey: 'message',
    errorKey: 'error',
    base: undefined, // no pid/hostname on every line: the platform adds those
    timestamp,
    formatters: {
      level: (label) => ({ level: label }),
      // Runs on the merged object of every call: the one place where redaction cannot be bypassed.
      log: (object) => redact(object) as Record<string, unknown>,
      bindings: (bindings) => redact(bindings) as Record<string, unknown>,
    },
    serializers: {
      // Errors are turned into plain objects by `redact`, keeping own properties (code, statusCode…).
      error: (err: unknown) => redact(err),
      err: (err: unknown) => redact(err),
    },
    mixin: settings.mixin ?? traceLogMixin,
  };
}

export function createLogger(settings: LoggerSettings): AppLogger {
  const options = loggerOptions(settings);
  if (settings.format === 'pretty') {
    return redactChildBindings(pino(options, settings.destination ?? pretty({ colorize: true, messageKey: 'message', timestampKey: 'timestamp', sync: true })));
  }
  return redactChildBindings(pino(options, settings.destination ?? turnWriter(1)));
}

/**
 * pino applies `formatters.bindings` to the root logger's bindings only: a child's bindings
 * (request context, or a header bound by mistake) are written as given. Every child of this
 * logger, at any depth, inherits this `child`, so its bindings are redacted too.
 */
/** Marks the loggers this file made (children inherit it through pino's prototype chain). */
const OBSERVABILITY_LOGGER = Symbol.for('glassbox.observability_logger');

/** True for a logger made by createLogger, or a child of one. */
export function isObservabilityLogger(logger: object): boolean {
  return (logger as Record<symbol, unknown>)[OBSERVABILITY_LOGGER] === true;
}

function redactChildBindings(logger: AppLogger): AppLogger {
  const child = logger.child as (this: unknown, bindings: Bindings, options?: ChildLoggerOptions) => unknown;
  const redactingChild = function (this: unknown, bindings: Bindings, childOptions?: ChildLoggerOptions) {
    return child.call(this, redact(bindings) as Bindings, childOptions);
  };
  Object.defineProperty(logger, 'child', { value: redactingChild, writable: true, configurable: true });
  Object.defineProperty(logger, OBSERVABILITY_LOGGER, { value: true });
  return logger;
}
