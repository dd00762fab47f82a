import type { Queryable } from '../../platform/db/database.ts';

export interface ProductRow {
  id: string;
  name: string;
  price_cents: number;
  stock: number;
  created_at: string;
}

const COLUMNS = `id, name, price_cents, stock, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

export const productsRepository = {
  async insert(tx: Queryable, p: { id: string; tenantId: string; name: string; priceCents: number; stock: number }): Promise<ProductRow> {
    const { rows } = await tx.query<ProductRow>(
      `INSERT INTO products (id, tenant_id, name, price_cents, stock) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
      [p.id, p.tenantId, p.name, p.priceCents, p.stock],
    );
    return rows[0]!;
  },

  async findById(tx: Queryable, id: string): Promise<ProductRow | undefined> {
    const { rows } = await tx.query<ProductRow>(`SELECT ${COLUMNS} FROM products WHERE id = $1`, [id]);
    return rows[0];
  },

  async update(
    tx: Queryable,
    id: string,
    changes: { name?: string | undefined; priceCents?: number | undefined; stock?: number | undefined },
  ): Promise<ProductRow | undefined> {
    const { rows } = await tx.query<ProductRow>(
      `UPDATE products SET name = coalesce($2, name), price_cents = coalesce($3, price_cents), stock = coalesce($4, stock), updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, changes.name ?? null, changes.priceCents ?? null, changes.stock ?? null],
    );
    return rows[0];
  },

  async list(tx: Queryable, limit: number, cursor?: string): Promise<ProductRow[]> {
    const { rows } = cursor
      ? await tx.query<ProductRow>(`SELECT ${COLUMNS} FROM products WHERE id < $1 ORDER BY id DESC LIMIT $2`, [cursor, limit + 1])
      : await tx.query<ProductRow>(`SELECT ${COLUMNS} FROM products ORDER BY id DESC LIMIT $1`, [limit + 1]);
    return rows;
  },

  /** Locks the products of an order in id order (no deadlocks between concurrent orders). */
  async lockForOrder(tx: Queryable, ids: string[]): Promise<{ id: string; name: string; price_cents: number; stock: number }[]> {
    const { rows } = await tx.query<{ id: string; name: string; price_cents: number; stock: number }>(
      'SELECT id, name, price_cents, stock FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
      [ids],
    );
    return rows;
  },

  /** Adds `delta[i]` to the stock of `ids[i]` (negative to reserve, positive to release). */
  async adjustStock(tx: Queryable, ids: string[], deltas: number[]): Promise<void> {
    await tx.query(
      `UPDATE products p SET stock = p.stock + d.delta, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS d(id, delta) WHERE p.id = d.id`,
      [ids, deltas],
    );
  },
};
