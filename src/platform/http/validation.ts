// Request validation with Fastify's own Ajv compiler, in two flavours:
// - query strings, path params and headers arrive as text, so they are type-coerced
//   ("?limit=20" → 20);
// - JSON bodies are already typed, so they are NOT coerced: `{"price_cents": null}` or
//   `{"stock": true}` is a 400, not a silent 0 or 1.
// Unknown body fields are rejected rather than dropped, so a client sending tenant_id or a
// role learns at once that it cannot set them.
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

const base = { removeAdditional: false, useDefaults: true, allErrors: false } as const;

export const ajvOptions = { customOptions: { ...base, coerceTypes: 'array' as const } };

export const schemaController: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildValidator(externalSchemas, options) {
      const factory = AjvCompiler();
      const coercing = factory(externalSchemas, options);
      // (Cast: the factory's option type is a union with JTD's, which has no coerceTypes.)
      const strictOptions = { ...options, customOptions: { ...options?.customOptions, coerceTypes: false } } as Parameters<typeof factory>[1];
      const strict = factory(externalSchemas, strictOptions);
      return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
    },
  },
};
