// The logs' redaction rule (logging/redact.ts), applied to everything Sentry sends: events
// (request headers, cookies, body, query string and URL, breadcrumbs, extra, contexts,
// tags, exception messages, stack frame variables), breadcrumbs as they are recorded, and
// spans when Sentry's tracing is on. Structured data goes through the same `redact` as a
// log line (a value under a secret-looking key becomes "[REDACTED]", any depth, any case);
// free text (an exception message, a URL, a breadcrumb message) has no keys, so its
// `key=value`, `key: value`, `"key":"value"` pairs, query strings and `Bearer …` credentials
// are judged by the same `isSecretKey`.
//
// Sentry's types are imported as types only: this file loads nothing of Sentry.
import type { Breadcrumb, ErrorEvent, Event } from '@sentry/node';
import { isSecretKey, redact, REDACTED } from '../logging/redact.ts';

/** `a.b.authorization` is as secret as `authorization` (span attributes, dotted context keys). */
function secretKey(key: string): boolean {
  if (isSecretKey(key)) return true;
  const dot = key.lastIndexOf('.');
  return dot !== -1 && isSecretKey(key.slice(dot + 1));
}

// A key (optionally quoted) and `=` or `:`; its value is found by hand (below), so a pair
// whose key is harmless never swallows the secret pair after it ("failed: password=x").
const KEY_SEPARATOR = /(["']?)([\w.-]{1,64})\1(\s*[:=]\s*)/g;
// Where an unquoted value ends: the next separator of a query string, a sentence or a JSON/URL.
const VALUE_END = /[\s&,;"'<>()[\]{}]/;
// Credentials that follow an auth scheme carry no key of their own.
const AUTH_SCHEME = /\b(Bearer|Basic|Digest)\s+\w[\w.~+/=-]*/gi;

/** Free text with the value of every secret-looking `key=value` / `key: value` pair and every `Bearer …` credential replaced. */
export function redactText(text: string): string {
  if (!text) return text;
  const input = text.replace(AUTH_SCHEME, (_match, scheme: string) => `${scheme} ${REDACTED}`);
  let out = '';
  let copied = 0;
  KEY_SEPARATOR.lastIndex = 0;
  for (let m = KEY_SEPARATOR.exec(input); m; m = KEY_SEPARATOR.exec(input)) {
    if (!secretKey(m[2]!)) continue;
    const start = m.index + m[0].length;
    const quote = input[start] === '"' || input[start] === "'" ? input[start]! : '';
    let end: number;
    if (quote) {
      const close = input.indexOf(quote, start + 1);
      end = close === -1 ? input.length : close + 1;
    } else {
      end = start;
      while (end < input.length && !VALUE_END.test(input[end]!)) end++;
    }
    if (end === start) continue;
    out += `${input.slice(copied, start)}${quote}${REDACTED}${quote}`;
    copied = end;
    KEY_SEPARATOR.lastIndex = end;
  }
  return copied === 0 ? input : out + input.slice(copied);
}

function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw;
  }
}

/** `a=1&token=x` → `a=1&token=[REDACTED]`, judged on the decoded key; the rest kept byte for byte. */
export function redactQueryString(query: string): string {
  const leading = query.startsWith('?') ? '?' : '';
  return (
    leading +
    query
      .slice(leading.length)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        const key = eq === -1 ? pair : pair.slice(0, eq);
        return eq !== -1 && secretKey(decodeKey(key)) ? `${key}=${REDACTED}` : redactText(pair);
      })
      .join('&')
  );
}

/** A URL (absolute or a path) with its query string redacted and any `user:password@` dropped. */
export function redactUrl(url: string): string {
  let out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#\s]*@/i, (_m, scheme: string) => `${scheme}${REDACTED}@`);
  const q = out.indexOf('?');
  if (q === -1) return redactText(out);
  const hash = out.indexOf('#', q);
  const query = hash === -1 ? out.slice(q + 1) : out.slice(q + 1, hash);
  out = `${redactText(out.slice(0, q))}?${redactQueryString(query)}${hash === -1 ? '' : redactText(out.slice(hash))}`;
  return out;
}

const MAX_DEPTH = 10;

/** Every string left after `redact` goes through `redactText`; copy on write, like `redact`. */
function redactStrings(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const r = redactStrings(v, depth + 1);
      if (r !== v) (out ??= [...value])[i] = r;
    });
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const r = redactStrings(v, depth + 1);
    if (r !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = r;
  }
  return out ?? value;
}

/** The logs' rule on structured data (keys), then on the text it holds. */
export function redactData<T>(value: T): T {
  return redactStrings(redact(value), 0) as T;
}

type SentryRequest = NonNullable<Event['request']>;

function redactRequest(request: SentryRequest): SentryRequest {
  const out: SentryRequest = { ...request };
  if (out.url) out.url = redactUrl(out.url);
  if (out.headers) out.headers = redactData(out.headers);
  // Cookie names say little; their values are sessions and tokens.
  if (out.cookies) out.cookies = Object.fromEntries(Object.keys(out.cookies).map((name) => [name, REDACTED]));
  if (out.query_string !== undefined) {
    const qs = out.query_string;
    out.query_string =
      typeof qs === 'string'
        ? redactQueryString(qs)
        : Array.isArray(qs)
          ? qs.map(([k, v]) => [k, secretKey(k) ? REDACTED : redactText(v)] as [string, string])
          : redactData(qs);
  }
  if (out.data !== undefined) out.data = redactBody(out.data);
  if (out.env) out.env = redactData(out.env);
  return out;
}

/** A body as Sentry holds it: an object, JSON text, form text, or other text. */
function redactBody(data: unknown): unknown {
  if (typeof data !== 'string') return redactData(data);
  const text = data.trim();
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.stringify(redactData(JSON.parse(text) as unknown));
    } catch {
      return redactText(data);
    }
  }
  return /^[^\s=&]+=[^\s&]*(&[^\s=&]+=[^\s&]*)*$/.test(text) ? redactQueryString(text) : redactText(data);
}

export function redactBreadcrumb(breadcrumb: Breadcrumb): Breadcrumb {
  const out: Breadcrumb = { ...breadcrumb };
  if (out.message) out.message = redactText(out.message);
  if (out.data) {
    const data = redactData(out.data);
    out.data = typeof data.url === 'string' ? { ...data, url: redactUrl(data.url) } : data;
  }
  return out;
}

/** The whole event, as `beforeSend` (errors) and `beforeSendTransaction` receive it. */
export function redactEvent<E extends Event | ErrorEvent>(event: E): E {
  const out: E = { ...event };
  if (out.request) out.request = redactRequest(out.request);
  if (out.breadcrumbs) out.breadcrumbs = out.breadcrumbs.map(redactBreadcrumb);
  if (out.extra) out.extra = redactData(out.extra);
  if (out.contexts) out.contexts = redactData(out.contexts);
  if (out.tags) out.tags = redactData(out.tags);
  // Ids only: whatever else an integration may have put on the user (e-mail, IP, name) stays home.
  if (out.user) out.user = out.user.id !== undefined ? { id: out.user.id } : {};
  if (out.message) out.message = redactText(out.message);
  if (out.logentry) out.logentry = redactData(out.logentry);
  if (out.transaction) out.transaction = redactUrl(out.transaction);
  if (out.exception?.values) {
    out.exception = {
      ...out.exception,
      values: out.exception.values.map((exception) => ({
        ...exception,
        ...(exception.value !== undefined ? { value: redactText(exception.value) } : {}),
        ...(exception.stacktrace?.frames
          ? {
              stacktrace: {
                ...exception.stacktrace,
                frames: exception.stacktrace.frames.map((frame) => ({
                  ...frame,
                  ...(frame.vars ? { vars: redactData(frame.vars) } : {}),
                  ...(frame.context_line !== undefined ? { context_line: redactText(frame.context_line) } : {}),
                  ...(frame.pre_context ? { pre_context: frame.pre_context.map(redactText) } : {}),
                  ...(frame.post_context ? { post_context: frame.post_context.map(redactText) } : {}),
                })),
              },
            }
          : {}),
      })),
    };
  }
  if (out.spans) out.spans = out.spans.map((span) => ({ ...span, ...(span.data ? { data: redactAttributes(span.data) } : {}) }));
  return out;
}

const URL_ATTRIBUTES = new Set(['url.full', 'http.url', 'http.target', 'url.path']);

/** Span attributes: a secret key (or last segment) is redacted whole, URLs and query strings by key, other text as text. */
export function redactAttributes<A extends Record<string, unknown>>(attributes: A): A {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (secretKey(key)) out[key] = REDACTED;
    else if (typeof value === 'string') {
      out[key] = key === 'url.query' || key === 'http.query' ? redactQueryString(value) : URL_ATTRIBUTES.has(key) ? redactUrl(value) : redactText(value);
    } else out[key] = redactData(value);
  }
  return out as A;
}

/** A streamed span (Sentry's tracing, when SENTRY_TRACES_SAMPLE_RATE is set): its name and attributes. */
export function redactSpan<S extends { name: string; attributes?: Record<string, unknown> }>(span: S): S {
  return { ...span, name: redactUrl(span.name), ...(span.attributes ? { attributes: redactAttributes(span.attributes) } : {}) };
}
