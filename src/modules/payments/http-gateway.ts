// A payment provider over HTTP (PAYMENT_GATEWAY_URL). The request is
//   POST {base}/v1/charges  Idempotency-Key: <order id>
//   {"amount_cents", "currency", "payment_method", "reference"}
// and the answer {"id", "status": "captured"|"declined", "decline_reason"?} (a 402 also
// means declined). The call has a timeout and is never retried here: a timeout leaves the
// outcome unknown, and the order reconciler asks again later with the same key.
import type { ChargeRequest, ChargeResult, PaymentGateway } from './payment-gateway.ts';
import { PaymentGatewayUnavailableError } from './payment-gateway.ts';

interface ChargeResponse {
  id?: unknown;
  status?: unknown;
  decline_reason?: unknown;
}

const REASON = /^[a-z0-9_]{1,64}$/;

export class HttpPaymentGateway implements PaymentGateway {
  readonly provider = 'http';
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(options: { baseUrl: string; timeoutMs: number }) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    let response: Response;
    let body: ChargeResponse;
    try {
      response = await fetch(`${this.baseUrl}/v1/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': request.idempotencyKey },
        body: JSON.stringify({
          amount_cents: request.amountCents,
          currency: request.currency,
          payment_method: request.paymentMethod,
          reference: request.idempotencyKey,
        }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      body = (await response.json().catch(() => ({}))) as ChargeResponse;
    } catch (error) {
      throw new PaymentGatewayUnavailableError(`payment gateway unreachable: ${(error as Error).name}`, { cause: error });
    }
    const reference = typeof body.id === 'string' ? body.id.slice(0, 200) : null;
    if (response.ok && body.status === 'captured' && reference) return { status: 'captured', providerReference: reference };
    if ((response.ok && body.status === 'declined') || response.status === 402) {
      const reason = typeof body.decline_reason === 'string' && REASON.test(body.decline_reason) ? body.decline_reason : 'card_declined';
      return { status: 'declined', providerReference: reference, reason };
    }
    throw new PaymentGatewayUnavailableError(`payment gateway answered ${response.status}`);
  }
}
