// Schema-driven fuzzing of the OpenAPI description (issue 2, point 5): for every operation
// under /api and /health, requests are generated from /docs/openapi.json with a small seeded
// PRNG (deterministic: FUZZ_SEED picks another run; names that must be unique in a shared
// database get a per-run tag on top). Bodies start valid and are then mutated (wrong types,
// missing and extra fields, null, huge strings, odd numbers, unicode and NUL, deep nesting,
// prototype keys, invalid JSON, wrong content types); path ids, query strings, Authorization
// and x-request-id headers are varied too. Whatever comes in, the app must answer below 500,
// every 4xx must carry the CONTRACT's error body, no answer to tenant A may mention tenant
// B, and the process must still be alive at the end. A failure lists the request (method,
// URL, the mutations applied) and the seed, so `FUZZ_SEED=<seed>` replays the run;
// FUZZ_PER_OP sets how many requests each operation gets (28 by default).
import { createHmac, randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, createUser, placeOrder, signup, type Tenant } from './helpers/api.ts';
import { backend, startTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/test-app.ts';

// ---------------------------------------------------------------------------------------
// A small deterministic PRNG (mulberry32) and helpers.

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }
  hex(length: number): string {
    let s = '';
    while (s.length < length) s += this.int(0, 15).toString(16);
    return s;
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${this.pick(['8', '9', 'a', 'b'])}${h.slice(17, 20)}-${h.slice(20)}`;
  }
  word(min: number, max: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    const length = this.int(min, max);
    while (s.length < length) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// The OpenAPI document, as far as the fuzzer reads it.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = Record<string, unknown>;
interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, unknown>;
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}
interface Op {
  key: string;
  method: string;
  path: string;
  op: Operation;
  body?: Schema;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'HEAD';

interface FuzzCase {
  route: string;
  label: string;
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** The caller is a user of tenant A: the answer may never mention tenant B. */
  asTenantA: boolean;
  /** The x-request-id sent, when one was. */
  requestId?: string;
}

// ---------------------------------------------------------------------------------------
// The world the fuzzer plays in: tenant A (the caller) and tenant B (the one it must never see).

interface World {
  tag: string;
  A: Tenant;
  B: Tenant;
  adminToken: string;
  memberToken: string;
  /** A's ids by resource, grown as the fuzzer creates things. */
  ids: { users: string[]; products: string[]; orders: string[] };
  /** A product no PATCH touches, so orders of it can succeed. */
  orderable: string;
  /** Every id of tenant B's (and B's tenant id): none may appear in an answer to A. */
  foreign: { users: string[]; products: string[]; orders: string[]; all: string[] };
  idempotencyKeys: string[];
}

const SCRYPT_BOUND = new Set(['POST /api/tenants', 'POST /api/auth/login', 'POST /api/users']);
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch']);
/** JSON.stringify of this string, inside a body's text, is swapped for a raw token (numbers JSON.stringify cannot write). */
const RAW = '\u0001raw\u0001';
const RAW_JSON = JSON.stringify(RAW);
const BODY_KINDS = [
  'valid',
  'wrong_type',
  'missing_required',
  'extra_field',
  'null',
  'huge_string',
  'valid',
  'number',
  'raw_number',
  'unicode',
  'deep',
  'prototype',
  'valid',
  'invalid_json',
  'content_type',
  'top_level',
  'duplicate_key',
  'many',
  'empty',
] as const;

function resolveRef(doc: OpenApi, schema: Schema | undefined): Schema | undefined {
  const ref = schema?.$ref;
  if (typeof ref !== 'string') return schema;
  return resolveRef(doc, doc.components?.schemas?.[ref.replace('#/components/schemas/', '')]);
}

function resourceOf(path: string): keyof World['ids'] {
  if (path.includes('/users')) return 'users';
  if (path.includes('/orders')) return 'orders';
  return 'products';
}

function signToken(payload: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// ---------------------------------------------------------------------------------------
// Generators.

class Fuzzer {
  private readonly rng: Rng;
  private readonly doc: OpenApi;
  private readonly world: World;
  constructor(rng: Rng, doc: OpenApi, world: World) {
    this.rng = rng;
    this.doc = doc;
    this.world = world;
  }

  /** A value valid for `schema`; `field` lets ids and names be realistic. */
  valid(schemaIn: Schema | undefined, field: string): Json {
    const { rng } = this;
    const schema = resolveRef(this.doc, schemaIn) ?? {};
    const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
    if (Array.isArray(branches) && branches.length > 0) return this.valid(rng.pick(branches), field);
    if (Array.isArray(schema.enum)) return rng.pick(schema.enum as Json[]);
    if ('const' in schema) return schema.const as Json;
    const num = (key: string, fallback: number) => (typeof schema[key] === 'number' ? (schema[key] as number) : fallback);
    switch (schema.type) {
      case 'string':
        return this.validString(schema, field);
      case 'integer':
      case 'number': {
        const min = num('minimum', 0);
        const max = num('maximum', min + 1000);
        if (field === 'quantity') return rng.int(min, Math.min(max, min + 2));
        if (field === 'limit') return rng.int(min, max);
        const roll = rng.next();
        const value = roll < 0.15 ? min : roll < 0.3 ? max : rng.int(min, Math.min(max, min + 100_000));
        return schema.type === 'number' && rng.chance(0.3) ? value + 0.5 : value;
      }
      case 'boolean':
        return rng.chance(0.5);
      case 'array': {
        const min = num('minItems', 0);
        const max = Math.min(num('maxItems', min + 3), min + 3);
        return Array.from({ length: rng.int(min, max) }, () => this.valid(schema.items as Schema, field));
      }
      case 'object': {
        const properties = (schema.properties ?? {}) as Record<string, Schema>;
        const required = new Set((schema.required ?? []) as string[]);
        const out: Record<string, Json> = {};
        for (const [name, sub] of Object.entries(properties)) {
          if (required.has(name) || rng.chance(0.5)) out[name] = this.valid(sub, name);
        }
        const minProperties = num('minProperties', 0);
        for (const [name, sub] of Object.entries(properties)) {
          if (Object.keys(out).length >= minProperties) break;
          if (!(name in out)) out[name] = this.valid(sub, name);
        }
        return out;
      }
      default:
        return rng.word(1, 8);
    }
  }

  private validString(schema: Schema, field: string): string {
    const { rng, world } = this;
    const format = schema.format;
    if (format === 'uuid') {
      if (field === 'product_id') return rng.chance(0.8) ? world.orderable : rng.pick(world.ids.products);
      if (field === 'cursor') return rng.pick([...world.ids.users, ...world.ids.products, ...world.ids.orders]);
      return rng.uuid();
    }
    if (format === 'email') return `fz-${world.tag}-${rng.word(4, 8)}@example.test`;
    if (format === 'date-time') return new Date(Date.UTC(2026, 0, rng.int(1, 28))).toISOString();
    if (field === 'slug') return `fz-${world.tag}-${rng.word(4, 10)}`;
    if (field === 'payment_method') return rng.pick(['pm_card_visa', 'pm_card_visa', 'pm_card_mastercard', 'pm_card_declined', 'pm_card_insufficient_funds']);
    if (field === 'idempotency-key') return rng.chance(0.15) ? rng.pick(world.idempotencyKeys) : `fz-${world.tag}-${rng.hex(16)}`;
    if (field === 'tenant') return rng.chance(0.6) ? world.A.slug : `fz-${rng.word(3, 12)}`;
    const min = typeof schema.minLength === 'number' ? schema.minLength : 1;
    const max = typeof schema.maxLength === 'number' ? schema.maxLength : min + 24;
    const value = rng.word(min, Math.min(max, min + 24));
    return typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value) ? rng.word(3, 12) : value;
  }

  /** A realistic body for operations where random values rarely succeed (login with real credentials). */
  knownGood(op: Op, first = false): Json | undefined {
    const { world } = this;
    if (op.key === 'POST /api/auth/login') return { tenant: world.A.slug, email: world.A.email, password: world.A.password };
    if (op.key === 'POST /api/orders') {
      // Paid, declined (402), or more than the other product's stock of 100 (409).
      const roll = first ? 1 : this.rng.next();
      if (roll < 0.2) return { items: [{ product_id: world.ids.products[1]!, quantity: 1000 }] };
      return { items: [{ product_id: world.orderable, quantity: 1 }], payment_method: roll < 0.5 ? 'pm_card_declined' : 'pm_card_visa' };
    }
    return undefined;
  }

  /** Every path to a value inside a JSON value (the root is []). */
  private paths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
    out.push(prefix);
    if (Array.isArray(value)) value.forEach((v, i) => this.paths(v, [...prefix, i], out));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) this.paths(v, [...prefix, k], out);
    return out;
  }

  private setAt(root: Json, path: (string | number)[], replace: (old: Json) => Json | undefined): Json {
    if (path.length === 0) return replace(root) ?? null;
    const copy = structuredClone(root) as Record<string | number, Json>;
    let node: Record<string | number, Json> = copy;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
    const last = path.at(-1)!;
    const next = replace(node[last]!);
    if (next === undefined) {
      if (Array.isArray(node)) node.splice(last as number, 1);
      else delete node[last];
    } else node[last] = next;
    return copy;
  }

  private randomLeafPath(body: Json): (string | number)[] {
    const all = this.paths(body).filter((p) => p.length > 0);
    return all.length > 0 ? this.rng.pick(all) : [];
  }

  private randomObjectPath(body: Json): (string | number)[] {
    const objects = this.paths(body).filter((p) => {
      let node: Json = body;
      for (const k of p) node = (node as Record<string | number, Json>)[k]!;
      return node !== null && typeof node === 'object' && !Array.isArray(node);
    });
    return objects.length > 0 ? this.rng.pick(objects) : [];
  }

  private wrongType(old: Json): Json {
    const { rng } = this;
    const options: Json[] = [42, -1, 3.14, true, false, 'a string', '', [], [1, 'two'], {}, { nested: { deeper: 1 } }, '1', '[]', '{}'];
    return rng.pick(options.filter((o) => typeof o !== typeof old || Array.isArray(o) !== Array.isArray(old)));
  }

  private weirdString(): string {
    const { rng } = this;
    return rng.pick([
      'nul\u0000byte',
      '\u0000',
      'emoji 😀🎉👩‍👩‍👧‍👦',
      'rtl \u202Eevil\u202C',
      'zero\u200Bwidth\uFEFF',
      'combining e\u0301\u0301\u0301',
      'lone \ud800 surrogate',
      'lone \udfff low',
      'İıİı ß ǅ', // case folding traps
      '＜script＞fullwidth',
      '<script>alert(1)</script>',
      "'; DROP TABLE users; --",
      '%00%0d%0a',
      '\r\nX-Injected: 1',
      '\\u0000 literal escape',
      '\u{10FFFF}\u{E000}',
      'tab\tand\nnewline',
      'x'.repeat(rng.int(1, 300)),
    ]);
  }

  /** A body (text) and its content type, for one mutation of a valid body. */
  /** Mutation number `index` (round robin over BODY_KINDS, so every kind reaches every operation). */
  body(op: Op, index: number): { label: string; text?: string; contentType?: string } {
    const { rng, world } = this;
    const base = (rng.chance(0.5) ? this.knownGood(op) : undefined) ?? this.valid(op.body, 'body');
    const json = (value: Json) => JSON.stringify(value);
    const kind = BODY_KINDS[index % BODY_KINDS.length]!;
    switch (kind) {
      case 'valid':
        return { label: 'valid', text: json(base) };
      case 'wrong_type':
        return { label: 'wrong_type', text: json(this.setAt(base, this.randomLeafPath(base), (old) => this.wrongType(old))) };
      case 'missing_required': {
        const path = this.randomLeafPath(base);
        return { label: 'missing_field', text: json(path.length ? this.setAt(base, path, () => undefined) : {}) };
      }
      case 'extra_field': {
        const [key, value] = rng.pick<[string, Json]>([
          ['tenant_id', world.B.tenantId],
          ['id', rng.uuid()],
          ['role', 'owner'],
          ['user_id', world.B.userId],
          ['is_admin', true],
          ['status', 'paid'],
          ['total_cents', 0],
          [rng.word(1, 12), rng.word(1, 12)],
        ]);
        return {
          label: `extra_${key.replace(/[^a-z_]/g, '') || 'key'}`,
          text: json(this.setAt(base, this.randomObjectPath(base), (old) => ({ ...(old as object), [key]: value }))),
        };
      }
      case 'null':
        return rng.chance(0.3)
          ? { label: 'null_body', text: 'null' }
          : { label: 'null_field', text: json(this.setAt(base, this.randomLeafPath(base), () => null)) };
      case 'huge_string': {
        const size = rng.pick([1_000, 100_000, 900_000, 1_100_000, 2_000_000]);
        return { label: `huge_string_${size}`, text: json(this.setAt(base, this.randomLeafPath(base), () => 'x'.repeat(size))) };
      }
      case 'number': {
        const n = rng.pick([
          -1,
          -0,
          0,
          0.5,
          1.5,
          -2147483649,
          2147483647,
          2147483648,
          2 ** 53 + 2,
          Number.MAX_SAFE_INTEGER,
          1e21,
          1e308,
          -1e308,
          5e-324,
          100_000_001,
        ]);
        return { label: 'odd_number', text: json(this.setAt(base, this.randomLeafPath(base), () => n)) };
      }
      case 'raw_number': {
        const token = rng.pick([
          '1e400',
          '-1e400',
          '1.0',
          '1e2',
          '-0',
          '0.1e1',
          '123456789012345678901234567890',
          '9007199254740993',
          '1E-400',
          '0x10',
          'NaN',
          'Infinity',
          '01',
        ]);
        return { label: 'raw_number', text: json(this.setAt(base, this.randomLeafPath(base), () => RAW)).replace(RAW_JSON, token) };
      }
      case 'unicode': {
        const path = this.randomLeafPath(base);
        return { label: 'unicode', text: json(this.setAt(base, path, () => this.weirdString())) };
      }
      case 'deep': {
        const depth = rng.pick([50, 1_000, 10_000, 100_000]);
        const nested = rng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
        const text = rng.chance(0.3) ? nested : json(this.setAt(base, this.randomLeafPath(base), () => RAW)).replace(RAW_JSON, nested);
        return { label: `deep_${depth}`, text };
      }
      case 'prototype': {
        const inner = json(base).slice(1);
        const poison = rng.pick([
          '"__proto__":{"role":"owner","tenant_id":"x"}',
          '"constructor":{"prototype":{"role":"owner"}}',
          '"__proto__":null',
          '"items":[{"__proto__":{"quantity":1}}]',
        ]);
        return {
          label: 'prototype',
          text: typeof base === 'object' && base !== null && !Array.isArray(base) ? `{${poison}${inner === '}' ? '}' : `,${inner}`}` : `{${poison}}`,
        };
      }
      case 'invalid_json':
        return {
          label: 'invalid_json',
          text: rng.pick([
            '{',
            '{"a":',
            'nul',
            '[1,]',
            "{'a':1}",
            '{"a":1}}',
            '\u0000',
            '   ',
            '{"a":"\\x"}',
            '\uFEFF{}',
            '{"a":1,}',
            '"unterminated',
            '{"a" 1}',
            'undefined',
            '{"a":"\ud800"}',
          ]),
        };
      case 'content_type': {
        const contentType = rng.pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=xyz',
          'application/xml',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
          'APPLICATION/JSON',
          'application/jsonx',
          'application/vnd.api+json',
          'application/json, text/plain',
          ';;;',
          'application/octet-stream',
          '',
        ]);
        return { label: `content_type`, text: contentType.includes('form-urlencoded') ? 'a=1&b=2' : json(base), contentType };
      }
      case 'top_level':
        return { label: 'top_level', text: json(rng.pick<Json>([[], [base], 'string', 42, true, [[[]]]])) };
      case 'duplicate_key': {
        const inner = json(base).slice(1);
        const dup = rng.pick(['"role":"owner"', '"tenant_id":"x"', '"items":[]', '"name":1', '"price_cents":-5']);
        return {
          label: 'duplicate_key',
          text: typeof base === 'object' && base !== null && !Array.isArray(base) && inner !== '}' ? `{${inner.slice(0, -1)},${dup}}` : `{${dup},${dup}}`,
        };
      }
      case 'many': {
        const n = rng.pick([100, 10_000]);
        const many = rng.chance(0.5)
          ? Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
          : {
              ...(typeof base === 'object' && base !== null && !Array.isArray(base) ? base : {}),
              items: Array.from({ length: n }, () => ({ product_id: world.orderable, quantity: 1 })),
            };
        return { label: `many_${n}`, text: json(many as Json) };
      }
      case 'empty':
        return rng.chance(0.5) ? { label: 'empty_body', text: '' } : { label: 'no_body' };
    }
  }

  /** A value for a path parameter, already URL-encoded as it goes into the URL. */
  pathParam(path: string, name: string, index: number): { label: string; value: string } {
    const { rng, world } = this;
    const resource = resourceOf(path);
    const mine = resource === 'products' && path.includes('{id}') ? world.ids.products.filter((id) => id !== world.orderable) : world.ids[resource];
    const variants = [
      ...(mine.length > 0
        ? [
            { label: `${name}=own`, value: rng.pick(mine) },
            { label: `${name}=own`, value: rng.pick(mine) },
          ]
        : []),
      { label: `${name}=foreign`, value: rng.pick(world.foreign[resource]) },
      { label: `${name}=random_uuid`, value: rng.uuid() },
      { label: `${name}=upper_uuid`, value: (mine[0] ?? rng.uuid()).toUpperCase() },
      { label: `${name}=nil_uuid`, value: '00000000-0000-0000-0000-000000000000' },
      { label: `${name}=max_uuid`, value: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
      { label: `${name}=urn_uuid`, value: `urn:uuid:${rng.uuid()}` },
      { label: `${name}=braced_uuid`, value: encodeURIComponent(`{${rng.uuid()}}`) },
      { label: `${name}=not_uuid`, value: 'not-a-uuid' },
      { label: `${name}=number`, value: String(rng.int(-5, 99999)) },
      { label: `${name}=long`, value: 'a'.repeat(rng.pick([199, 201, 1_000, 10_000])) },
      { label: `${name}=sql`, value: encodeURIComponent(`${rng.uuid()}' OR '1'='1`) },
      { label: `${name}=nul`, value: `${rng.uuid()}%00` },
      { label: `${name}=bad_percent`, value: rng.pick(['%', '%E0%A4%A', '%zz', '%C0%AF']) },
      { label: `${name}=traversal`, value: '..%2F..%2Fetc%2Fpasswd' },
      { label: `${name}=emoji`, value: encodeURIComponent('😀') },
      { label: `${name}=proto`, value: '__proto__' },
    ];
    return variants[index % variants.length]!;
  }

  /** A query string (without '?'), from the declared query parameters and some extras. */
  query(op: Op): { label: string; text: string } {
    const { rng, world } = this;
    const parts: string[] = [];
    const labels: string[] = [];
    for (const p of op.op.parameters?.filter((q) => q.in === 'query') ?? []) {
      const roll = rng.next();
      if (roll < 0.55) parts.push(`${p.name}=${encodeURIComponent(String(this.valid(p.schema, p.name)))}`);
      else if (roll < 0.85) {
        labels.push(`bad_${p.name}`);
        const bad =
          p.name === 'limit'
            ? rng.pick(['0', '-1', '101', '1.5', 'abc', '', '1e2', '0x10', '%20', '9'.repeat(30), 'Infinity', 'NaN', 'null', 'true', '%00'])
            : rng.pick(['abc', '', `urn:uuid:${rng.uuid()}`, rng.pick(world.foreign.all), 'a'.repeat(300), rng.uuid().toUpperCase(), '%00', '%E0%A4%A']);
        parts.push(`${p.name}=${bad}`);
        if (rng.chance(0.15)) parts.push(`${p.name}=${bad}`); // the parameter twice
      }
    }
    const extras = op.op.parameters?.some((q) => q.in === 'query') ? 0.2 : 0.15;
    if (rng.chance(extras)) {
      labels.push('extra_query');
      parts.push(
        rng.pick([
          'foo=bar',
          '__proto__[role]=owner',
          '__proto__=x',
          'constructor[prototype][role]=owner',
          'limit[]=1',
          `tenant_id=${world.B.tenantId}`,
          `x=${'y'.repeat(5000)}`,
          '%',
          '%zz=1',
          '&&',
          '=',
          'a=%00',
          'a=%E0%A4%A',
        ]),
      );
    }
    return { label: labels.join(',') || 'query_ok', text: parts.join('&') };
  }

  authorization(op: Op): { label: string; header?: string; asTenantA: boolean } {
    const { rng, world } = this;
    const secured = (op.op.security?.length ?? 0) > 0;
    const roll = rng.next();
    if (secured && roll < 0.55) return { label: 'owner', header: `Bearer ${world.A.token}`, asTenantA: true };
    if (secured && roll < 0.65) return { label: 'member', header: `Bearer ${world.memberToken}`, asTenantA: true };
    if (secured && roll < 0.72) return { label: 'admin', header: `Bearer ${world.adminToken}`, asTenantA: true };
    if (secured && roll < 0.75) return { label: 'lowercase_bearer', header: `bearer ${world.A.token}`, asTenantA: true };
    if (!secured && roll < 0.75) return { label: 'no_auth', asTenantA: false };
    const [header, payload] = world.A.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    const choice = rng.pick([
      { label: 'none', header: undefined },
      { label: 'empty', header: '' },
      { label: 'bearer_only', header: 'Bearer' },
      { label: 'bearer_space', header: 'Bearer ' },
      { label: 'basic', header: 'Basic dXNlcjpwYXNz' },
      { label: 'garbage', header: `Bearer ${rng.word(1, 80)}` },
      { label: 'three_dots', header: 'Bearer a.b.c' },
      { label: 'alg_none', header: `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.` },
      { label: 'alg_none_signed', header: `Bearer ${signToken(claims, TEST_JWT_SECRET, { alg: 'none' })}` },
      { label: 'other_key', header: `Bearer ${signToken({ ...claims }, 'another-secret-another-secret-1234')}` },
      {
        label: 'edited_claims',
        header: `Bearer ${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'owner', tenant_id: world.B.tenantId })).toString('base64url')}.${world.A.token.split('.')[2]}`,
      },
      { label: 'expired', header: `Bearer ${signToken({ ...claims, iat: now - 7200, exp: now - 3600 }, TEST_JWT_SECRET)}` },
      { label: 'bad_claims', header: `Bearer ${signToken({ tenant_id: 'x', user_id: 1, role: 'god', exp: now + 60 }, TEST_JWT_SECRET)}` },
      { label: 'too_long', header: `Bearer ${'a'.repeat(5000)}` },
      { label: 'two_tokens', header: `Bearer ${world.A.token} Bearer ${world.A.token}` },
      { label: 'token_no_scheme', header: world.A.token },
      { label: 'json_junk', header: `Bearer ${Buffer.from('{"a":').toString('base64url')}.${Buffer.from('[').toString('base64url')}.x` },
    ]);
    return { ...choice, asTenantA: false };
  }

  requestId(): string | undefined {
    const { rng } = this;
    if (!rng.chance(0.3)) return undefined;
    return rng.pick(['fz-' + rng.hex(12), 'a'.repeat(128), 'a'.repeat(129), 'has space', '<script>', '../../etc', 'ok:id.with-dots_1', '"quoted"']);
  }

  /** One request for an operation; `first` is the fully valid one every operation starts with. */
  make(op: Op, index: number): FuzzCase {
    const first = index === 0;
    const { world } = this;
    let url = op.path;
    const labels: string[] = [];
    for (const p of op.op.parameters?.filter((q) => q.in === 'path') ?? []) {
      const value = first
        ? { label: 'own', value: world.ids[resourceOf(op.path)].find((id) => id !== world.orderable) ?? world.orderable }
        : this.pathParam(op.path, p.name, index * 7);
      url = url.replace(`{${p.name}}`, value.value);
      if (!first) labels.push(value.label);
    }
    if (!first) {
      const q = this.query(op);
      if (q.text) url += `?${q.text}`;
      if (q.label !== 'query_ok') labels.push(q.label);
    }
    const auth = first
      ? { label: 'owner', header: (op.op.security?.length ?? 0) > 0 ? `Bearer ${world.A.token}` : undefined, asTenantA: true }
      : this.authorization(op);
    labels.push(`auth=${auth.label}`);
    const headers: Record<string, string> = {};
    if (auth.header !== undefined) headers.authorization = auth.header;
    for (const p of op.op.parameters?.filter((q) => q.in === 'header') ?? []) {
      const roll = this.rng.next();
      if (first || roll < 0.7) headers[p.name] = String(this.valid(p.schema, p.name));
      else if (roll < 0.85) labels.push(`no_${p.name}`);
      else {
        const bad = this.rng.pick(['', ' ', 'x'.repeat(256), 'spaces inside', 'tab\there', 'é', '\u00ff'.repeat(3)]);
        headers[p.name] = bad;
        labels.push(`bad_${p.name}`);
      }
    }
    let payload: string | undefined;
    if (op.body) {
      const body = first ? { label: 'valid', text: JSON.stringify(this.knownGood(op, true) ?? this.valid(op.body, 'body')) } : this.body(op, index - 1);
      labels.push(body.label);
      payload = body.text;
      if (payload !== undefined) headers['content-type'] = 'contentType' in body && body.contentType !== undefined ? body.contentType : 'application/json';
      if ('contentType' in body && body.contentType === '') delete headers['content-type'];
    } else if (!first && this.rng.chance(0.1)) {
      payload = JSON.stringify({ unexpected: 'body' });
      headers['content-type'] = 'application/json';
      labels.push('body_on_get');
    }
    const requestId = first ? undefined : this.requestId();
    if (requestId !== undefined) headers['x-request-id'] = requestId;
    return { route: op.key, label: labels.join(' '), method: op.method as Method, url, headers, payload, asTenantA: auth.asTenantA, requestId };
  }
}

// ---------------------------------------------------------------------------------------

/** What is wrong with one answer, if anything. */
function problems(c: FuzzCase, res: LightMyRequestResponse, world: World): string[] {
  const out: string[] = [];
  const requestId = res.headers['x-request-id'];
  if (res.statusCode >= 500) out.push(`status ${res.statusCode}`);
  if (typeof requestId !== 'string' || requestId.length === 0) out.push('no x-request-id header');
  if (c.requestId !== undefined && typeof requestId === 'string') {
    const safe = SAFE_ID.test(c.requestId);
    if (safe && requestId !== c.requestId) out.push(`safe x-request-id ${JSON.stringify(c.requestId)} not echoed`);
    if (!safe && requestId === c.requestId) out.push(`unsafe x-request-id ${JSON.stringify(c.requestId)} echoed`);
  }
  if (res.statusCode >= 400 && c.method !== 'HEAD') {
    if (!String(res.headers['content-type']).startsWith('application/json')) out.push(`content-type ${String(res.headers['content-type'])}`);
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      out.push('body is not JSON');
    }
    if (body) {
      if (typeof body.error !== 'string' || !SNAKE_CASE.test(body.error)) out.push(`error ${JSON.stringify(body.error)} is not a snake_case string`);
      if (typeof body.message !== 'string' || body.message.length === 0) out.push('message is not a string');
      if (body.request_id !== requestId) out.push(`request_id ${JSON.stringify(body.request_id)} != x-request-id ${String(requestId)}`);
      const extra = Object.keys(body).filter((k) => !['error', 'message', 'request_id', 'details'].includes(k));
      if (extra.length > 0) out.push(`unexpected keys ${extra.join(',')}`);
      if ('details' in body && !Array.isArray(body.details)) out.push('details is not an array');
      if (res.statusCode >= 500 && (body.error !== 'internal_server_error' || body.message !== 'Internal server error'))
        out.push('500 body differs from the CONTRACT');
    }
    if (res.statusCode === 429 && !res.headers['retry-after']) out.push('429 without Retry-After');
  }
  if (/node_modules|\n\s+at .+:\d+:\d+|\bat async\b/.test(res.body) || res.body.includes(TEST_JWT_SECRET)) out.push('body leaks a stack or a secret');
  if (c.asTenantA) {
    const leaked = world.foreign.all.filter((id) => res.body.includes(id) && !c.url.includes(id) && !(c.payload ?? '').includes(id));
    if (leaked.length > 0) out.push(`answer to tenant A mentions tenant B's ${leaked.join(',')}`);
  }
  return out;
}

describe(`OpenAPI-driven fuzzing (${backend})`, () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20260115);
  let t: TestApp;
  let doc: OpenApi;
  let ops: Op[];
  let world: World;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.app.inject({ url: '/docs/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
    ops = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/') || path.startsWith('/health/'))
      .flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([m]) => HTTP_METHODS.has(m))
          .map(([method, op]) => ({
            key: `${method.toUpperCase()} ${path}`,
            method: method.toUpperCase(),
            path,
            op,
            body: resolveRef(doc, op.requestBody?.content?.['application/json']?.schema),
          })),
      );

    const tag = randomUUID().slice(0, 6);
    const A = await signup(t.app, { slug: `fz-${tag}-a` });
    const B = await signup(t.app, { slug: `fz-${tag}-b` });
    const admin = await createUser(t.app, A, 'admin');
    const member = await createUser(t.app, A, 'member');
    const orderable = await createProduct(t.app, A.token, { stock: 1_000_000, price_cents: 100 });
    const other = await createProduct(t.app, A.token, { stock: 100 });
    const order = await placeOrder(t.app, A.token, [{ product_id: orderable.id, quantity: 1 }]);
    const bMember = await createUser(t.app, B, 'member');
    const bProduct = await createProduct(t.app, B.token);
    const bOrder = await placeOrder(t.app, B.token, [{ product_id: bProduct.id, quantity: 1 }]);
    expect([order.statusCode, bOrder.statusCode]).toEqual([201, 201]);
    const foreign = { users: [B.userId, bMember.id], products: [bProduct.id], orders: [bOrder.json().id as string] };
    world = {
      tag,
      A,
      B,
      adminToken: admin.token,
      memberToken: member.token,
      ids: { users: [A.userId, admin.id, member.id], products: [orderable.id, other.id], orders: [order.json().id as string] },
      orderable: orderable.id,
      foreign: { ...foreign, all: [B.tenantId, ...foreign.users, ...foreign.products, ...foreign.orders] },
      idempotencyKeys: [`fz-${tag}-shared-1`, `fz-${tag}-shared-2`],
    };
  });
  afterAll(async () => t?.close());

  it('covers every /api and /health operation of the description', () => {
    const keys = ops.map((o) => o.key);
    expect(keys).toEqual(
      expect.arrayContaining(['POST /api/tenants', 'POST /api/auth/login', 'POST /api/orders', 'PATCH /api/products/{id}', 'GET /health/live']),
    );
    expect(ops.length).toBeGreaterThanOrEqual(16);
  });

  it('answers every generated request below 500 with the CONTRACT error body', { timeout: 55_000 }, async () => {
    const rng = new Rng(seed);
    const fuzzer = new Fuzzer(rng, doc, world);
    const perApiOp = Number(process.env.FUZZ_PER_OP ?? 28);
    const cases: FuzzCase[] = [];
    for (const op of ops) {
      // Signup, login and user creation run scrypt (~100 ms) on every valid body: fewer of those.
      const n = op.path.startsWith('/health/') ? 6 : SCRYPT_BOUND.has(op.key) ? Math.ceil(perApiOp * 0.6) : perApiOp;
      for (let i = 0; i < n; i++) cases.push(fuzzer.make(op, i));
      // Methods the description does not list for this path.
      const listed = new Set(Object.keys(doc.paths[op.path] ?? {}).map((m) => m.toUpperCase()));
      const others = (['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const).filter((m) => !listed.has(m));
      if (others.length > 0) {
        const method = rng.pick(others);
        cases.push({
          route: `${op.key} (as ${method})`,
          label: 'unlisted_method',
          method,
          url: op.path.replace(/\{[^}]+\}/g, world.orderable),
          headers: { authorization: `Bearer ${world.A.token}` },
          asTenantA: true,
        });
      }
    }

    const counts = new Map<string, Map<number, number>>();
    const elapsed = new Map<string, number>();
    const failures: string[] = [];
    const run = async (c: FuzzCase) => {
      let res: LightMyRequestResponse;
      const t0 = performance.now();
      try {
        res = await t.app.inject({ method: c.method, url: c.url, headers: c.headers, ...(c.payload !== undefined ? { payload: c.payload } : {}) });
      } catch (error) {
        failures.push(`${c.method} ${c.url.slice(0, 120)} [${c.label}] → inject threw ${(error as Error).message}`);
        return;
      }
      elapsed.set(c.route, (elapsed.get(c.route) ?? 0) + performance.now() - t0);
      const route = counts.get(c.route) ?? new Map<number, number>();
      route.set(res.statusCode, (route.get(res.statusCode) ?? 0) + 1);
      counts.set(c.route, route);
      const found = problems(c, res, world);
      if (found.length > 0) {
        failures.push(`${c.method} ${c.url.slice(0, 120)} [${c.label}] → ${res.statusCode} ${res.body.slice(0, 200)}: ${found.join('; ')}`);
      }
      if (res.statusCode === 201 && c.asTenantA) {
        const id = (JSON.parse(res.body) as { id?: string }).id;
        if (id && c.route === 'POST /api/products') world.ids.products.push(id);
        if (id && c.route === 'POST /api/users') world.ids.users.push(id);
        if (id && c.route === 'POST /api/orders') world.ids.orders.push(id);
      }
    };

    const started = Date.now();
    for (const c of cases) await run(c);
    // A burst at once: the pool (and the embedded backend's one-at-a-time queue) must keep up.
    const burst = Array.from({ length: 40 }, () => fuzzer.make(rng.pick(ops), rng.int(1, 1000)));
    await Promise.all(burst.map(run));
    const total = cases.length + burst.length;

    const summary = [...counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([route, statuses]) =>
          `  ${route.padEnd(38)} ${String(Math.round(elapsed.get(route) ?? 0)).padStart(6)} ms  ${[...statuses.entries()]
            .sort(([a], [b]) => a - b)
            .map(([s, n]) => `${s}×${n}`)
            .join(' ')}`,
      );
    console.log(`fuzz (${backend}, seed ${seed}): ${total} requests in ${Date.now() - started} ms, ${failures.length} failures\n${summary.join('\n')}`);
    expect(failures.slice(0, 25), `${failures.length} of ${total} answers broke the contract (seed ${seed})`).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(300);

    // The generator reached the real work: every /api operation answered 2xx at least once,
    // and the mutations met the validation layer (400), not just the auth layer.
    for (const op of ops.filter((o) => o.path.startsWith('/api/'))) {
      const statuses = [...(counts.get(op.key)?.keys() ?? [])];
      expect(
        statuses.some((s) => s >= 200 && s < 300),
        `${op.key} never succeeded: ${statuses.join(',')}`,
      ).toBe(true);
      expect(
        statuses.some((s) => s >= 400 && s < 500),
        `${op.key} never refused: ${statuses.join(',')}`,
      ).toBe(true);
    }
    const all = [...counts.values()].flatMap((m) => [...m.keys()]);
    for (const status of [400, 401, 404, 413]) expect(all, `some request got ${status}`).toContain(status);

    // Every answer an operation gave is one its description declares (the code, or its class
    // such as 4XX): a client generated from the document knows every error it can get.
    for (const op of ops) {
      const declared = new Set(Object.keys(op.op.responses ?? {}));
      const undeclared = [...(counts.get(op.key)?.keys() ?? [])].filter((code) => !declared.has(String(code)) && !declared.has(`${String(code)[0]}XX`));
      expect(undeclared, `${op.key} answered ${undeclared.join(', ')}, which its OpenAPI description does not declare`).toEqual([]);
    }
  });

  it('is still alive and serving afterwards', async () => {
    const live = await t.app.inject({ url: '/health/live' });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    const me = await t.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${world.A.token}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json().tenant.id).toBe(world.A.tenantId);
    // No connection was left checked out or stuck in a transaction.
    const stats = t.deps.db.stats();
    expect(stats.waiting).toBe(0);
    expect(stats.total - stats.idle).toBe(0);
    // Nothing got logged as a failure of ours.
    expect(t.logs.find('request_failed').map((l) => `${String(l.method)} ${String(l.path)}`)).toEqual([]);
  });
});
