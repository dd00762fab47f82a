import type { Database, Queryable } from '../../platform/db/database.ts';
import type { OrderView } from './orders.schemas.ts';

export type OrderStatus = 'pending' | 'paid' | 'failed';

// One round trip for an order with its items and payment, the shape the API returns.
const VIEW = `
  SELECT o.id, o.status, o.total_cents, o.currency,
    to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
    coalesce((SELECT json_agg(json_build_object('product_id', i.product_id, 'name', i.product_name,
        'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents) ORDER BY i.product_id)
      FROM order_items i WHERE i.order_id = o.id), '[]'::json) AS items,
    (SELECT json_build_object('id', p.id, 'status', p.status, 'failure_reason', p.failure_reason)
      FROM payments p WHERE p.order_id = o.id) AS payment
  FROM orders o`;

export interface OrderItemInput {
  productId: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}

/** Every order is in US dollars so far: the orders.currency column's default, which insert leaves to it. */
export const ORDER_CURRENCY = 'USD';

export interface PendingOrder {
  id: string;
  user_id: string;
  status: OrderStatus;
  total_cents: number;
  currency: string;
  idempotency_key: string;
  payment_id: string;
  payment_method: string;
}

export const ordersRepository = {
  async insert(
    tx: Queryable,
    o: {
      id: string;
      tenantId: string;
      userId: string;
      totalCents: number;
      idempotencyKey: string;
      items: OrderItemInput[];
      paymentId: string;
      paymentMethod: string;
      provider: string;
    },
  ): Promise<void> {
    await tx.query(`INSERT INTO orders (id, tenant_id, user_id, status, total_cents, idempotency_key) VALUES ($1, $2, $3, 'pending', $4, $5)`, [
      o.id,
      o.tenantId,
      o.userId,
      o.totalCents,
      o.idempotencyKey,
    ]);
    await tx.query(
      `INSERT INTO order_items (order_id, tenant_id, product_id, product_name, quantity, unit_price_cents)
       SELECT $1, $2, * FROM unnest($3::uuid[], $4::text[], $5::int[], $6::int[])`,
      [o.id, o.tenantId, o.items.map((i) => i.productId), o.items.map((i) => i.name), o.items.map((i) => i.quantity), o.items.map((i) => i.unitPriceCents)],
    );
    await tx.query(
      `INSERT INTO payments (id, tenant_id, order_id, status, amount_cents, payment_method, provider) VALUES ($1, $2, $3, 'pending', $4, $5, $6)`,
      [o.paymentId, o.tenantId, o.id, o.totalCents, o.paymentMethod, o.provider],
    );
  },

  /** The order and its payment, locked: settlement decides under this lock, once. */
  async lockForSettlement(tx: Queryable, id: string): Promise<PendingOrder | undefined> {
    const { rows } = await tx.query<PendingOrder>(
      `SELECT o.id, o.user_id, o.status, o.total_cents, o.currency, o.idempotency_key, p.id AS payment_id, p.payment_method
       FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1 FOR UPDATE OF o, p`,
      [id],
    );
    return rows[0];
  },

  /**
   * Orders of every tenant still pending after `olderThanSeconds`, oldest first: the sweeper's
   * worklist. Read as app_sweeper (migration 0003), which sees the id, tenant and age of
   * pending orders and nothing else; one round trip, an implicit transaction.
   */
  async pendingOlderThan(db: Pick<Database, 'query'>, olderThanSeconds: number, limit: number): Promise<{ id: string; tenant_id: string }[]> {
    if (!Number.isInteger(olderThanSeconds) || !Number.isInteger(limit)) throw new Error('pendingOlderThan: integers only');
    const results = (await db.query(
      'SET LOCAL ROLE app_sweeper; ' +
        `SELECT id, tenant_id FROM orders WHERE status = 'pending' AND created_at < now() - make_interval(secs => ${olderThanSeconds}) ORDER BY created_at LIMIT ${limit}`,
    )) as unknown as { rows: { id: string; tenant_id: string }[] }[];
    return results[1]!.rows;
  },

  async findForCharge(tx: Queryable, id: string): Promise<PendingOrder | undefined> {
    const { rows } = await tx.query<PendingOrder>(
      `SELECT o.id, o.user_id, o.status, o.total_cents, o.currency, o.idempotency_key, p.id AS payment_id, p.payment_method
       FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1`,
      [id],
    );
    return rows[0];
  },

  async items(tx: Queryable, orderId: string): Promise<{ product_id: string; quantity: number }[]> {
    const { rows } = await tx.query<{ product_id: string; quantity: number }>('SELECT product_id, quantity FROM order_items WHERE order_id = $1', [orderId]);
    return rows;
  },

  async markPaid(tx: Queryable, id: string, paymentId: string, providerReference: string): Promise<void> {
    await tx.query(`UPDATE payments SET status = 'captured', provider_reference = $2, updated_at = now() WHERE id = $1`, [paymentId, providerReference]);
    await tx.query(`UPDATE orders SET status = 'paid', updated_at = now() WHERE id = $1`, [id]);
  },

  async markFailed(tx: Queryable, id: string, paymentId: string, providerReference: string | null, reason: string): Promise<void> {
    await tx.query(`UPDATE payments SET status = 'failed', provider_reference = $2, failure_reason = $3, updated_at = now() WHERE id = $1`, [
      paymentId,
      providerReference,
      reason,
    ]);
    await tx.query(`UPDATE orders SET status = 'failed', updated_at = now() WHERE id = $1`, [id]);
  },

  async view(tx: Queryable, id: string): Promise<OrderView | undefined> {
    const { rows } = await tx.query<OrderView>(`${VIEW} WHERE o.id = $1`, [id]);
    return rows[0];
  },

  async list(tx: Queryable, limit: number, cursor?: string): Promise<OrderView[]> {
    const { rows } = cursor
      ? await tx.query<OrderView>(`${VIEW} WHERE o.id < $1 ORDER BY o.id DESC LIMIT $2`, [cursor, limit + 1])
      : await tx.query<OrderView>(`${VIEW} ORDER BY o.id DESC LIMIT $1`, [limit + 1]);
    return rows;
  },
};
