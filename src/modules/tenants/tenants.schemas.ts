import Type, { type Static } from 'typebox';
import { Uuid } from '../shared/schemas.ts';
import { KNOWN_SIGNUP_SOURCES } from './signup-source.ts';

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
export const Password = Type.String({ minLength: 8, maxLength: 128, writeOnly: true });
export const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$', description: '3-63 lowercase letters, digits and dashes' });
// Any short label is welcome (a campaign, a podcast…); the bound and the charset only keep
// junk, markup and control characters out of the stored value and the logs.
export const SignupSource = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  description: `where the signup came from: 1-64 letters, digits, dots, dashes and underscores, stored as given; metrics count ${KNOWN_SIGNUP_SOURCES.join(', ')} by name and any other label as "other"`,
  examples: ['referral', 'podcast'],
});

export const SignupBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    slug: Slug,
    email: Email,
    password: Password,
    source: Type.Optional(SignupSource),
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
