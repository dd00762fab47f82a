// Assertions shared by the API tests: id and timestamp formats, and the CONTRACT's error body.
import { expect } from 'vitest';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface ErrorBody {
  error: string;
  message: string;
  request_id: string;
  details?: unknown[];
}

/**
 * The answer has `status` and exactly the CONTRACT's error body: JSON, a snake_case `error`
 * equal to `code`, a `message`, the `request_id` of the x-request-id header, and `details`
 * only when present.
 */
/** What expectError reads of an answer: app.inject's and the typed client's (helpers/client.ts) both have it. */
export interface AnswerLike {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
  json(): unknown;
}

export function expectError(res: AnswerLike, status: number, code: string): ErrorBody {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as ErrorBody & { details?: unknown };
  expect(body).toMatchObject({ error: code, message: expect.any(String), request_id: res.headers['x-request-id'] });
  expect(body.error).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(Object.keys(body).sort()).toEqual(body.details ? ['details', 'error', 'message', 'request_id'] : ['error', 'message', 'request_id']);
  return body as ErrorBody;
}
