import type { Queryable } from '../../platform/db/database.ts';
import type { Role } from '../auth/access-token.ts';

export interface UserRow {
  id: string;
  email: string;
  role: Role;
  created_at: string;
}

// created_at is rendered by Postgres as ISO 8601 UTC, the API's format, on both backends.
const COLUMNS = `id, email, role, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

export const usersRepository = {
  async insert(tx: Queryable, user: { id: string; tenantId: string; email: string; passwordHash: string; role: Role }): Promise<UserRow> {
    const { rows } = await tx.query<UserRow>(`INSERT INTO users (id, tenant_id, email, password_hash, role) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`, [
      user.id,
      user.tenantId,
      user.email,
      user.passwordHash,
      user.role,
    ]);
    return rows[0]!;
  },

  async findById(tx: Queryable, id: string): Promise<UserRow | undefined> {
    const { rows } = await tx.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0];
  },

  async findCredentials(tx: Queryable, email: string): Promise<{ id: string; role: Role; password_hash: string } | undefined> {
    const { rows } = await tx.query<{ id: string; role: Role; password_hash: string }>('SELECT id, role, password_hash FROM users WHERE email = $1', [email]);
    return rows[0];
  },

  /** Newest first; `cursor` is the last id of the previous page. Fetches limit + 1 to know if there is more. */
  async list(tx: Queryable, limit: number, cursor?: string): Promise<UserRow[]> {
    const { rows } = cursor
      ? await tx.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id < $1 ORDER BY id DESC LIMIT $2`, [cursor, limit + 1])
      : await tx.query<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY id DESC LIMIT $1`, [limit + 1]);
    return rows;
  },
};
