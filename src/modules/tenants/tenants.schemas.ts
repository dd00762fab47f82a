import Type, { type Static } from 'typebox';
import { Uuid } from '../shared/schemas.ts';

export const SIGNUP_SOURCES = ['direct', 'organic', 'referral', 'paid', 'partner', 'api'] as const;

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
export const Password = Type.String({ minLength: 8, maxLength: 128, writeOnly: true });
export const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$', description: '3-63 lowercase letters, digits and dashes' });

export const SignupBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    slug: Slug,
    email: Email,
    password: Password,
    source: Type.Optional(
      Type.Union(
        SIGNUP_SOURCES.map((s) => Type.Literal(s)),
        { description: 'where the signup came from (a fixed set, so metrics stay bounded)' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SignupBody = Static<typeof SignupBody>;

export const TenantSchema = Type.Object({ id: Uuid, name: Type.String(), slug: Type.String() });

export const SignupResponse = Type.Object({
  tenant: TenantSchema,
  user: Type.Object({ id: Uuid, email: Type.String(), role: Type.Literal('owner') }),
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
});
