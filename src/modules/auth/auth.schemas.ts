import Type, { type Static } from 'typebox';
import { Email, Password, Slug } from '../tenants/tenants.schemas.ts';

export const LoginBody = Type.Object({ tenant: Slug, email: Email, password: Password }, { additionalProperties: false });
export type LoginBody = Static<typeof LoginBody>;

export const TokenResponse = Type.Object({ access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() });
export type TokenResponse = Static<typeof TokenResponse>;
