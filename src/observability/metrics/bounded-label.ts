// A label whose distinct values are capped: the first `max` values seen keep their own
// series, every later one is counted under `other`. This is what keeps a metric labelled by
// tenant (or product, or decline reason) from growing a series per customer without end:
// the bound holds by construction, whatever the traffic.
export const OTHER = 'other';

export class BoundedLabel {
  private readonly seen = new Set<string>();
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** The value to put on the series: `value` itself while there is room, else `other`. */
  value(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(value);
    return value;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** A cap per outer value (products per tenant): each tenant gets its own `max` product values. */
export class NestedBoundedLabel {
  private readonly inner = new Map<string, BoundedLabel>();
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  value(outer: string, value: string): string {
    let label = this.inner.get(outer);
    if (!label) this.inner.set(outer, (label = new BoundedLabel(this.max)));
    return label.value(value);
  }
}
