// Redis-backed cache (REDIS_URL). Commands fail fast while Redis is down instead of
// queueing forever, so a request degrades to a 503 or a cache miss, never a hang.
import { Redis } from 'ioredis';
import type { Cache } from './cache.ts';

export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  readonly client: Redis;

  constructor(url: string, options: { onError?: (error: Error) => void } = {}) {
    this.client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 5000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    this.client.on('error', (error) => options.onError?.(error));
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  async get(key: string) {
    return (await this.client.get(key)) ?? undefined;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await this.client.set(key, value, 'EX', ttlSeconds);
  }

  async delete(key: string) {
    await this.client.del(key);
  }

  async incrementWithTtl(key: string, ttlSeconds: number) {
    // INCR and EXPIRE NX in one round trip: the TTL starts with the first failure and is not extended.
    const result = await this.client.multi().incr(key).expire(key, ttlSeconds, 'NX').ttl(key).exec();
    const count = Number(result?.[0]?.[1] ?? 1);
    const ttl = Number(result?.[2]?.[1] ?? ttlSeconds);
    return { count, ttlSeconds: ttl > 0 ? ttl : ttlSeconds };
  }

  async peekCounter(key: string) {
    const result = await this.client.multi().get(key).ttl(key).exec();
    const value = result?.[0]?.[1];
    if (value === null || value === undefined) return { count: 0, ttlSeconds: 0 };
    return { count: Number(value), ttlSeconds: Math.max(0, Number(result?.[1]?.[1] ?? 0)) };
  }

  async ping() {
    await this.client.ping();
  }

  async close() {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
