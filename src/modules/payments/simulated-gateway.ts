// The default gateway: in process, for demos, tests and load tests. It honours the
// providers' usual test tokens (pm_card_declined, pm_card_insufficient_funds), an optional
// latency and a random decline share, and remembers results by idempotency key like a real
// provider, so a repeated charge returns the first result.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChargeRequest, ChargeResult, PaymentGateway } from './payment-gateway.ts';

const DECLINE_TOKENS: Record<string, string> = {
  pm_card_declined: 'card_declined',
  pm_card_insufficient_funds: 'insufficient_funds',
};

export class SimulatedPaymentGateway implements PaymentGateway {
  readonly provider = 'simulator';
  private readonly latencyMs: number;
  private readonly failureRate: number;
  private readonly random: () => number;
  private readonly results = new Map<string, ChargeResult>();
  /** Charges actually made (not replays), for tests and demos. */
  chargesMade = 0;

  constructor(options: { latencyMs?: number; failureRate?: number; random?: () => number } = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.failureRate = options.failureRate ?? 0;
    this.random = options.random ?? Math.random;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const previous = this.results.get(request.idempotencyKey);
    if (previous) return previous;
    this.chargesMade += 1;
    const reference = `sim_${randomUUID()}`;
    const token = DECLINE_TOKENS[request.paymentMethod];
    const result: ChargeResult = token
      ? { status: 'declined', providerReference: reference, reason: token }
      : this.random() < this.failureRate
        ? { status: 'declined', providerReference: reference, reason: 'card_declined' }
        : { status: 'captured', providerReference: reference };
    this.results.set(request.idempotencyKey, result);
    // Bounded memory under load tests: forget the oldest results first.
    if (this.results.size > 100_000) this.results.delete(this.results.keys().next().value!);
    return result;
  }
}
