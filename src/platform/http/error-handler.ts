// The one error handler: maps every error to the CONTRACT's body
// {"error","message","request_id"[,"details"]} (built by app-error.ts's errorBody) and a
// status. Only AppErrors and Fastify's own client errors (validation, body size, bad
// JSON…) reach the caller with their text; anything else is a 500 whose body says nothing
// about the cause.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pg from 'pg';
import { AppError, errorBody, type ErrorBodyParts, type ErrorDetail } from './app-error.ts';

/** How an error is answered: its status, its body without the request id, extra headers. */
export interface ClassifiedError extends Omit<ErrorBodyParts, 'requestId'> {
  status: number;
  headers?: Record<string, string>;
}

/** Fastify's client-error codes we answer with a fixed code and message of ours. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Unsupported content type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'Body is empty but content-type is application/json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', message: 'Body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_request', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'invalid_request', message: 'Invalid content type' },
  FST_ERR_BAD_URL: { status: 400, code: 'invalid_request', message: 'Malformed URL' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long', message: 'A path parameter is too long' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'invalid_request', message: 'Invalid request' },
};

/**
 * Postgres data exceptions that a request's own values cause when the schema let them
 * through: text that is not a valid uuid or integer for the column (ajv accepts
 * "urn:uuid:…" as a uuid and coerces "Infinity" to a number), a NUL byte in text, a number
 * out of the column's range. They are the caller's fault: 400, never a 500.
 */
const PG_INPUT_ERRORS = new Set([
  '22P02', // invalid_text_representation
  '22021', // character_not_in_repertoire (NUL bytes)
  '22P05', // untranslatable_character
  '22003', // numeric_value_out_of_range
  '22001', // string_data_right_truncation
  '22007', // invalid_datetime_format
  '22008', // datetime_field_overflow
]);

function validationDetails(error: FastifyError): ErrorDetail[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).slice(0, 20).map((v) => {
    const params = v.params as Record<string, unknown> | undefined;
    const extra = params?.missingProperty ?? params?.additionalProperty;
    const path = `${v.instancePath}${extra ? `/${String(extra)}` : ''}`;
    return { field: `${context}${path.replaceAll('/', '.')}`, message: v.message ?? 'is invalid' };
  });
}

export function classify(error: FastifyError | AppError | Error): ClassifiedError {
  if (error instanceof AppError) {
    return {
      status: error.statusCode,
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      ...(error.headers ? { headers: error.headers } : {}),
    };
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    return { status: 400, code: 'validation_error', message: 'Request validation failed', details: validationDetails(fe) };
  }
  const known = fe.code ? FASTIFY_CLIENT_ERRORS[fe.code] : undefined;
  if (known) return { status: known.status, code: known.code, message: known.message };
  // JSON.parse errors and prototype poisoning ("forbidden prototype property") arrive as 400s without a code.
  if (fe.statusCode === 400 && (error instanceof SyntaxError || /prototype|constructor/i.test(error.message))) {
    return { status: 400, code: 'invalid_json', message: 'Body is not valid JSON or contains forbidden keys' };
  }
  if (error instanceof pg.DatabaseError && error.code && PG_INPUT_ERRORS.has(error.code)) {
    return { status: 400, code: 'invalid_value', message: 'A value in the request is not valid for this field' };
  }
  if (fe.statusCode === 429) {
    return { status: 429, code: 'too_many_requests', message: 'Too many requests' };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: 'invalid_request', message: 'Invalid request' };
  }
  return { status: 500, code: 'internal_server_error', message: 'Internal server error' };
}

/**
 * For Fastify's `frameworkErrors` option. Errors raised before routing (a malformed
 * percent-escape in the URL, a path parameter over maxParamLength) skip the error handler
 * and the onRequest hooks; without this they answer Fastify's own body and no x-request-id.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const { status, headers, ...answer } = classify(error);
  request.log.info({ error_code: answer.code, reason: error.message }, 'request_rejected');
  if (headers) void reply.headers(headers);
  return reply
    .code(status)
    .header('x-request-id', request.id)
    .send(errorBody({ requestId: request.id, ...answer }));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, headers, ...answer } = classify(error);
    if (status >= 500) request.log.error({ error }, 'request_failed');
    else if (error instanceof pg.DatabaseError) request.log.warn({ error_code: answer.code, sqlstate: error.code, reason: error.message }, 'request_rejected');
    else if (!(error instanceof AppError)) request.log.info({ error_code: answer.code, reason: error.message }, 'request_rejected');
    if (headers) void reply.headers(headers);
    return reply.code(status).send(errorBody({ requestId: request.id, ...answer }));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody({ requestId: request.id, code: 'not_found', message: `Route ${request.method} ${request.url.split('?')[0]} not found` })),
  );
}
