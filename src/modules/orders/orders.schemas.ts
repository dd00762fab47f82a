import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from '../shared/schemas.ts';

export const CreateOrderBody = Type.Object(
  {
    items: Type.Array(Type.Object({ product_id: Uuid, quantity: Type.Integer({ minimum: 1, maximum: 1000 }) }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: 50,
    }),
    payment_method: Type.Optional(
      Type.String({
        pattern: '^pm_[A-Za-z0-9_]{1,64}$',
        default: 'pm_card_visa',
        description: 'a payment method token; pm_card_declined and pm_card_insufficient_funds are always declined by the simulator',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateOrderBody = Static<typeof CreateOrderBody>;

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x21-\\x7E]+$',
    description: 'a unique key per order attempt: a retry with the same key and body replays the first answer',
  }),
});

export const OrderItemSchema = Type.Object({ product_id: Uuid, name: Type.String(), quantity: Type.Integer(), unit_price_cents: Type.Integer() });

export const PaymentSchema = Type.Object({
  id: Uuid,
  status: Type.Union([Type.Literal('pending'), Type.Literal('captured'), Type.Literal('failed')]),
  failure_reason: Type.Union([Type.String(), Type.Null()]),
});

export const OrderSchema = Type.Object({
  id: Uuid,
  status: Type.Union([Type.Literal('pending'), Type.Literal('paid'), Type.Literal('failed')]),
  total_cents: Type.Integer(),
  currency: Type.String(),
  items: Type.Array(OrderItemSchema),
  payment: PaymentSchema,
  created_at: Timestamp,
});
export type OrderView = Static<typeof OrderSchema>;
