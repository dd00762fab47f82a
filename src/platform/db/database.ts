// The connection pool and the per-request tenant transaction.
// `withTenant` is how every tenant-scoped query runs: one round trip opens the transaction,
// drops to the non-owner `app_user` role and sets the tenant for row-level security; the
// same client is handed to the callback, so nothing in it ever waits on a second connection
// (which would deadlock the embedded backend, whose transactions run one at a time).
import pg from 'pg';
import { AppError } from '../http/app-error.ts';
import { connectionAttributes, tracedQuery, type ConnectionAttributes, type QueryObserver } from './traced-query.ts';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface DatabaseOptions {
  url: string;
  poolSize: number;
  /** Each query's time limit on the server side; protects the pool from runaway queries. */
  statementTimeoutMs?: number;
  onError?: (error: Error) => void;
  /** Hears every statement's duration (query metrics, the slow-query log). */
  onQuery?: QueryObserver;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Quotes a value for a SQL string literal (standard_conforming_strings is on everywhere we run). */
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * Replaces $1…$n with SQL literals: strings through pg's escapeLiteral (quotes and
 * backslashes), finite numbers as numbers, booleans, NULL. Anything else is refused, so no
 * value can reach the SQL unescaped.
 */
export function inline(text: string, values: unknown[]): string {
  return text.replace(/\$(\d+)/g, (_match, index: string) => {
    const value = values[Number(index) - 1];
    if (value === null || value === undefined) return 'NULL';
    if (typeof value === 'string') return pg.escapeLiteral(value);
    if (typeof value === 'number') {
      // A non-finite number can only come from the request ("?limit=Infinity" survives
      // coercion): the caller's mistake, answered like Postgres' own invalid input.
      if (!Number.isFinite(value)) throw new AppError(400, 'invalid_value', 'A value in the request is not valid for this field');
      return String(value);
    }
    if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
    throw new Error(`inline: unsupported parameter type ${typeof value}`);
  });
}

export interface TenantContext {
  tenantId?: string;
  /** Lets a login read the one tenant named by its slug (see the tenants policy). */
  tenantSlug?: string;
}

export class Database {
  readonly pool: pg.Pool;
  private readonly connection: ConnectionAttributes;
  private readonly onQuery: QueryObserver | undefined;
  /** The pool's `max` (1 on the embedded database: see dependencies.ts). */
  readonly poolSize: number;

  constructor(options: DatabaseOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
      application_name: 'glassbox',
    });
    this.connection = connectionAttributes(options.url);
    this.poolSize = options.poolSize;
    this.onQuery = options.onQuery;
    // An idle client's error (server restart) must not crash the process; the pool drops it.
    this.pool.on('error', (error) => options.onError?.(error));
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return tracedQuery<R>(this.pool, this.connection, text, values, text, this.onQuery);
  }

  /** Runs `fn` in a transaction as `app_user` with the tenant set for row-level security. */
  async withTenant<T>(context: TenantContext | string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const ctx = typeof context === 'string' ? { tenantId: context } : context;
    let setup = 'BEGIN; SET LOCAL ROLE app_user';
    // What spans and the slow-query log show: the same statement without the values.
    let shown = setup;
    if (ctx.tenantId !== undefined) {
      if (!UUID.test(ctx.tenantId)) throw new Error('withTenant: tenant id is not a UUID');
      setup += `; SELECT set_config('app.tenant_id', ${literal(ctx.tenantId)}, true)`;
      shown += "; SELECT set_config('app.tenant_id', $1, true)";
    }
    if (ctx.tenantSlug !== undefined) {
      setup += `; SELECT set_config('app.tenant_slug', ${literal(ctx.tenantSlug)}, true)`;
      shown += "; SELECT set_config('app.tenant_slug', $2, true)";
    }
    return this.transaction({ text: setup, shown }, fn);
  }

  /**
   * Tenant-scoped reads in ONE round trip each: every `tx.query` is sent as
   * `SET LOCAL ROLE app_user; SELECT set_config('app.tenant_id', …, true); <query>` in one
   * simple-protocol message, which Postgres runs as one implicit transaction (the role and
   * tenant end with it, an error rolls it back). The same row-level security as `withTenant`,
   * for a third of the round trips. Parameters are inlined as escaped literals (`inline`),
   * since the simple protocol has no bind step; use `withTenant` for writes.
   */
  withTenantRead<T>(tenantId: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (!UUID.test(tenantId)) throw new Error('withTenantRead: tenant id is not a UUID');
    const prefix = `SET LOCAL ROLE app_user; SELECT set_config('app.tenant_id', ${literal(tenantId)}, true); `;
    const { pool, connection, onQuery } = this;
    const tx: Queryable = {
      query: (async (text: string, values: unknown[] = []) => {
        const results = (await tracedQuery(pool, connection, prefix + inline(text, values), undefined, text, onQuery)) as unknown as pg.QueryResult[];
        return results[2];
      }) as Queryable['query'],
    };
    return fn(tx);
  }

  /** A transaction as the login role (migrations, jobs that are not tenant-scoped). */
  withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.transaction({ text: 'BEGIN', shown: 'BEGIN' }, fn);
  }

  private async transaction<T>(setup: { text: string; shown: string }, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const { connection, onQuery } = this;
    // Every statement of the transaction, the setup and COMMIT included, gets its span.
    const tx: Queryable = { query: ((text: string, values?: unknown[]) => tracedQuery(client, connection, text, values, text, onQuery)) as Queryable['query'] };
    let broken: Error | undefined;
    try {
      await tracedQuery(client, connection, setup.text, undefined, setup.shown, onQuery);
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await tx.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is unusable: destroy it on release
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  stats() {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount, max: this.poolSize };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
