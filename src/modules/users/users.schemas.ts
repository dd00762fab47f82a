import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from '../shared/schemas.ts';
import { Email, Password, TenantSchema } from '../tenants/tenants.schemas.ts';

export const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);

export const UserSchema = Type.Object({ id: Uuid, email: Type.String(), role: RoleSchema, created_at: Timestamp });

export const CreateUserBody = Type.Object(
  {
    email: Email,
    password: Password,
    role: Type.Union([Type.Literal('admin'), Type.Literal('member')], { description: 'never above the caller’s own role' }),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const MeResponse = Type.Object({
  user: Type.Object({ id: Uuid, email: Type.String(), role: RoleSchema }),
  tenant: TenantSchema,
});
