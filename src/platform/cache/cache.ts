// The cache interface the product uses. Two implementations: Redis when REDIS_URL is set,
// an in-process map otherwise (a fresh machine has no redis-server; no npm package ships one).
// Counters (`incrementWithTtl`) back the login throttle; get/set back read caches.

export interface Cache {
  /** 'redis' or 'memory', for readiness ("disabled" for memory) and logs. */
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Increments a counter, starting its TTL on the first increment; returns the new value and seconds left. */
  incrementWithTtl(key: string, ttlSeconds: number): Promise<{ count: number; ttlSeconds: number }>;
  /** Current counter value and seconds left (0/0 when absent). */
  peekCounter(key: string): Promise<{ count: number; ttlSeconds: number }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
