// Tenant isolation, enforced twice (issue 2, points 2 and 5):
//  - in the database: as the app role with tenant A set, even an unscoped query sees none of
//    tenant B's rows, cannot write rows for B, and with no tenant set sees nothing at all;
//  - in the API: another tenant's id is a 404, lists never mix tenants, and no body can set
//    what the caller may not (tenant_id, ids, a role above the caller's).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createProduct, createUser, placeOrder, signup, type Tenant } from './helpers/api.ts';
import { backend, startTestApp, type TestApp } from './helpers/test-app.ts';
import { expectError } from './helpers/assertions.ts';

/** Every table with tenant rows, and the column that names the tenant. */
const TENANT_TABLES = [
  { table: 'tenants', column: 'id' },
  { table: 'users', column: 'tenant_id' },
  { table: 'products', column: 'tenant_id' },
  { table: 'orders', column: 'tenant_id' },
  { table: 'order_items', column: 'tenant_id' },
  { table: 'payments', column: 'tenant_id' },
  { table: 'idempotency_keys', column: 'tenant_id' },
] as const;

interface Fixture {
  tenant: Tenant;
  member: { id: string; email: string; token: string };
  product: { id: string; price_cents: number; stock: number };
  orderId: string;
}

async function fixture(t: TestApp): Promise<Fixture> {
  const tenant = await signup(t.app);
  const member = await createUser(t.app, tenant, 'member');
  const product = await createProduct(t.app, tenant.token, { stock: 50 });
  const order = await placeOrder(t.app, tenant.token, [{ product_id: product.id, quantity: 1 }]);
  if (order.statusCode !== 201) throw new Error(`order failed: ${order.statusCode} ${order.body}`);
  expect(order.json()).toMatchObject({ status: 'paid', payment: { status: 'captured' } });
  return { tenant, member, product, orderId: order.json().id as string };
}

/** The CONTRACT's error body, with request_id equal to the x-request-id header. */
describe(`tenant isolation (${backend})`, () => {
  let t: TestApp;
  let A: Fixture;
  let B: Fixture;

  /**
   * Runs `fn` on a raw pool client exactly as the app's per-request transaction does
   * (BEGIN; SET LOCAL ROLE app_user; set_config('app.tenant_id', …, true)), then always rolls
   * back and releases the client. With `tenantId` undefined no tenant is set.
   */
  async function asAppUser<T>(tenantId: string | undefined, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await t.deps.db.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE app_user');
      if (tenantId !== undefined) await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      return await fn(client);
    } finally {
      try {
        await client.query('ROLLBACK');
      } catch (error) {
        broken = error as Error;
      }
      client.release(broken);
    }
  }

  /** The SQLSTATE a statement fails with (inside a savepoint, so the transaction goes on). */
  async function sqlstateOf(client: pg.PoolClient, text: string, values: unknown[]): Promise<string | undefined> {
    await client.query('SAVEPOINT attempt');
    try {
      await client.query(text, values);
      await client.query('RELEASE SAVEPOINT attempt');
      return undefined;
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT attempt');
      return (error as { code?: string }).code ?? 'no code';
    }
  }

  beforeAll(async () => {
    t = await startTestApp();
    A = await fixture(t);
    B = await fixture(t);
  });
  afterAll(async () => t?.close());

  describe('SQL level, as app_user', () => {
    it('the app role is not the login role, and does not bypass row-level security', async () => {
      await asAppUser(A.tenant.tenantId, async (c) => {
        const { rows } = await c.query<{ role: string; bypass: boolean; superuser: boolean }>(
          'SELECT current_user AS role, r.rolbypassrls AS bypass, r.rolsuper AS superuser FROM pg_roles r WHERE r.rolname = current_user',
        );
        expect(rows).toEqual([{ role: 'app_user', bypass: false, superuser: false }]);
        for (const { table } of TENANT_TABLES) {
          const { rows: rls } = await c.query<{ enabled: boolean; forced: boolean }>(
            'SELECT relrowsecurity AS enabled, relforcerowsecurity AS forced FROM pg_class WHERE oid = $1::regclass',
            [table],
          );
          expect(rls, table).toEqual([{ enabled: true, forced: true }]);
        }
      });
    });

    it("with tenant A set, an unscoped SELECT * of every table shows A's rows and none of B's", async () => {
      await asAppUser(A.tenant.tenantId, async (c) => {
        for (const { table, column } of TENANT_TABLES) {
          const { rows } = await c.query<Record<string, unknown>>(`SELECT * FROM ${table}`);
          const owners = new Set(rows.map((r) => r[column]));
          expect([...owners], `${table}: only tenant A's rows`).toEqual([A.tenant.tenantId]);
          expect(
            rows.filter((r) => r[column] === B.tenant.tenantId),
            `${table}: rows of B`,
          ).toHaveLength(0);
        }
        // The specific rows: A's are there, B's are not, even when asked for by id.
        const ids = async (sql: string, values: unknown[]) => (await c.query<{ id: string }>(sql, values)).rows.map((r) => r.id);
        expect(await ids('SELECT id FROM users WHERE id = ANY($1::uuid[])', [[A.tenant.userId, A.member.id, B.tenant.userId, B.member.id]])).toEqual(
          expect.arrayContaining([A.tenant.userId, A.member.id]),
        );
        expect(await ids('SELECT id FROM users WHERE id = ANY($1::uuid[])', [[B.tenant.userId, B.member.id]])).toEqual([]);
        expect(await ids('SELECT id FROM products WHERE id = $1', [B.product.id])).toEqual([]);
        expect(await ids('SELECT id FROM products WHERE id = $1', [A.product.id])).toEqual([A.product.id]);
        expect(await ids('SELECT id FROM orders WHERE id = $1', [B.orderId])).toEqual([]);
        expect(await ids('SELECT id FROM orders WHERE id = $1', [A.orderId])).toEqual([A.orderId]);
        expect(await ids('SELECT order_id AS id FROM payments WHERE order_id = $1', [B.orderId])).toEqual([]);
        expect(await ids('SELECT id FROM tenants WHERE slug = $1', [B.tenant.slug])).toEqual([]);
        // Aggregates and joins see the same filtered tables.
        const { rows: counts } = await c.query<{ n: string }>(
          'SELECT count(*) AS n FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.tenant_id = $1',
          [B.tenant.tenantId],
        );
        expect(counts[0]?.n).toBe('0');
      });
    });

    it('with tenant B set, the mirror image holds', async () => {
      await asAppUser(B.tenant.tenantId, async (c) => {
        for (const { table, column } of TENANT_TABLES) {
          const { rows } = await c.query<Record<string, unknown>>(`SELECT * FROM ${table}`);
          expect([...new Set(rows.map((r) => r[column]))], table).toEqual([B.tenant.tenantId]);
        }
      });
    });

    it('with no tenant set, every table shows 0 rows', async () => {
      await asAppUser(undefined, async (c) => {
        for (const { table } of TENANT_TABLES) {
          const { rows } = await c.query(`SELECT * FROM ${table}`);
          expect(rows, table).toHaveLength(0);
        }
      });
      // An empty tenant setting (what a pooled connection shows after a SET LOCAL ended) is no tenant either.
      await asAppUser('', async (c) => {
        for (const { table } of TENANT_TABLES) expect((await c.query(`SELECT * FROM ${table}`)).rows, table).toHaveLength(0);
      });
    });

    it("with tenant A set, writing B's rows fails (WITH CHECK) or touches nothing", async () => {
      await asAppUser(A.tenant.tenantId, async (c) => {
        expect(
          await sqlstateOf(c, 'INSERT INTO products (id, tenant_id, name, price_cents, stock) VALUES ($1, $2, $3, 1, 1)', [
            randomUUID(),
            B.tenant.tenantId,
            'planted',
          ]),
        ).toBe('42501');
        expect(
          await sqlstateOf(c, "INSERT INTO users (id, tenant_id, email, password_hash, role) VALUES ($1, $2, 'x@planted.test', 'x', 'owner')", [
            randomUUID(),
            B.tenant.tenantId,
          ]),
        ).toBe('42501');
        expect(
          await sqlstateOf(c, "INSERT INTO tenants (id, name, slug) VALUES ($1, 'planted', $2)", [randomUUID(), `planted-${randomUUID().slice(0, 8)}`]),
        ).toBe('42501');
        // Moving one of A's rows into B is a write of a B row too.
        expect(await sqlstateOf(c, 'UPDATE products SET tenant_id = $1 WHERE id = $2', [B.tenant.tenantId, A.product.id])).toBe('42501');

        const update = await c.query("UPDATE products SET name = 'hacked', stock = 0 WHERE id = $1", [B.product.id]);
        expect(update.rowCount).toBe(0);
        const unscopedUpdate = await c.query('UPDATE products SET stock = stock WHERE tenant_id = $1', [B.tenant.tenantId]);
        expect(unscopedUpdate.rowCount).toBe(0);
        const del = await c.query('DELETE FROM orders WHERE id = $1', [B.orderId]);
        expect(del.rowCount).toBe(0);
        // Turning row security off is refused rather than silently showing everything.
        await c.query('SET LOCAL row_security = off');
        expect(await sqlstateOf(c, 'SELECT * FROM products', [])).toBe('42501');
      });
      // B's product is untouched.
      const res = await t.app.inject({ url: `/api/products/${B.product.id}`, headers: bearer(B.tenant.token) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ name: 'Widget', stock: B.product.stock - 1 });
    });

    it("db.withTenant(A) sees only A's products", async () => {
      const rows = await t.deps.db.withTenant(
        A.tenant.tenantId,
        async (tx) => (await tx.query<{ id: string; tenant_id: string }>('SELECT id, tenant_id FROM products')).rows,
      );
      expect(rows.map((r) => r.id)).toContain(A.product.id);
      expect(rows.map((r) => r.id)).not.toContain(B.product.id);
      expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set([A.tenant.tenantId]));
      const role = await t.deps.db.withTenant(A.tenant.tenantId, async (tx) => (await tx.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u);
      expect(role).toBe('app_user');
    });

    it('leaves no tenant behind on a pooled connection', async () => {
      await t.deps.db.withTenant(A.tenant.tenantId, (tx) => tx.query('SELECT 1'));
      // Every idle connection, as the login role outside any transaction, has no tenant and its own role back.
      const clients = await Promise.all(Array.from({ length: Math.min(3, t.deps.db.poolSize) }, () => t.deps.db.pool.connect()));
      try {
        for (const c of clients) {
          const { rows } = await c.query<{ tenant: string | null; role: string }>(
            "SELECT nullif(current_setting('app.tenant_id', true), '') AS tenant, current_user AS role",
          );
          expect(rows[0]?.tenant ?? null).toBeNull();
          expect(rows[0]?.role).not.toBe('app_user');
        }
      } finally {
        for (const c of clients) c.release();
      }
    });
  });

  describe('API level', () => {
    it("every :id route answers another tenant's id with 404 not_found", async () => {
      const h = bearer(A.tenant.token);
      expectError(await t.app.inject({ url: `/api/users/${B.tenant.userId}`, headers: h }), 404, 'not_found');
      expectError(await t.app.inject({ url: `/api/users/${B.member.id}`, headers: h }), 404, 'not_found');
      expectError(await t.app.inject({ url: `/api/products/${B.product.id}`, headers: h }), 404, 'not_found');
      expectError(
        await t.app.inject({ method: 'PATCH', url: `/api/products/${B.product.id}`, headers: h, payload: { name: 'hacked', stock: 0 } }),
        404,
        'not_found',
      );
      expectError(await t.app.inject({ url: `/api/orders/${B.orderId}`, headers: h }), 404, 'not_found');
      // A member of A, too.
      const m = bearer(A.member.token);
      expectError(await t.app.inject({ url: `/api/users/${B.tenant.userId}`, headers: m }), 404, 'not_found');
      expectError(await t.app.inject({ url: `/api/products/${B.product.id}`, headers: m }), 404, 'not_found');
      expectError(await t.app.inject({ url: `/api/orders/${B.orderId}`, headers: m }), 404, 'not_found');
      // The 404 for another tenant's id is the same as for an id that does not exist at all.
      const unknown = expectError(await t.app.inject({ url: `/api/products/${randomUUID()}`, headers: h }), 404, 'not_found');
      const foreign = expectError(await t.app.inject({ url: `/api/products/${B.product.id}`, headers: h }), 404, 'not_found');
      expect(foreign.message).toBe(unknown.message);

      // The owner still reads its own, and B's product was not changed by A's PATCH.
      expect((await t.app.inject({ url: `/api/users/${A.member.id}`, headers: h })).statusCode).toBe(200);
      expect((await t.app.inject({ url: `/api/orders/${A.orderId}`, headers: h })).statusCode).toBe(200);
      const own = await t.app.inject({ url: `/api/products/${B.product.id}`, headers: bearer(B.tenant.token) });
      expect(own.json()).toMatchObject({ id: B.product.id, name: 'Widget', stock: B.product.stock - 1 });
    });

    it("lists never contain the other tenant's rows, whatever the cursor", async () => {
      const h = bearer(A.tenant.token);
      const cases = [
        { url: '/api/users', mine: [A.tenant.userId, A.member.id], theirs: [B.tenant.userId, B.member.id] },
        { url: '/api/products', mine: [A.product.id], theirs: [B.product.id] },
        { url: '/api/orders', mine: [A.orderId], theirs: [B.orderId] },
      ];
      for (const c of cases) {
        const res = await t.app.inject({ url: `${c.url}?limit=100`, headers: h });
        expect(res.statusCode, c.url).toBe(200);
        const ids = (res.json().items as { id: string }[]).map((i) => i.id);
        expect(ids, c.url).toEqual(expect.arrayContaining(c.mine));
        for (const id of c.theirs) expect(ids, c.url).not.toContain(id);
        // Paging from one of B's ids must not reveal B's rows either.
        for (const cursor of c.theirs) {
          const paged = await t.app.inject({ url: `${c.url}?limit=100&cursor=${cursor}`, headers: h });
          expect(paged.statusCode, `${c.url} cursor`).toBe(200);
          for (const id of c.theirs) expect((paged.json().items as { id: string }[]).map((i) => i.id)).not.toContain(id);
        }
      }
      const me = await t.app.inject({ url: '/api/me', headers: h });
      expect(me.json()).toMatchObject({ user: { id: A.tenant.userId, role: 'owner' }, tenant: { id: A.tenant.tenantId, slug: A.tenant.slug } });
    });

    it("ordering B's product with A's token is a 404 and charges nothing", async () => {
      const before = (await t.app.inject({ url: `/api/products/${B.product.id}`, headers: bearer(B.tenant.token) })).json().stock as number;
      const res = await placeOrder(t.app, A.tenant.token, [{ product_id: B.product.id, quantity: 1 }]);
      expectError(res, 404, 'not_found');
      // Mixed with one of A's own products, the whole order is refused.
      expectError(
        await placeOrder(t.app, A.tenant.token, [
          { product_id: A.product.id, quantity: 1 },
          { product_id: B.product.id, quantity: 1 },
        ]),
        404,
        'not_found',
      );
      const after = (await t.app.inject({ url: `/api/products/${B.product.id}`, headers: bearer(B.tenant.token) })).json().stock as number;
      expect(after).toBe(before);
      const orders = (await t.app.inject({ url: '/api/orders?limit=100', headers: bearer(A.tenant.token) })).json().items as unknown[];
      expect(orders).toHaveLength(1);
    });

    it('a token edited to name another tenant is refused', async () => {
      const [header, payload, signature] = A.tenant.token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, tenant_id: B.tenant.tenantId })).toString('base64url')}.${signature}`;
      expectError(await t.app.inject({ url: `/api/products/${B.product.id}`, headers: bearer(forged) }), 401, 'invalid_token');
      expectError(await t.app.inject({ url: '/api/products', headers: bearer(forged) }), 401, 'invalid_token');
    });

    it('no body can set tenant_id or id', async () => {
      const h = bearer(A.tenant.token);
      const product = { name: 'Planted', price_cents: 100, stock: 1 };
      const user = { email: `planted-${randomUUID().slice(0, 8)}@example.test`, password: 'long enough password', role: 'member' };
      const attempts: { method: 'POST' | 'PATCH'; url: string; payload: Record<string, unknown> }[] = [
        { method: 'POST', url: '/api/products', payload: { ...product, tenant_id: B.tenant.tenantId } },
        { method: 'POST', url: '/api/products', payload: { ...product, id: randomUUID() } },
        { method: 'POST', url: '/api/products', payload: { ...product, id: B.product.id, tenant_id: B.tenant.tenantId } },
        { method: 'POST', url: '/api/users', payload: { ...user, tenant_id: B.tenant.tenantId } },
        { method: 'POST', url: '/api/users', payload: { ...user, id: randomUUID() } },
        { method: 'PATCH', url: `/api/products/${A.product.id}`, payload: { tenant_id: B.tenant.tenantId } },
        { method: 'PATCH', url: `/api/products/${A.product.id}`, payload: { name: 'x', id: B.product.id } },
        { method: 'POST', url: '/api/orders', payload: { items: [{ product_id: A.product.id, quantity: 1 }], tenant_id: B.tenant.tenantId } },
        { method: 'POST', url: '/api/orders', payload: { items: [{ product_id: A.product.id, quantity: 1, tenant_id: B.tenant.tenantId }] } },
      ];
      for (const a of attempts) {
        const res = await t.app.inject({ method: a.method, url: a.url, headers: { ...h, 'idempotency-key': randomUUID() }, payload: a.payload });
        const body = expectError(res, 400, 'validation_error');
        expect(body.details, `${a.method} ${a.url}`).toEqual(expect.arrayContaining([expect.objectContaining({ message: expect.any(String) })]));
      }
      // Nothing was created anywhere: A still has its one product, B its one product and two users.
      expect((await t.app.inject({ url: '/api/products?limit=100', headers: h })).json().items).toHaveLength(1);
      expect((await t.app.inject({ url: '/api/products?limit=100', headers: bearer(B.tenant.token) })).json().items).toHaveLength(1);
      expect((await t.app.inject({ url: '/api/users?limit=100', headers: bearer(B.tenant.token) })).json().items).toHaveLength(2);
    });

    it('no body can grant a role above the caller’s', async () => {
      const user = (role: string) => ({ email: `${role}-${randomUUID().slice(0, 8)}@example.test`, password: 'long enough password', role });
      const member = bearer(A.member.token);
      // A member creates no user at all.
      expectError(await t.app.inject({ method: 'POST', url: '/api/users', headers: member, payload: user('admin') }), 403, 'forbidden');
      expectError(await t.app.inject({ method: 'POST', url: '/api/users', headers: member, payload: user('member') }), 403, 'forbidden');
      // …and no product either.
      expectError(
        await t.app.inject({ method: 'POST', url: '/api/products', headers: member, payload: { name: 'x', price_cents: 1, stock: 1 } }),
        403,
        'forbidden',
      );
      expectError(await t.app.inject({ method: 'PATCH', url: `/api/products/${A.product.id}`, headers: member, payload: { stock: 0 } }), 403, 'forbidden');
      // Nobody creates an owner through the API: the role is not in the schema.
      const admin = await createUser(t.app, A.tenant, 'admin');
      for (const token of [admin.token, A.tenant.token]) {
        const res = expectError(
          await t.app.inject({ method: 'POST', url: '/api/users', headers: bearer(token), payload: user('owner') }),
          400,
          'validation_error',
        );
        expect(JSON.stringify(res.details)).toContain('role');
      }
      expectError(await t.app.inject({ method: 'POST', url: '/api/users', headers: bearer(admin.token), payload: user('superuser') }), 400, 'validation_error');
      // An admin may create admins and members (not above its own role).
      expect((await t.app.inject({ method: 'POST', url: '/api/users', headers: bearer(admin.token), payload: user('member') })).statusCode).toBe(201);
      // The member's token still says member, whatever it asked for.
      const me = await t.app.inject({ url: '/api/me', headers: member });
      expect(me.json().user.role).toBe('member');
      const owners = ((await t.app.inject({ url: '/api/users?limit=100', headers: bearer(A.tenant.token) })).json().items as { role: string }[]).filter(
        (u) => u.role === 'owner',
      );
      expect(owners).toHaveLength(1);
    });
  });
});
