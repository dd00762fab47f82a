// The cache group (`cache: { names }`): redis_connected read at scrape time, and hits and
// misses per cache.
//
// Every cache the service names exists at 0 from the first scrape: a hit-ratio alert
// (hits / (hits + misses)) over a series that does not exist yet sees "no data", not 0, and
// rate() needs a first sample to count the first lookup from. A cache not named still
// counts (its name comes from code, not from requests, so it stays bounded); it only
// appears at its first lookup.
import { Counter, Gauge, type OpenMetricsContentType, type Registry } from 'prom-client';
import type { Metrics } from './metrics-types.ts';

export type CacheMetrics = Pick<Metrics, 'cacheLookup' | 'watch'>;

export function cacheMetrics(registry: Registry<OpenMetricsContentType>, names: readonly string[]): CacheMetrics {
  const registers = [registry];
  let redisConnected: (() => boolean) | undefined;
  new Gauge({
    name: 'redis_connected',
    help: '1 while the Redis connection is ready, 0 otherwise (0 too when no REDIS_URL is configured).',
    registers,
    collect() {
      this.set(redisConnected?.() ? 1 : 0);
    },
  });
  const hits = new Counter({
    name: 'cache_hits_total',
    help: 'Cache lookups answered from the cache, by cache.',
    labelNames: ['cache'] as const,
    registers,
  });
  const misses = new Counter({
    name: 'cache_misses_total',
    help: 'Cache lookups that had to go to the source, by cache.',
    labelNames: ['cache'] as const,
    registers,
  });
  for (const cache of names) {
    hits.inc({ cache }, 0);
    misses.inc({ cache }, 0);
  }

  return {
    cacheLookup: (cache, hit) => (hit ? hits : misses).inc({ cache }),
    watch(sources) {
      redisConnected = sources.redisConnected ?? redisConnected;
    },
  };
}
