// What every entry point of the process does first, the same way: read `.env`, validate
// the environment (an invalid value stops with one line naming the variable, before any
// logger exists), and make the process logger. main.ts (the server) and migrate.ts (the
// migration command) both start here.
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.ts';
import { createLogger, type AppLogger } from './observability/logging/logger.ts';

export function configOrExit(): Config {
  try {
    loadDotEnv();
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** The process logger: JSON (or pretty) lines on stdout, trace ids of the active span on each. */
export function processLogger(config: Config): AppLogger {
  return createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
}
