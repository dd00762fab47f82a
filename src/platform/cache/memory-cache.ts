// In-process cache for the embedded defaults: a Map with expiry times, bounded in size so a
// load test cannot grow it without limit (oldest entries go first, as Map keeps insertion order).
import type { Cache } from './cache.ts';

interface Entry {
  value: string;
  expiresAt: number;
}

export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private put(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  async get(key: string) {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    this.put(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  async delete(key: string) {
    this.entries.delete(key);
  }

  async incrementWithTtl(key: string, ttlSeconds: number) {
    const entry = this.live(key);
    const count = (entry ? Number(entry.value) : 0) + 1;
    const expiresAt = entry?.expiresAt ?? this.now() + ttlSeconds * 1000;
    this.put(key, { value: String(count), expiresAt });
    return { count, ttlSeconds: Math.ceil((expiresAt - this.now()) / 1000) };
  }

  async peekCounter(key: string) {
    const entry = this.live(key);
    if (!entry) return { count: 0, ttlSeconds: 0 };
    return { count: Number(entry.value), ttlSeconds: Math.ceil((entry.expiresAt - this.now()) / 1000) };
  }

  async ping() {}

  async close() {
    this.entries.clear();
  }
}
