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

/**
 * Answers per key, remembered: log objects and span attributes reuse a few dozen keys, and
 * lower-casing each one on every line was ~3-5 % of a traced request's CPU (profiled). The
 * bound keeps arbitrary keys (a body logged by mistake) from growing it without limit.
 */
const secretKeyMemo = new Map<string, boolean>();
const MEMO_LIMIT = 4096;

/** True for a key whose value must never be printed. Normalises case and `-`/`_`. */
export function isSecretKey(key: string): boolean {
  let secret = secretKeyMemo.get(key);
  if (secret === undefined) {
    const k = key.toLowerCase();
    secret = SECRET_KEYS.has(k) || SECRET_KEYS.has(k.replaceAll('-', '_'));
    if (secretKeyMemo.size < MEMO_LIMIT) secretKeyMemo.set(key, secret);
  }
  return secret;
}

const MAX_DEPTH = 8;

/**
 * Returns `value` with secrets replaced. Plain objects, arrays and Errors are walked;
 * anything else is returned as is. Copy on write: an object or array is copied only when
 * something in it changes, and the input is never modified, so the common log line (a few
 * harmless fields) costs a walk and no allocation. Errors always become plain objects.
 */
export function redact(value: unknown, depth = 0, seen?: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen?.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  // `seen` (the ancestors) is made only once there is something nested to walk into;
  // `(seen ??= new WeakSet()).add(value)` below is that, inline on purpose (no closure a call).
  if (value instanceof Error) return redactError(value, depth, (seen ?? new WeakSet<object>()).add(value));
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v === null || typeof v !== 'object') continue;
      const r = redact(v, depth + 1, (seen ??= new WeakSet<object>()).add(value));
      if (r !== v) (out ??= [...value])[i] = r;
    }
    return out ?? value;
  }
  // Anything but a plain object becomes one (its own properties), as before: a class's
  // toJSON could otherwise print what the walk never saw.
  const proto: unknown = Object.getPrototypeOf(value);
  let out: Record<string, unknown> | undefined = proto === Object.prototype || proto === null ? undefined : {};
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const v = (value as Record<string, unknown>)[k];
    const r = isSecretKey(k) ? REDACTED : v === null || typeof v !== 'object' ? v : redact(v, depth + 1, (seen ??= new WeakSet<object>()).add(value));
    if (out) out[k] = r;
    else if (r !== v) (out = { ...(value as Record<string, unknown>) })[k] = r;
  }
  return out ?? value;
}

function redactError(err: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1, seen);
  }
  if (err.cause !== undefined) out.cause = redact(err.cause, depth + 1, seen);
  return out;
}
