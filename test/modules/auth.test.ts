// Signup, login, the login throttle and bearer-token authentication, through the real app;
// then AccessTokens and password hashing on their own.
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokens, InvalidTokenError, type AccessClaims } from '../../src/modules/auth/access-token.ts';
import { hashPassword, verifyPassword } from '../../src/modules/auth/password.ts';
import { bearer, createUser, login, signup, unique, type Tenant } from '../helpers/api.ts';
import { apiClient, result } from '../helpers/client.ts';
import { backend, startTestApp, TEST_JWT_SECRET, type TestApp } from '../helpers/test-app.ts';
import { UUID } from '../helpers/assertions.ts';
import { diff, scrape, seriesKey } from '../helpers/metrics.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe(`auth (${backend})`, () => {
  let t: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await startTestApp();
    tenant = await signup(t.app);
  });
  afterAll(async () => t?.close());

  /** The parsed and raw log lines of one request, found by the x-request-id we sent. */
  const logsOf = (requestId: string) => ({
    lines: t.logs.lines.filter((l) => l.request_id === requestId),
    raw: t.logs.raw.filter((l) => l.includes(requestId)),
  });

  const loginWithId = (body: Record<string, unknown>) => {
    const requestId = `login-${randomUUID()}`;
    return result(apiClient(t.app).POST('/api/auth/login', { body: body as never, headers: { 'x-request-id': requestId } })).then((res) => ({
      res,
      requestId,
    }));
  };

  const expectError = (res: { statusCode: number; json: () => Record<string, unknown> }, status: number, code: string) => {
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.error).toBe(code);
    expect(typeof body.message).toBe('string');
    expect(typeof body.request_id).toBe('string');
    return body;
  };

  describe('signup', () => {
    it('creates the tenant and its owner and returns a working token (201)', async () => {
      const slug = unique('signup');
      const res = await result(
        apiClient(t.app).POST('/api/tenants', {
          body: { name: 'Signup Co', slug, email: `Owner@${slug}.TEST`, password: 'correct horse battery', source: 'referral' },
        }),
      );
      expect(res.statusCode).toBe(201);
      const body = res.json();
      expect(body).toEqual({
        tenant: { id: expect.stringMatching(UUID), name: 'Signup Co', slug },
        user: { id: expect.stringMatching(UUID), email: `owner@${slug}.test`, role: 'owner' },
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: t.config.JWT_TTL_SECONDS,
      });
      const me = await result(apiClient(t.app, body.access_token).GET('/api/me'));
      expect(me.statusCode).toBe(200);
      expect(me.json()).toEqual({
        user: { id: body.user.id, email: `owner@${slug}.test`, role: 'owner' },
        tenant: { id: body.tenant.id, name: 'Signup Co', slug },
      });
    });

    it('answers 409 slug_taken for a slug already in use', async () => {
      const res = await result(
        apiClient(t.app).POST('/api/tenants', { body: { name: 'Copycat', slug: tenant.slug, email: 'someone@else.test', password: 'another password' } }),
      );
      expectError(res, 409, 'slug_taken');
    });

    const valid = () => {
      const slug = unique('valid');
      return { name: 'Valid', slug, email: `a@${slug}.test`, password: 'long enough password' };
    };
    const invalidBodies: [string, (b: Record<string, unknown>) => Record<string, unknown>][] = [
      ['a missing password', ({ password: _p, ...rest }) => rest],
      ['a short password', (b) => ({ ...b, password: 'short' })],
      ['a malformed e-mail', (b) => ({ ...b, email: 'not-an-email' })],
      ['a slug with capitals and spaces', (b) => ({ ...b, slug: 'Bad Slug' })],
      ['an empty name', (b) => ({ ...b, name: '' })],
      ['an empty source', (b) => ({ ...b, source: '' })],
      ['a source over 64 characters', (b) => ({ ...b, source: 'x'.repeat(65) })],
      ['a source with markup and spaces', (b) => ({ ...b, source: '<script>alert(1)</script> hi' })],
      ['a source with a newline', (b) => ({ ...b, source: 'podcast\nlevel=fatal' })],
      ['a source that is not a string', (b) => ({ ...b, source: ['podcast'] })],
      ['a tenant_id chosen by the caller', (b) => ({ ...b, tenant_id: randomUUID() })],
      ['a role chosen by the caller', (b) => ({ ...b, role: 'admin' })],
      ['an object as the name', (b) => ({ ...b, name: { nested: true } })],
    ];
    it.each(invalidBodies)('rejects %s with 400 validation_error and details', async (_what, mutate) => {
      const res = await result(apiClient(t.app).POST('/api/tenants', { body: mutate(valid()) as never }));
      const body = expectError(res, 400, 'validation_error');
      expect(Array.isArray(body.details)).toBe(true);
      const details = body.details as { field?: string; message: string }[];
      expect(details.length).toBeGreaterThan(0);
      for (const d of details) {
        expect(typeof d.message).toBe('string');
        expect(d.field).toMatch(/^body/);
      }
    });

    describe('source', () => {
      /** Signs up with `source` (or none); the answer, the stored signup_source, and the user_signups_total series it moved. */
      const signupWith = async (source?: string) => {
        const slug = unique('source');
        const before = await scrape(t.app);
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/tenants',
          payload: { name: 'Source Co', slug, email: `owner@${slug}.test`, password: 'correct horse battery', ...(source === undefined ? {} : { source }) },
        });
        const counted = diff(before, await scrape(t.app), 'user_signups_total');
        expect(res.statusCode, res.body).toBe(201);
        const tenantId = res.json().tenant.id as string;
        const { rows } = await t.deps.db.withTenant(tenantId, (tx) =>
          tx.query<{ signup_source: string }>('SELECT signup_source FROM tenants WHERE id = $1', [tenantId]),
        );
        return { tenantId, stored: rows[0]?.signup_source, counted };
      };

      it('accepts an unknown label (201), stores it as given and counts it as source="other"', async () => {
        const { tenantId, stored, counted } = await signupWith('podcast');
        expect(stored).toBe('podcast');
        expect(counted).toEqual({ [seriesKey('user_signups_total', { tenant_id: tenantId, source: 'other' })]: 1 });
        const line = t.logs.find('tenant_signed_up').find((l) => l.tenant_id === tenantId);
        expect(line).toMatchObject({ source: 'podcast' });
      });

      it.each(['referral', 'partner', 'api'])('counts the known label %s as itself', async (source) => {
        const { tenantId, stored, counted } = await signupWith(source);
        expect(stored).toBe(source);
        expect(counted).toEqual({ [seriesKey('user_signups_total', { tenant_id: tenantId, source })]: 1 });
      });

      it('counts a known label in another case as the known one, and stores it as given', async () => {
        const { tenantId, stored, counted } = await signupWith('Referral');
        expect(stored).toBe('Referral');
        expect(counted).toEqual({ [seriesKey('user_signups_total', { tenant_id: tenantId, source: 'referral' })]: 1 });
      });

      it('takes "direct" without a source', async () => {
        const { tenantId, stored, counted } = await signupWith();
        expect(stored).toBe('direct');
        expect(counted).toEqual({ [seriesKey('user_signups_total', { tenant_id: tenantId, source: 'direct' })]: 1 });
      });

      it('accepts a label of exactly 64 characters of the allowed set', async () => {
        const label = `utm.campaign_2026-${'x'.repeat(64 - 18)}`;
        expect(label).toHaveLength(64);
        const { stored } = await signupWith(label);
        expect(stored).toBe(label);
      });
    });

    it('rejects a body that is not an object', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/tenants', payload: '[]', headers: { 'content-type': 'application/json' } });
      expectError(res, 400, 'validation_error');
    });
  });

  describe('login', () => {
    it('returns a token that works on /api/me and logs user_login_successful with the ids', async () => {
      const { res, requestId } = await loginWithId({ tenant: tenant.slug, email: tenant.email, password: tenant.password });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: t.config.JWT_TTL_SECONDS });
      const me = await result(apiClient(t.app, body.access_token).GET('/api/me'));
      expect(me.statusCode).toBe(200);
      expect(me.json().user).toEqual({ id: tenant.userId, email: tenant.email, role: 'owner' });

      const { lines, raw } = logsOf(requestId);
      const success = lines.filter((l) => l.message === 'user_login_successful');
      expect(success).toHaveLength(1);
      expect(success[0]).toMatchObject({ level: 'info', tenant_id: tenant.tenantId, user_id: tenant.userId, request_id: requestId });
      for (const line of raw) expect(line).not.toContain(tenant.password);
      for (const line of raw) expect(line).not.toContain(body.access_token);
    });

    it('treats the e-mail case-insensitively', async () => {
      const res = await login(t.app, tenant.slug, tenant.email.toUpperCase(), tenant.password);
      expect(res.statusCode).toBe(200);
    });

    const failures: [string, string, (x: Tenant) => Record<string, unknown>][] = [
      ['a wrong password', 'wrong_password', (x) => ({ tenant: x.slug, email: x.email, password: 'planted-wrong-password-1' })],
      ['an unknown e-mail', 'unknown_user', (x) => ({ tenant: x.slug, email: `nobody@${x.slug}.test`, password: 'planted-wrong-password-2' })],
      ['an unknown tenant', 'unknown_tenant', (x) => ({ tenant: unique('ghost'), email: x.email, password: 'planted-wrong-password-3' })],
    ];
    it.each(failures)('answers %s with 401 invalid_credentials and logs user_login_failed without the password', async (_what, reason, body) => {
      const payload = body(tenant);
      const { res, requestId } = await loginWithId(payload);
      const error = expectError(res, 401, 'invalid_credentials');
      // The same answer for every cause: nothing tells a caller which part was wrong.
      expect(error.message).toBe('Invalid tenant, e-mail or password');

      const { lines, raw } = logsOf(requestId);
      const failed = lines.filter((l) => l.message === 'user_login_failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ level: 'warn', reason });
      if (reason !== 'unknown_tenant') expect(failed[0]!.tenant_id).toBe(tenant.tenantId);
      expect(raw.length).toBeGreaterThan(0);
      for (const line of t.logs.raw) expect(line).not.toContain(payload.password as string);
    });

    it('refuses an account with 429 and Retry-After after 5 failures, even with the right password, while another account still logs in', async () => {
      const owner = await signup(t.app);
      const other = await createUser(t.app, owner, 'member');
      for (let i = 0; i < 5; i++) {
        const res = await login(t.app, owner.slug, owner.email, `wrong password ${i}`);
        expectError(res, 401, 'invalid_credentials');
      }
      const { res, requestId } = await loginWithId({ tenant: owner.slug, email: owner.email, password: owner.password });
      expectError(res, 429, 'too_many_login_attempts');
      const retryAfter = res.headers['retry-after'];
      expect(String(retryAfter)).toMatch(/^\d+$/);
      expect(Number(retryAfter)).toBeGreaterThan(0);
      expect(Number(retryAfter)).toBeLessThanOrEqual(900);
      expect(logsOf(requestId).lines.find((l) => l.message === 'user_login_failed')).toMatchObject({ reason: 'too_many_failures' });

      // The e-mail's case does not give a fresh counter.
      expect((await login(t.app, owner.slug, owner.email.toUpperCase(), owner.password)).statusCode).toBe(429);
      // Another account of the same tenant is not affected.
      expect((await login(t.app, owner.slug, other.email, 'member password')).statusCode).toBe(200);
    });

    it('resets the failure count after a successful login', async () => {
      const owner = await signup(t.app);
      // 3 + 3 failures: without the reset the sixth attempt would already be refused with 429.
      for (let i = 0; i < 3; i++) expect((await login(t.app, owner.slug, owner.email, 'wrong password')).statusCode).toBe(401);
      expect((await login(t.app, owner.slug, owner.email, owner.password)).statusCode).toBe(200);
      for (let i = 0; i < 3; i++) expect((await login(t.app, owner.slug, owner.email, 'wrong password')).statusCode).toBe(401);
      expect((await login(t.app, owner.slug, owner.email, owner.password)).statusCode).toBe(200);
    });

    it('rejects a malformed login body with 400 validation_error', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { tenant: tenant.slug, email: tenant.email } });
      expectError(res, 400, 'validation_error');
    });
  });

  describe('bearer tokens', () => {
    let memberToken: string;
    let memberClaims: AccessClaims;
    beforeAll(async () => {
      const member = await createUser(t.app, tenant, 'member');
      memberToken = member.token;
      memberClaims = { tenant_id: tenant.tenantId, user_id: member.id, role: 'member' };
    });

    const me = (authorization?: string) => t.app.inject({ url: '/api/me', headers: authorization === undefined ? {} : { authorization } });

    it('accepts the genuine token', async () => {
      expect((await me(`Bearer ${memberToken}`)).statusCode).toBe(200);
    });

    it('answers 401 unauthorized without an Authorization header', async () => {
      expectError(await me(), 401, 'unauthorized');
    });

    const forgeries: [string, () => string][] = [
      ['an unsigned token (alg "none")', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...memberClaims, role: 'owner', exp: 4_102_444_800 })}.`],
      [
        'an alg "none" token that keeps a signature',
        () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...memberClaims, exp: 4_102_444_800 })}.${memberToken.split('.')[2]}`,
      ],
      [
        'a token signed with another key',
        () => new AccessTokens({ secret: 'another-secret-that-is-long-enough-9876543210', ttlSeconds: 3600 }).issue(memberClaims),
      ],
      [
        'a token whose claims were edited (member → owner) with the original signature',
        () => {
          const [header, payload, signature] = memberToken.split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
          expect(claims.role).toBe('member');
          return `${header}.${b64({ ...claims, role: 'owner' })}.${signature}`;
        },
      ],
      [
        'an expired token',
        () => {
          const past = Math.floor(Date.now() / 1000) - 7200;
          return new AccessTokens({ secret: TEST_JWT_SECRET, ttlSeconds: 60, now: () => past }).issue(memberClaims);
        },
      ],
      ['garbage', () => 'garbage'],
      ['three garbage segments', () => 'a.b.c'],
      ['a truncated token', () => memberToken.slice(0, -5)],
      ['a token with an empty signature', () => `${memberToken.split('.').slice(0, 2).join('.')}.`],
    ];
    it.each(forgeries)('answers %s with 401 invalid_token', async (_what, forge) => {
      const res = await me(`Bearer ${forge()}`);
      expectError(res, 401, 'invalid_token');
    });

    it.each([
      ['the Basic scheme', () => `Basic ${Buffer.from('owner:password').toString('base64')}`],
      ['a bare token without a scheme', () => memberToken],
      ['an empty bearer', () => 'Bearer '],
      ['a bearer with spaces inside', () => `Bearer ${memberToken} extra`],
    ])('answers %s with 401 invalid_token', async (_what, header) => {
      expectError(await me(header()), 401, 'invalid_token');
    });

    it('answers a forged owner token with 401 on a write route too, creating nothing', async () => {
      const forged = new AccessTokens({ secret: 'another-secret-that-is-long-enough-9876543210', ttlSeconds: 3600 }).issue({ ...memberClaims, role: 'owner' });
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/users',
        headers: bearer(forged),
        payload: { email: `x@${tenant.slug}.test`, password: 'password 123', role: 'admin' },
      });
      expectError(res, 401, 'invalid_token');
    });
  });
});

describe('AccessTokens', () => {
  const claims: AccessClaims = { tenant_id: randomUUID(), user_id: randomUUID(), role: 'admin' };
  const now = 1_800_000_000;
  const tokens = new AccessTokens({ secret: TEST_JWT_SECRET, ttlSeconds: 600, now: () => now });

  it('issues a compact HS256 JWT whose claims verify back', () => {
    const token = tokens.issue(claims);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toEqual({ ...claims, iat: now, exp: now + 600 });
    expect(signature.length).toBeGreaterThan(0);
    expect(tokens.verify(token)).toEqual(claims);
  });

  it('accepts a token until exp and refuses it from exp on', () => {
    const token = tokens.issue(claims);
    expect(new AccessTokens({ secret: TEST_JWT_SECRET, ttlSeconds: 600, now: () => now + 599 }).verify(token)).toEqual(claims);
    expect(() => new AccessTokens({ secret: TEST_JWT_SECRET, ttlSeconds: 600, now: () => now + 600 }).verify(token)).toThrow(InvalidTokenError);
  });

  it('refuses a token signed with another secret', () => {
    const other = new AccessTokens({ secret: 'x'.repeat(40), ttlSeconds: 600, now: () => now });
    expect(() => tokens.verify(other.issue(claims))).toThrow(InvalidTokenError);
  });

  const sign = (header: unknown, payload: unknown) => {
    // Signs arbitrary content with the right key, to prove the checks after the signature.
    const h = b64(header);
    const p = b64(payload);
    return `${h}.${p}.${createHmac('sha256', TEST_JWT_SECRET).update(`${h}.${p}`).digest('base64url')}`;
  };

  it.each([
    ['alg none', { alg: 'none' }, { ...claims, exp: now + 60 }],
    ['alg HS512', { alg: 'HS512', typ: 'JWT' }, { ...claims, exp: now + 60 }],
    ['a header that is not an object', 'HS256', { ...claims, exp: now + 60 }],
    ['no exp', { alg: 'HS256', typ: 'JWT' }, { ...claims }],
    ['a string exp', { alg: 'HS256', typ: 'JWT' }, { ...claims, exp: String(now + 60) }],
    ['an unknown role', { alg: 'HS256', typ: 'JWT' }, { ...claims, role: 'superuser', exp: now + 60 }],
    ['a tenant_id that is not a UUID', { alg: 'HS256', typ: 'JWT' }, { ...claims, tenant_id: "' OR 1=1 --", exp: now + 60 }],
    ['a missing user_id', { alg: 'HS256', typ: 'JWT' }, { tenant_id: claims.tenant_id, role: 'owner', exp: now + 60 }],
    ['a payload that is null', { alg: 'HS256', typ: 'JWT' }, null],
    ['a payload that is a number', { alg: 'HS256', typ: 'JWT' }, 42],
  ])('refuses a correctly signed token with %s', (_what, header, payload) => {
    expect(() => tokens.verify(sign(header, payload))).toThrow(InvalidTokenError);
  });

  it.each(['', 'abc', 'a.b', 'a.b.c.d', '!!!.###.$$$', `${b64({ alg: 'HS256' })}.not-json.sig`])(
    'throws only InvalidTokenError on malformed input %j',
    (input) => {
      expect(() => tokens.verify(input)).toThrow(InvalidTokenError);
    },
  );
});

describe('password hashing', () => {
  it('hashes with scrypt and a random salt, and never stores the password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse battery');
    const [, n, r] = a.split('$');
    expect(Number(n)).toBeGreaterThanOrEqual(2 ** 14); // memory-hard: at least 16 MiB with r=8
    expect(Number(r)).toBeGreaterThanOrEqual(8);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterY', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('handles non-ASCII passwords', async () => {
    const hash = await hashPassword('pässwörd ✓ 密码');
    expect(await verifyPassword('pässwörd ✓ 密码', hash)).toBe(true);
    expect(await verifyPassword('passwort ✓ 密码', hash)).toBe(false);
  });

  it.each(['', 'plain-text', 'bcrypt$10$abc$def', 'scrypt$$8$1$salt$hash', 'scrypt$32768$8$1$salt'])('refuses a malformed stored hash %j', async (stored) => {
    expect(await verifyPassword('anything', stored)).toBe(false);
  });
});
