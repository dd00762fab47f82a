// One redaction rule for logs (and, later, span attributes and error reports): a value
// under a secret-looking key prints as "[REDACTED]", at any depth, in any case, inside
// Error objects too. pino's own `redact` needs exact paths, which cannot express "any depth".

export const REDACTED = '[REDACTED]';

const SECRET_KEYS = new Set([
  'password',
  'token',
  'api_key',
  'apikey',
  'secret',
  'credit_card',
  'creditcard',
  'ssn',
  'auth_token',
  'authorization',
  'cookie',
  'set-cookie',
  'access_token',
  'refresh_token',
  'password_hash',
  'jwt_secret',
  'admin_token',
]);

/** True for a key whose value must never be printed. Normalises case and `-`/`_`. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  return SECRET_KEYS.has(k) || SECRET_KEYS.has(k.replaceAll('-', '_'));
}

const MAX_DEPTH = 8;

/**
 * Returns a copy of `value` with secrets replaced. Plain objects, arrays and Errors are
 * walked; anything else is returned as is. Objects without secrets are still copied,
 * which is cheap for the small objects logs carry.
 */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  if (value instanceof Error) return redactError(value, depth, seen);
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}

function redactError(err: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1, seen);
  }
  if (err.cause !== undefined) out.cause = redact(err.cause, depth + 1, seen);
  return out;
}
