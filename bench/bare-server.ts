// The ceiling (z): bare Fastify doing the same single SELECT by primary key as
// GET /api/products/:id, with no auth, no tenant transaction, no logging, no telemetry.
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });
app.get('/health/live', async () => ({ status: 'ok' }));
app.get<{ Params: { id: string } }>('/api/products/:id', async (request, reply) => {
  const { rows } = await pool.query(
    `SELECT id, name, price_cents, stock, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at FROM products WHERE id = $1`,
    [request.params.id],
  );
  return rows[0] ?? reply.code(404).send({ error: 'not_found' });
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.once(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0)),
);
