// Loaded with `node --import ./src/instrument.ts` before any application module (npm start
// does this), so tracing is set up before the libraries it instruments are imported.
//
// The import-in-the-middle hook is what lets the stock ioredis instrumentation patch the
// ESM import of ioredis (without it, ioredis silently gets no spans). It is limited to the
// modules we instrument that way, so every other import stays untouched and fast.
import { register } from 'import-in-the-middle/register-hooks.mjs';
import packageJson from '../package.json' with { type: 'json' };
import { startTracing } from './observability/tracing/sdk.ts';

register({ include: ['ioredis'] });
startTracing({ serviceVersion: packageJson.version });
