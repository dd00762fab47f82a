// The environment, validated once at startup against one TypeBox schema.
// Every variable of the CONTRACT is here with its default and meaning; an invalid value
// stops startup with one line naming the variable (see `ConfigError`).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import Type, { type Static, type TSchema } from 'typebox';
import Value from 'typebox/value';

// Options go into the constructors, never `{ ...Type.X(), default }`: a TypeBox schema's kind is a
// non-enumerable property that a spread drops, and Value.Convert then leaves the string as is.
const LogLevel = (options: { default: string }) =>
  Type.Union(
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
    options,
  );
const Url = (protocols: string[]) => Type.String({ pattern: `^(${protocols.join('|')})://`, description: `a ${protocols.join(' or ')} URL` });

/** Each property documents one variable; `default` is what an unset variable means. */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'HTTP listener port' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'HTTP listener address' }),
  CORS_ORIGINS: Type.Optional(
    Type.String({
      pattern: '^(\\*|https?://[^,/\\s]+(\\s*,\\s*https?://[^,/\\s]+)*)$',
      description: 'browser origins allowed to call the API (comma-separated http(s) origins, or *); unset: CORS off',
    }),
  ),
  APP_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development',
    description: 'production refuses unsafe defaults (no JWT secret, embedded DB)',
  }),
  DATABASE_URL: Type.Optional(Url(['postgres', 'postgresql'])),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  DATA_DIR: Type.String({ minLength: 1, default: './.data', description: 'where the embedded Postgres keeps its files' }),
  SLOW_QUERY_MS: Type.Integer({ minimum: 0, default: 1000 }),
  REDIS_URL: Type.Optional(Url(['redis', 'rediss'])),
  LOG_LEVEL: LogLevel({ default: 'info' }),
  LOG_FORMAT: Type.Union([Type.Literal('json'), Type.Literal('pretty')], { default: 'json' }),
  METRICS_ENABLED: Type.Boolean({ default: true }),
  METRICS_MAX_TENANTS: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  SENTRY_DSN: Type.Optional(Url(['https', 'http'])),
  SENTRY_ENVIRONMENT: Type.Optional(Type.String()),
  SENTRY_TRACES_SAMPLE_RATE: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "unset: none of Sentry's tracing runs" })),
  GIT_COMMIT: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{7,40}$', description: 'a git commit hash (7-40 hex digits)' })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'at least 32 characters' })),
  JWT_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 86_400, default: 3600 }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'at least 16 characters' })),
  PAYMENT_GATEWAY_URL: Type.Optional(Url(['http', 'https'])),
  PAYMENT_GATEWAY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
  PAYMENT_SIMULATOR_LATENCY_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 0 }),
  PAYMENT_SIMULATOR_FAILURE_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  ORDER_RECONCILE_AFTER_SECONDS: Type.Integer({ minimum: 1, default: 60, description: 'age at which a pending order is reconciled' }),
  WORKER_ENABLED: Type.Boolean({ default: true, description: 'run the job worker in this process' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 25_000, description: 'hard deadline for a graceful stop' }),
  SHUTDOWN_DELAY_MS: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, description: 'readiness 503 this long before the listener stops' })),
  TELEMETRY_FLUSH_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 60_000,
    default: 5000,
    description: 'bound of each flush at shutdown (traces, error reports)',
  }),
  HEALTH_CHECK_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  HEALTH_CACHE_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 }),
  STARTUP_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 6, description: 'tries to reach each dependency at startup' }),
  STARTUP_RETRY_MAX_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 4000, description: 'cap of the pause between startup tries' }),
  STARTUP_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000, description: 'bound of each startup try' }),
  SLOW_REQUEST_MS: Type.Integer({ minimum: 0, default: 1000 }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000, description: '0: not watched' }),
  MAX_HEAP_USED_MB: Type.Integer({ minimum: 0, default: 0, description: '0: not watched' }),
  MAX_RSS_MB: Type.Integer({ minimum: 0, default: 0, description: '0: not watched' }),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 1200, description: 'API requests per tenant per minute; 0: no limit' }),
});

type RawConfig = Static<typeof ConfigSchema>;

export type Config = Readonly<
  RawConfig & {
    /** true when JWT_SECRET was not given and a random one was generated for this process */
    jwtSecretGenerated: boolean;
    jwtSecret: string;
    /** SHUTDOWN_DELAY_MS, or its default: 5000 with APP_ENV=production, else 0. */
    shutdownDelayMs: number;
  }
>;

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`invalid configuration: ${variable} ${message}`);
    this.variable = variable;
  }
}

const describe = (schema: TSchema): string => {
  const s = schema as { description?: string; anyOf?: { const: unknown }[]; type?: string; minimum?: number; maximum?: number };
  if (s.anyOf) return `one of ${s.anyOf.map((v) => v.const).join(', ')}`;
  if (s.type === 'integer') return `an integer${s.minimum !== undefined ? ` from ${s.minimum}` : ''}${s.maximum !== undefined ? ` to ${s.maximum}` : ''}`;
  if (s.type === 'number') return `a number${s.minimum !== undefined ? ` from ${s.minimum} to ${s.maximum}` : ''}`;
  if (s.type === 'boolean') return 'true or false';
  return s.description ?? 'a valid value';
};

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Value.Convert truncates "80.5" to 80 and reads "0x10" as 16; a numeric variable must be written as a plain number. */
const numeralOk = (schema: TSchema, text: string): boolean => {
  const type = (schema as { type?: string }).type;
  return type === 'integer' ? INTEGER.test(text) : type === 'number' ? DECIMAL.test(text) : true;
};

/** Parses an environment into a frozen Config, or throws a ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const text = value.trim();
    const converted = Value.Convert(schema, text);
    if (!Value.Check(schema, converted) || !numeralOk(schema, text)) {
      // The value itself is not echoed: it may be a secret.
      throw new ConfigError(name, `must be ${describe(schema)}`);
    }
    raw[name] = converted;
  }
  const config = Value.Default(ConfigSchema, raw) as RawConfig;

  if (config.APP_ENV === 'production') {
    if (!config.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'must be set when APP_ENV=production (the embedded database is for development)');
    if (!config.JWT_SECRET) throw new ConfigError('JWT_SECRET', 'must be set when APP_ENV=production');
  }
  const jwtSecretGenerated = !config.JWT_SECRET;
  return Object.freeze({
    ...config,
    jwtSecretGenerated,
    jwtSecret: config.JWT_SECRET ?? randomBytes(48).toString('base64url'),
    shutdownDelayMs: config.SHUTDOWN_DELAY_MS ?? (config.APP_ENV === 'production' ? 5000 : 0),
  });
}

/** Reads `.env` into process.env when the file exists; variables already set win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
