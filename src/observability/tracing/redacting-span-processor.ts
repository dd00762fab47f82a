// The logs' redaction rule, applied to spans: an attribute (or event attribute) whose key
// names a secret is replaced by "[REDACTED]" before any exporter sees the span. It wraps
// the exporting processors so the order cannot be got wrong.
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { isSecretKey, REDACTED } from '../logging/redact.ts';

/** The last segment of a dotted attribute key: `http.request.header.authorization` → `authorization`. */
const lastSegment = (key: string) => key.slice(key.lastIndexOf('.') + 1);

// Every span carries the same few attribute keys: the answer per key is remembered
// (bounded, like isSecretKey's own memo).
const secretAttributeMemo = new Map<string, boolean>();

function isSecretAttribute(key: string): boolean {
  let secret = secretAttributeMemo.get(key);
  if (secret === undefined) {
    secret = isSecretKey(lastSegment(key)) || isSecretKey(key);
    if (secretAttributeMemo.size < 4096) secretAttributeMemo.set(key, secret);
  }
  return secret;
}

function redactAttributes(attributes: Record<string, unknown> | undefined): void {
  if (!attributes) return;
  for (const key in attributes) {
    if (isSecretAttribute(key)) attributes[key] = REDACTED;
  }
}

export class RedactingSpanProcessor implements SpanProcessor {
  private readonly inner: SpanProcessor[];

  constructor(inner: SpanProcessor[]) {
    this.inner = inner;
  }

  onStart(span: Span, parentContext: Context): void {
    for (const p of this.inner) p.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    // ReadableSpan's attributes are the span's own (ended, so nothing writes them again).
    redactAttributes(span.attributes as Record<string, unknown>);
    for (const event of span.events) redactAttributes(event.attributes as Record<string, unknown> | undefined);
    for (const p of this.inner) p.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.inner.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.inner.map((p) => p.shutdown()));
  }
}
