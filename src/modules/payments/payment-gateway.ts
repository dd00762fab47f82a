// The payment provider, as the order flow sees it. A charge is keyed by an idempotency key
// (the order id), so asking again after a crash or a timeout never charges twice.

export interface ChargeRequest {
  idempotencyKey: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
}

export type ChargeResult = { status: 'captured'; providerReference: string } | { status: 'declined'; providerReference: string | null; reason: string };

export interface PaymentGateway {
  readonly provider: string;
  charge(request: ChargeRequest): Promise<ChargeResult>;
}

/** The gateway could not be reached or answered nonsense: the charge's outcome is unknown. */
export class PaymentGatewayUnavailableError extends Error {
  override name = 'PaymentGatewayUnavailableError';
}
