// Errors the API answers with on purpose. Each carries the HTTP status and the stable
// snake_case code of the CONTRACT's error body; anything else becomes a 500.

export interface ErrorDetail {
  field?: string;
  message: string;
  [key: string]: unknown;
}

/** The CONTRACT's error body: `{"error","message","request_id"[,"details"]}`. */
export interface ErrorBody {
  error: string;
  message: string;
  request_id: string;
  details?: ErrorDetail[];
}

/** What an error answer says, before it is tied to a request. */
export interface ErrorBodyParts {
  requestId: string;
  code: string;
  message: string;
  details?: ErrorDetail[] | undefined;
}

/**
 * Builds every error body: the error handler's, the not-found handler's and the 402 the
 * order settlement stores for replays. Free of Fastify so the settlement (which has a
 * request id, not a request) uses it too, and the shape is defined once. The key order is
 * fixed here because a stored body is replayed byte for byte.
 */
export function errorBody(parts: ErrorBodyParts): ErrorBody {
  const body: ErrorBody = { error: parts.code, message: parts.message, request_id: parts.requestId };
  if (parts.details) body.details = parts.details;
  return body;
}

export class AppError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(statusCode: number, code: string, message: string, options: { details?: ErrorDetail[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers;
  }
}

export const badRequest = (code: string, message: string, details?: ErrorDetail[]) => new AppError(400, code, message, details ? { details } : {});
export const unauthorized = (message = 'Authentication required', code = 'unauthorized') => new AppError(401, code, message);
export const forbidden = (message = 'You may not perform this action') => new AppError(403, 'forbidden', message);
export const notFound = (what = 'Resource') => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: ErrorDetail[]) => new AppError(409, code, message, details ? { details } : {});
export const tooManyRequests = (retryAfterSeconds: number, message = 'Too many requests', code = 'too_many_requests') =>
  new AppError(429, code, message, { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
export const serviceUnavailable = (code: string, message: string) => new AppError(503, code, message);
