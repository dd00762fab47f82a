// The cache in front of Idempotency-Key replays. A client retrying a completed order (a
// timeout on its side, a redelivered message) gets the stored answer from the cache without
// opening a transaction; the database stays the source of truth, so a miss, an evicted key
// or an unreachable cache only means the usual path through `idempotency_keys`.
// Lookups count in cache_hits_total / cache_misses_total{cache="idempotency"}.
import type { Metrics } from '../../observability/metrics/metrics.ts';
import type { Cache } from '../../platform/cache/cache.ts';
import { AppError } from '../../platform/http/app-error.ts';
import type { StoredResponse } from './order-settlement.ts';

export const IDEMPOTENCY_CACHE = 'idempotency';
/** Clients retry within minutes; a day covers any sane retry policy. */
const TTL_SECONDS = 24 * 60 * 60;

interface Entry extends StoredResponse {
  hash: string;
}

export const idempotencyMismatch = () => new AppError(422, 'idempotency_key_mismatch', 'This Idempotency-Key was used with a different request body');

export function idempotencyCache(deps: { cache: Cache; metrics: Metrics }) {
  const keyOf = (tenantId: string, key: string) => `idempotency:${tenantId}:${key}`;
  return {
    /** The stored answer for this key, if cached; 422 if the key was used with another body. */
    async lookup(tenantId: string, key: string, hash: string): Promise<StoredResponse | undefined> {
      let entry: Entry | undefined;
      try {
        const raw = await deps.cache.get(keyOf(tenantId, key));
        entry = raw === undefined ? undefined : (JSON.parse(raw) as Entry);
      } catch {
        entry = undefined; // cache down or entry unreadable: the database answers
      }
      deps.metrics.cacheLookup(IDEMPOTENCY_CACHE, entry !== undefined);
      if (!entry) return undefined;
      if (entry.hash !== hash) throw idempotencyMismatch();
      return { statusCode: entry.statusCode, body: entry.body };
    },

    /** Keeps a completed answer for replays; failing to is harmless (the database has it). */
    async remember(tenantId: string, key: string, hash: string, response: StoredResponse): Promise<void> {
      const entry: Entry = { hash, statusCode: response.statusCode, body: response.body };
      await deps.cache.set(keyOf(tenantId, key), JSON.stringify(entry), TTL_SECONDS).catch(() => {});
    },
  };
}
