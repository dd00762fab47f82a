// The half of the observability layer that only Fastify's constructor can take: the logger
// (every `request.log` is a child of it) and the log controller (one `request_completed`
// line a request instead of Fastify's "incoming request" and "request completed").
// Request ids and the request logger's bindings come with the plugin.
import type { FastifyBaseLogger, LogController } from 'fastify';
import { createLogger, type AppLogger } from './logging/logger.ts';
import { RequestLogController } from './logging/request-logging.ts';

export interface ObservabilityServerOptions {
  loggerInstance: FastifyBaseLogger;
  logController: LogController;
  /** genReqId (set by the plugin) reads x-request-id itself and refuses unsafe values. */
  requestIdHeader: false;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** A logger from LOG_LEVEL and LOG_FORMAT, for a service that has no configuration of its own. */
export function loggerFromEnv(env: NodeJS.ProcessEnv = process.env): AppLogger {
  const level = (env.LOG_LEVEL ?? '').trim().toLowerCase();
  return createLogger({ level: LEVELS.has(level) ? level : 'info', format: env.LOG_FORMAT?.trim() === 'pretty' ? 'pretty' : 'json' });
}

/** `Fastify({ ...observabilityServerOptions(logger), …yours })`; without a logger, one from LOG_LEVEL/LOG_FORMAT. */
export function observabilityServerOptions(logger: AppLogger = loggerFromEnv()): ObservabilityServerOptions {
  // Typed as the base logger so plugins and routes see the usual FastifyInstance.
  return { loggerInstance: logger as FastifyBaseLogger, logController: new RequestLogController(), requestIdHeader: false };
}
