// The span limits of the lean tracer (lean-tracer.ts) and its one attribute-value rule: the
// SDK's TracerProvider defaults for the limits, and the check and cut of a single value,
// with `typeof` for the three primitive types instead of core's per-value WeakSet (the
// reason the lean tracer exists; see its header).
import { diag, type Attributes, type AttributeValue } from '@opentelemetry/api';
import { cleanAttributes } from '@opentelemetry/core';
import type { SpanLimits } from '@opentelemetry/sdk-trace';

export type Limits = Required<SpanLimits>;

/** The SDK's TracerProvider defaults, overridden by what is configured. */
export function resolveLimits(limits: SpanLimits = {}): Limits {
  const valueLength = limits.attributeValueLengthLimit ?? Infinity;
  if (valueLength <= 0) diag.warn(`Invalid attributeValueLengthLimit: must be positive, got ${valueLength} (ignoring)`);
  return {
    attributeCountLimit: limits.attributeCountLimit ?? 128,
    attributeValueLengthLimit: valueLength > 0 ? valueLength : Infinity,
    eventCountLimit: limits.eventCountLimit ?? 128,
    linkCountLimit: limits.linkCountLimit ?? 128,
    attributePerEventCountLimit: limits.attributePerEventCountLimit ?? 128,
    attributePerLinkCountLimit: limits.attributePerLinkCountLimit ?? 128,
  };
}

/** The attribute value to store, cut to the length limit; undefined when it is not a valid value. */
export function attributeValue(key: string, value: unknown, lengthLimit: number): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
      return value.length <= lengthLimit ? value : value.substring(0, lengthLimit);
    case 'number':
    case 'boolean':
      return value;
    default: {
      // Arrays, maps, byte arrays, null: the SDK's own check (it warns) and deep copy.
      const cleaned = cleanAttributes({ [key]: value } as Attributes, { attributeCountLimit: 1, attributeValueLengthLimit: lengthLimit });
      return cleaned.attributes?.[key];
    }
  }
}
