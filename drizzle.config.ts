// drizzle-kit generates plain SQL migrations from src/platform/db/schema.ts into
// db/migrations/; they are committed and reviewed. Never `drizzle-kit push`.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/platform/db/schema.ts',
  out: './db/migrations',
});
