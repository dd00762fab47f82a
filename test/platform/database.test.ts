// The one-round-trip tenant read: parameters inlined safely, row-level security applied,
// role and tenant gone once the read is over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inline } from '../../src/platform/db/database.ts';
import { createProduct, signup } from '../helpers/api.ts';
import { backend, startTestApp, type TestApp } from '../helpers/test-app.ts';

describe('inline', () => {
  it('escapes strings, keeps numbers and booleans, and writes NULL', () => {
    expect(inline('SELECT $1, $2, $3, $4, $5', ["it's", 'a\\b', 42, true, null])).toBe(
      // (pg's escapeLiteral writes a backslash-bearing string as  E'…', with a leading space)
      "SELECT 'it''s',  E'a\\\\b', 42, TRUE, NULL",
    );
  });

  it('refuses values it cannot write as a literal', () => {
    expect(() => inline('SELECT $1', [{ a: 1 }])).toThrow(/unsupported/);
    expect(() => inline('SELECT $1', [Number.POSITIVE_INFINITY])).toThrow(/not valid/);
    expect(() => inline('SELECT $1', [['x']])).toThrow(/unsupported/);
  });
});

describe(`Database.withTenantRead (${backend})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it("sees only the tenant's rows, even unscoped, and treats an injection attempt as data", async () => {
    const a = await signup(t.app);
    const b = await signup(t.app);
    const pa = await createProduct(t.app, a.token, { name: "A's widget" });
    await createProduct(t.app, b.token);
    const rows = await t.deps.db.withTenantRead(
      a.tenantId,
      async (tx) => (await tx.query<{ id: string; tenant_id: string }>('SELECT id, tenant_id FROM products')).rows,
    );
    expect(rows.map((r) => r.id)).toEqual([pa.id]);
    const found = await t.deps.db.withTenantRead(
      a.tenantId,
      async (tx) => (await tx.query<{ n: string }>('SELECT count(*) AS n FROM products WHERE name = $1', ["x' OR '1'='1"])).rows,
    );
    expect(found[0]?.n).toBe('0');
    const named = await t.deps.db.withTenantRead(
      a.tenantId,
      async (tx) => (await tx.query<{ id: string }>('SELECT id FROM products WHERE name = $1', ["A's widget"])).rows,
    );
    expect(named.map((r) => r.id)).toEqual([pa.id]);
  });

  it('leaves no role or tenant behind on the connection, also after a failing read', async () => {
    const a = await signup(t.app);
    await expect(t.deps.db.withTenantRead(a.tenantId, (tx) => tx.query('SELECT 1/0'))).rejects.toThrow(/division by zero/);
    const after = await t.deps.db.query<{ role: string; tenant: string | null }>(
      "SELECT current_user AS role, current_setting('app.tenant_id', true) AS tenant",
    );
    expect(after.rows[0]?.role).not.toBe('app_user');
    expect(after.rows[0]?.tenant ?? '').toBe('');
  });
});
