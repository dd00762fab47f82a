// Repeated failed logins for one account are refused for a while (429 + Retry-After),
// counted in the shared cache so every instance sees the same count.
import type { Cache } from '../../platform/cache/cache.ts';

export interface LoginThrottleOptions {
  maxFailures: number;
  windowSeconds: number;
}

export function loginThrottle(cache: Cache, options: LoginThrottleOptions = { maxFailures: 5, windowSeconds: 900 }) {
  const key = (tenant: string, email: string) => `login_failures:${tenant}:${email}`;
  return {
    /** Seconds until the account may try again, or 0 when it may try now. */
    async blockedFor(tenant: string, email: string): Promise<number> {
      const { count, ttlSeconds } = await cache.peekCounter(key(tenant, email));
      return count >= options.maxFailures ? Math.max(1, ttlSeconds) : 0;
    },
    async recordFailure(tenant: string, email: string): Promise<number> {
      return (await cache.incrementWithTtl(key(tenant, email), options.windowSeconds)).count;
    },
    async reset(tenant: string, email: string): Promise<void> {
      await cache.delete(key(tenant, email));
    },
  };
}
