import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from '../shared/schemas.ts';

const Name = Type.String({ minLength: 1, maxLength: 200 });
const PriceCents = Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'price in integer cents (USD)' });
const Stock = Type.Integer({ minimum: 0, maximum: 1_000_000 });

export const ProductSchema = Type.Object({ id: Uuid, name: Type.String(), price_cents: Type.Integer(), stock: Type.Integer(), created_at: Timestamp });

export const CreateProductBody = Type.Object({ name: Name, price_cents: PriceCents, stock: Stock }, { additionalProperties: false });
export type CreateProductBody = Static<typeof CreateProductBody>;

export const UpdateProductBody = Type.Object(
  { name: Type.Optional(Name), price_cents: Type.Optional(PriceCents), stock: Type.Optional(Stock) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateProductBody = Static<typeof UpdateProductBody>;
