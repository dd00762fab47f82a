// The logs' redaction rule applied to what Sentry sends: every place of an event that can
// carry a secret (request headers, cookies, body, query string and URL, breadcrumbs, extra,
// contexts, tags, exception messages, frame variables and source lines, spans) loses it, and
// what is not secret arrives unchanged. The events are built the way Sentry lays them out;
// the sentry test file checks the same on the wire.
import { describe, expect, it } from 'vitest';
import type { ErrorEvent } from '@sentry/node';
import { redactBreadcrumb, redactEvent, redactQueryString, redactSpan, redactText, redactUrl } from '../../src/observability/errors/sentry-redaction.ts';

const S = 'planted-secret-value';

describe('redaction of what Sentry sends', () => {
  it('redacts secret pairs in free text, whatever comes before them, and keeps the rest', () => {
    expect(redactText(`charge failed: password=${S} for order 7`)).toBe('charge failed: password=[REDACTED] for order 7');
    expect(redactText(`{"user":"ann","Password":"${S} with spaces","n":1}`)).toBe('{"user":"ann","Password":"[REDACTED]","n":1}');
    expect(redactText(`auth failed (api_key: ${S}); retrying`)).toBe('auth failed (api_key: [REDACTED]); retrying');
    expect(redactText(`GET /x?page=2&token=${S}&sort=asc`)).toBe('GET /x?page=2&token=[REDACTED]&sort=asc');
    expect(redactText(`header Authorization: Bearer ${S}.abc-def`)).not.toContain(S);
    expect(redactText(`config.jwt_secret=${S}`)).toBe('config.jwt_secret=[REDACTED]');
    expect(redactText('status=500 route=/api/orders/:id')).toBe('status=500 route=/api/orders/:id');
  });

  it('redacts query strings by their decoded keys and URLs with credentials', () => {
    expect(redactQueryString(`a=1&access%5Ftoken=${S}&b=2`)).toBe('a=1&access%5Ftoken=[REDACTED]&b=2');
    expect(redactUrl(`https://user:${S}@api.example.com/v1/x?API_KEY=${S}#frag`)).toBe('https://[REDACTED]@api.example.com/v1/x?API_KEY=[REDACTED]#frag');
    expect(redactUrl('/api/orders/42')).toBe('/api/orders/42');
  });

  it('leaves nothing secret anywhere in an event, and the harmless parts as they were', () => {
    const event: ErrorEvent = {
      type: undefined,
      event_id: 'e1',
      message: `failed with secret=${S}`,
      transaction: `POST /login?password=${S}`,
      request: {
        url: `http://localhost/login?token=${S}`,
        method: 'POST',
        headers: { Authorization: `Bearer ${S}`, 'X-Custom': `token=${S}`, 'content-type': 'application/json', Cookie: `sid=${S}` },
        cookies: { sid: S },
        query_string: `token=${S}&page=2`,
        data: JSON.stringify({ email: 'a@b.c', password: S, nested: { credit_card: S } }),
        env: { REMOTE_ADDR: '127.0.0.1' },
      },
      breadcrumbs: [
        { category: 'http', message: `GET https://api.test/x?api_key=${S}`, data: { url: `https://api.test/x?api_key=${S}`, status_code: 200 } },
        { category: 'log', data: { auth_token: S, note: `ssn: ${S}` } },
      ],
      extra: { payload: { password: S }, list: [{ token: S }], text: `cookie=${S}` },
      contexts: { trace: { trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) }, Error: { api_key: S, code: 'E1' } },
      tags: { route: '/login', note: `secret=${S}` },
      user: { id: 'u1', email: 'a@b.c', ip_address: '10.0.0.1', username: 'ann' },
      exception: {
        values: [
          {
            type: 'Error',
            value: `login failed: password=${S}`,
            stacktrace: { frames: [{ filename: 'x.ts', vars: { password: S, n: 1 }, context_line: `const token = "${S}"`, pre_context: [`secret: '${S}'`] }] },
          },
        ],
      },
    };
    const out = redactEvent(structuredClone(event));
    expect(JSON.stringify(out)).not.toContain(S);
    expect(out.request?.query_string).toBe('token=[REDACTED]&page=2');
    expect(JSON.parse(String(out.request?.data))).toEqual({ email: 'a@b.c', password: '[REDACTED]', nested: { credit_card: '[REDACTED]' } });
    expect(out.request?.headers).toMatchObject({ Authorization: '[REDACTED]', 'content-type': 'application/json', Cookie: '[REDACTED]' });
    expect(out.request?.cookies).toEqual({ sid: '[REDACTED]' });
    expect(out.contexts?.trace).toEqual({ trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) });
    expect(out.contexts?.Error).toEqual({ api_key: '[REDACTED]', code: 'E1' });
    expect(out.user).toEqual({ id: 'u1' });
    expect(out.tags?.route).toBe('/login');
    expect(out.exception?.values?.[0]?.value).toBe('login failed: password=[REDACTED]');
    expect(out.breadcrumbs?.[0]?.data).toEqual({ url: 'https://api.test/x?api_key=[REDACTED]', status_code: 200 });
    // The input is not modified (the SDK may hold references to its parts).
    expect(JSON.stringify(event)).toContain(S);
  });

  it('redacts breadcrumbs as they are recorded and spans of Sentry tracing', () => {
    expect(JSON.stringify(redactBreadcrumb({ message: `token=${S}`, data: { password: S, url: `/x?secret=${S}` } }))).not.toContain(S);
    const span = redactSpan({
      name: `GET /x?token=${S}`,
      attributes: {
        'url.full': `http://h/x?token=${S}&a=1`,
        'url.query': `token=${S}&a=1`,
        'http.request.header.authorization': [`Bearer ${S}`],
        'http.request.header.cookie': [`sid=${S}`],
        'http.response.status_code': 200,
      },
    });
    expect(JSON.stringify(span)).not.toContain(S);
    expect(span.attributes['url.query']).toBe('token=[REDACTED]&a=1');
    expect(span.attributes['http.response.status_code']).toBe(200);
  });
});
