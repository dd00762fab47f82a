// POST /api/orders, step by step:
//  1. one transaction: claim the Idempotency-Key, lock the products, reserve stock, insert
//     the order (pending) with its items and payment, and enqueue a delayed reconcile job;
//  2. charge the gateway with no transaction open (a slow gateway holds no locks);
//  3. one transaction: record the outcome, mark the order paid (and enqueue the
//     confirmation) or failed (and release the stock), store the answer for replays.
// A crash between 1 and 3 leaves a pending order; the reconcile job settles it later.
import { createHash } from 'node:crypto';
import type { Logger } from '../../observability/logging/logger.ts';
import type { Metrics } from '../../observability/metrics/metrics.ts';
import { withSpan, type Span } from '../../observability/tracing/tracer.ts';
import type { Cache } from '../../platform/cache/cache.ts';
import type { Database, Queryable } from '../../platform/db/database.ts';
import { uuidv7 } from '../../platform/db/ids.ts';
import { AppError, conflict, notFound, serviceUnavailable } from '../../platform/http/app-error.ts';
import type { AccessClaims } from '../auth/access-token.ts';
import { PaymentGatewayUnavailableError, type PaymentGateway } from '../payments/payment-gateway.ts';
import { productsRepository } from '../products/products.repository.ts';
import { page } from '../shared/schemas.ts';
import { idempotencyCache, idempotencyMismatch } from './idempotency-cache.ts';
import { idempotencyRepository } from './idempotency.repository.ts';
import { ORDER_CURRENCY, ordersRepository, type OrderItemInput, type PendingOrder } from './orders.repository.ts';
import type { CreateOrderBody } from './orders.schemas.ts';
import type { StoredResponse, orderSettlement } from './order-settlement.ts';

/** A stable hash of a JSON body: same content, same hash, whatever the key order. */
export function requestHash(body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(body)))
    .digest('hex');
}

/** Same product twice in one order counts as one line with the quantities added. */
function mergeItems(items: CreateOrderBody['items']): Map<string, number> {
  const merged = new Map<string, number>();
  for (const i of items) merged.set(i.product_id, (merged.get(i.product_id) ?? 0) + i.quantity);
  return merged;
}

/** Locks the ordered products and checks they exist and are in stock; throws 404 or 409 otherwise. */
async function validateInventory(tx: Queryable, wanted: Map<string, number>, ids: string[]) {
  const products = await productsRepository.lockForOrder(tx, ids);
  if (products.length !== ids.length) {
    const missing = ids.filter((id) => !products.some((p) => p.id === id));
    throw new AppError(404, 'not_found', 'Product not found', {
      details: missing.map((id) => ({ field: 'items.product_id', message: `product ${id} not found` })),
    });
  }
  const short = products.filter((p) => p.stock < wanted.get(p.id)!);
  if (short.length > 0) {
    throw conflict(
      'insufficient_stock',
      'Not enough stock for this order',
      short.map((p) => ({ field: 'items.quantity', message: `product ${p.id} has ${p.stock} in stock`, product_id: p.id, available: p.stock })),
    );
  }
  return products;
}

export interface OrdersDeps {
  db: Database;
  gateway: PaymentGateway;
  cache: Cache;
  metrics: Metrics;
  settlement: ReturnType<typeof orderSettlement>;
}

/** One POST /api/orders, as the route hands it over. */
export interface CreateOrderRequest {
  auth: AccessClaims;
  idempotencyKey: string;
  body: CreateOrderBody;
  /** Stored with the key, so the reconciler's confirmation carries the original request's id. */
  requestId: string;
  log: Logger;
}

export function ordersService(deps: OrdersDeps) {
  const replays = idempotencyCache(deps);

  async function reserve(auth: AccessClaims, key: string, hash: string, body: CreateOrderBody, requestId: string) {
    return deps.db.withTenant(auth.tenant_id, async (tx) => {
      const existing = await idempotencyRepository.claim(tx, { tenantId: auth.tenant_id, key, requestHash: hash, requestId });
      if (existing) {
        if (existing.request_hash !== hash) throw idempotencyMismatch();
        if (existing.status === 'in_progress' || existing.response_status === null || existing.response_body === null) {
          throw conflict('idempotency_request_in_progress', 'A request with this Idempotency-Key is still being processed; retry later');
        }
        return { replay: { statusCode: existing.response_status, body: existing.response_body } satisfies StoredResponse, order: undefined };
      }

      const wanted = mergeItems(body.items);
      const ids = [...wanted.keys()];
      const products = await withSpan('validate_inventory', { 'order.line_count': ids.length }, () => validateInventory(tx, wanted, ids));
      const items: OrderItemInput[] = products.map((p) => ({ productId: p.id, name: p.name, quantity: wanted.get(p.id)!, unitPriceCents: p.price_cents }));
      const totalCents = items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0);
      if (!Number.isSafeInteger(totalCents) || totalCents > 2_147_483_647) {
        throw new AppError(400, 'order_total_too_large', 'The order total exceeds the maximum amount');
      }
      await productsRepository.adjustStock(
        tx,
        ids,
        ids.map((id) => -wanted.get(id)!),
      );
      const orderId = uuidv7();
      const paymentId = uuidv7();
      const paymentMethod = body.payment_method ?? 'pm_card_visa';
      await ordersRepository.insert(tx, {
        id: orderId,
        tenantId: auth.tenant_id,
        userId: auth.user_id,
        totalCents,
        idempotencyKey: key,
        items,
        paymentId,
        paymentMethod,
        provider: deps.gateway.provider,
      });
      await idempotencyRepository.attachOrder(tx, key, orderId);
      // If this process dies before settling, the order stays pending and the sweeper
      // (orders.jobs.ts) settles it once it is ORDER_RECONCILE_AFTER_SECONDS old.
      // What the charge needs, as just written: handed over instead of read back in a
      // transaction of its own (the settlement re-checks the status under a row lock anyway).
      const order: PendingOrder = {
        id: orderId,
        user_id: auth.user_id,
        status: 'pending',
        total_cents: totalCents,
        currency: ORDER_CURRENCY,
        idempotency_key: key,
        payment_id: paymentId,
        payment_method: paymentMethod,
      };
      return { replay: undefined, order };
    });
  }

  async function processOrder({ auth, idempotencyKey: key, body, requestId, log }: CreateOrderRequest, span: Span) {
    const hash = requestHash(body);
    const cached = await replays.lookup(auth.tenant_id, key, hash);
    if (cached) {
      log.info({ idempotency_key_reused: true, status_code: cached.statusCode, cache: 'hit' }, 'order_replayed');
      return { ...cached, replayed: true };
    }
    const reserved = await reserve(auth, key, hash, body, requestId);
    if (reserved.replay) {
      log.info({ idempotency_key_reused: true, status_code: reserved.replay.statusCode }, 'order_replayed');
      await replays.remember(auth.tenant_id, key, hash, reserved.replay);
      return { ...reserved.replay, replayed: true };
    }
    const { order } = reserved;
    const orderId = order.id;
    span.setAttribute('order.id', orderId);
    log.info({ order_id: orderId }, 'order_created');
    let result;
    try {
      result = await deps.settlement.charge(auth.tenant_id, order);
    } catch (error) {
      if (error instanceof PaymentGatewayUnavailableError) {
        log.error({ order_id: orderId, error }, 'payment_gateway_unavailable');
        throw serviceUnavailable('payment_gateway_unavailable', 'The payment provider is unavailable; the order will be settled automatically');
      }
      throw error;
    }
    const stored = await deps.settlement.record(auth.tenant_id, orderId, result, log);
    if (stored) {
      await replays.remember(auth.tenant_id, key, hash, stored);
      return { ...stored, replayed: false };
    }
    // The reconciler settled it first: answer what it stored.
    const record = await deps.db.withTenant(auth.tenant_id, (tx) => idempotencyRepository.findForOrder(tx, key, orderId));
    if (!record?.response_body || record.response_status === null) throw new Error('settled order has no stored response');
    return { statusCode: record.response_status, body: record.response_body, replayed: false };
  }

  return {
    /** Returns the answer to send, as stored for replays. Traced as `process_order`. */
    create(request: CreateOrderRequest): Promise<StoredResponse & { replayed: boolean }> {
      const attributes = { 'tenant.id': request.auth.tenant_id, 'order.line_count': request.body.items.length };
      return withSpan('process_order', attributes, async (span) => {
        const result = await processOrder(request, span);
        span.setAttributes({ 'http.response.status_code': result.statusCode, 'order.replayed': result.replayed });
        return result;
      });
    },

    async get(auth: AccessClaims, id: string) {
      const order = await deps.db.withTenantRead(auth.tenant_id, (tx) => ordersRepository.view(tx, id));
      if (!order) throw notFound('Order');
      return order;
    },

    async list(auth: AccessClaims, limit: number, cursor?: string) {
      return page(await deps.db.withTenantRead(auth.tenant_id, (tx) => ordersRepository.list(tx, limit, cursor)), limit);
    },
  };
}
