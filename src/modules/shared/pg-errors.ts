// Recognising Postgres errors the API turns into 4xx answers.

/** The name of the unique constraint a statement violated, or undefined for any other error. */
export function uniqueViolation(error: unknown): string | undefined {
  const e = error as { code?: string; constraint?: string };
  return e?.code === '23505' ? (e.constraint ?? 'unique') : undefined;
}
