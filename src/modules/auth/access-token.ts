// Access tokens: compact JWTs signed with HMAC-SHA256 (JWT_SECRET). Written here rather
// than pulled from a library because the whole job is ~60 lines and the rules matter:
// only `HS256` is accepted (no `none`, no key confusion), signatures are compared in
// constant time, `exp` is required, and claims are checked for shape before use.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Role = 'owner' | 'admin' | 'member';
export const ROLES: readonly Role[] = ['owner', 'admin', 'member'];

export interface AccessClaims {
  tenant_id: string;
  user_id: string;
  role: Role;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

export class AccessTokens {
  private readonly secret: string;
  readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(options: { secret: string; ttlSeconds: number; now?: () => number }) {
    this.secret = options.secret;
    this.ttlSeconds = options.ttlSeconds;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  private sign(input: string): Buffer {
    return createHmac('sha256', this.secret).update(input).digest();
  }

  issue(claims: AccessClaims): string {
    const iat = this.now();
    const payload = Buffer.from(JSON.stringify({ ...claims, iat, exp: iat + this.ttlSeconds })).toString('base64url');
    const input = `${HEADER}.${payload}`;
    return `${input}.${this.sign(input).toString('base64url')}`;
  }

  /** Returns the claims of a valid token or throws InvalidTokenError (never anything else). */
  verify(token: string): AccessClaims {
    const parts = token.split('.');
    if (parts.length !== 3) throw new InvalidTokenError('malformed token');
    const [header, payload, signature] = parts as [string, string, string];
    let parsedHeader: unknown;
    let claims: Record<string, unknown>;
    try {
      parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new InvalidTokenError('malformed token');
    }
    if (typeof parsedHeader !== 'object' || parsedHeader === null || (parsedHeader as { alg?: unknown }).alg !== 'HS256') {
      throw new InvalidTokenError('unsupported algorithm');
    }
    const expected = this.sign(`${header}.${payload}`);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new InvalidTokenError('bad signature');
    if (typeof claims !== 'object' || claims === null) throw new InvalidTokenError('malformed claims');
    if (typeof claims.exp !== 'number' || claims.exp <= this.now()) throw new InvalidTokenError('expired token');
    const { tenant_id, user_id, role } = claims;
    if (typeof tenant_id !== 'string' || !UUID.test(tenant_id) || typeof user_id !== 'string' || !UUID.test(user_id) || !ROLES.includes(role as Role)) {
      throw new InvalidTokenError('malformed claims');
    }
    return { tenant_id, user_id, role: role as Role };
  }
}
