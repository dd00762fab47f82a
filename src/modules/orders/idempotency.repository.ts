import type { Queryable } from '../../platform/db/database.ts';

export interface IdempotencyRecord {
  key: string;
  request_hash: string;
  status: 'in_progress' | 'completed';
  order_id: string | null;
  request_id: string;
  response_status: number | null;
  response_body: string | null;
}

export const idempotencyRepository = {
  /**
   * Claims a key for this request. Returns undefined when the key is new (now ours), or the
   * existing record. A concurrent claim of the same key waits on the unique index until the
   * first transaction ends, then sees its record: exactly one request proceeds.
   */
  async claim(tx: Queryable, r: { tenantId: string; key: string; requestHash: string; requestId: string }): Promise<IdempotencyRecord | undefined> {
    const inserted = await tx.query(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, request_id) VALUES ($1, $2, $3, 'in_progress', $4)
       ON CONFLICT (tenant_id, key) DO NOTHING RETURNING key`,
      [r.tenantId, r.key, r.requestHash, r.requestId],
    );
    if (inserted.rowCount === 1) return undefined;
    const { rows } = await tx.query<IdempotencyRecord>(
      'SELECT key, request_hash, status, order_id, request_id, response_status, response_body FROM idempotency_keys WHERE key = $1',
      [r.key],
    );
    return rows[0];
  },

  async attachOrder(tx: Queryable, key: string, orderId: string): Promise<void> {
    await tx.query('UPDATE idempotency_keys SET order_id = $2, updated_at = now() WHERE key = $1', [key, orderId]);
  },

  /**
   * The record of `key` if it is `orderId`'s (the order row carries its key). Looked up by the
   * key, the primary key's second column under the tenant's row policy: by order_id alone,
   * which no index covers, it read every key of the tenant, ~29 ms once a tenant had 40 000
   * (seen in the bench's pgbench replay of the order's statements).
   */
  async findForOrder(tx: Queryable, key: string, orderId: string): Promise<IdempotencyRecord | undefined> {
    const { rows } = await tx.query<IdempotencyRecord>(
      'SELECT key, request_hash, status, order_id, request_id, response_status, response_body FROM idempotency_keys WHERE key = $1 AND order_id = $2',
      [key, orderId],
    );
    return rows[0];
  },

  async complete(tx: Queryable, key: string, responseStatus: number, responseBody: string): Promise<void> {
    await tx.query(`UPDATE idempotency_keys SET status = 'completed', response_status = $2, response_body = $3, updated_at = now() WHERE key = $1`, [
      key,
      responseStatus,
      responseBody,
    ]);
  },
};
