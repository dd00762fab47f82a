// The embedded default database: PGlite (Postgres compiled to WebAssembly) served on a
// loopback socket by pglite-socket, so the app talks to it with the same `pg` driver, SQL
// and instrumentation as to a real server. One PGlite has one backend session: the socket
// server queues queries and runs transactions one at a time (see STACK.md).
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  /** A postgres:// URL for `pg` */
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** A folder for the data files; omitted = in memory (tests). */
  dataDir?: string;
  /** Must cover every pool's `max` together: extra connections are reset by the server. */
  maxConnections: number;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir ?? 'memory://');
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: options.maxConnections });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
