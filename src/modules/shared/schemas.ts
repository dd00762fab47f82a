// Schemas shared by every module: the error body, ids, pagination.
import Type, { type TSchema } from 'typebox';

// The pattern as well as the format: ajv's uuid format also accepts a `urn:uuid:` prefix, which Postgres does not.
const uuid = (description = 'UUID') =>
  Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description });
export const Uuid = uuid();
export const Timestamp = Type.String({ format: 'date-time' });

export const ErrorResponse = Type.Object(
  {
    error: Type.String({ description: 'stable snake_case code', examples: ['validation_error'] }),
    message: Type.String(),
    request_id: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ field: Type.Optional(Type.String()), message: Type.String() }, { additionalProperties: true }))),
  },
  { $id: 'ErrorResponse', description: 'Every error has this shape' },
);

export const ErrorRef = Type.Ref('ErrorResponse');

/** Error responses a route may give, for the OpenAPI description. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorRef]));

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const DEFAULT_PAGE_LIMIT = 20;

/** A list query's limit: the validator has filled in the default, the type cannot know it. */
export const pageLimit = (query: { limit?: number }): number => query.limit ?? DEFAULT_PAGE_LIMIT;

export const ListQuery = Type.Object(
  {
    // Optional for the caller (the OpenAPI document says so, and generated clients let it out);
    // validation fills in the default, so a handler always sees a number (pageLimit).
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_PAGE_LIMIT })),
    cursor: Type.Optional(uuid('next_cursor of the previous page')),
  },
  { additionalProperties: false },
);

export const ListOf = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), next_cursor: Type.Union([Uuid, Type.Null()]) });

export const AuthHeaders = Type.Object({ authorization: Type.Optional(Type.String({ description: 'Bearer <access_token>' })) });

export const bearerSecurity = [{ bearerAuth: [] }];

/** The page and the cursor of the next one, from a query that fetched limit + 1 rows. */
export function page<T extends { id: string }>(rows: T[], limit: number): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}
